import 'aws-sdk-client-mock-jest';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { ConfigError } from '../../../lambda/config';
import type { IndexedTarget } from '../../../lambda/core/model';
import type { TargetIndexWriter } from '../../../lambda/core/ports';
import { handler, makeIndexRefresher } from '../../../lambda/index-refresher';
import { silentLog, type Log } from '../../../lambda/log';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef';
const START = Date.parse('2024-05-01T12:00:00.000Z');

function recordingLog() {
  const info = jest.fn();
  const error = jest.fn();
  const log: Log = { ...silentLog, info, error };
  return { log, info, error };
}

function refresherWith(index: TargetIndexWriter, log: Log) {
  let t = START;
  return makeIndexRefresher({
    elbv2: new ElasticLoadBalancingV2Client({}),
    ec2: new EC2Client({}),
    index,
    // High enough that the limiter's real sleep is never reached in a test this small.
    callsPerSecond: 1_000_000,
    log,
    now: () => (t += 250) - 250,
  });
}

describe('makeIndexRefresher', () => {
  beforeEach(() => elbMock.reset());

  it('scans, writes the snapshot stamped with the start time, and logs one summary', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG, TargetType: 'instance' }] });
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [{ Target: { Id: 'i-a', Port: 80 }, TargetHealth: { State: 'healthy' } }],
    });
    const writeSnapshot = jest.fn(async (_: Map<string, IndexedTarget[]>, __: string) => undefined);
    const { log, info } = recordingLog();

    // Act
    const summary = await refresherWith({ writeSnapshot }, log)();

    // Assess
    expect(writeSnapshot).toHaveBeenCalledWith(
      new Map([['i-a', [{ targetGroupArn: TG, targetId: 'i-a', targetType: 'instance', port: 80 }]]]),
      '2024-05-01T12:00:00.000Z',
    );
    expect(summary).toMatchObject({ snapshotAt: '2024-05-01T12:00:00.000Z', durationMs: 250, instances: 1, instanceTargets: 1 });
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith('target index refreshed', summary);
  });

  it('logs and rethrows when the scan fails, writing nothing', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const writeSnapshot = jest.fn(async () => undefined);
    const { log, error } = recordingLog();

    // Act / Assess
    await expect(refresherWith({ writeSnapshot }, log)()).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(writeSnapshot).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledWith(
      'target index refresh failed',
      expect.objectContaining({ error: { name: 'AccessDenied', message: 'denied', retryable: false } }),
    );
  });

  it('rethrows when the snapshot write fails', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [] });
    const writeSnapshot = jest.fn(async () => {
      throw Object.assign(new Error('unprocessed'), { name: 'IndexWriteError' });
    });
    const { log } = recordingLog();

    // Act / Assess
    await expect(refresherWith({ writeSnapshot }, log)()).rejects.toMatchObject({ name: 'IndexWriteError' });
  });
});

describe('handler', () => {
  it('fails its first invocation when the environment is incomplete', async () => {
    // Prepare
    const saved = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;

    // Act / Assess
    try {
      await expect(handler()).rejects.toBeInstanceOf(ConfigError);
    } finally {
      if (saved !== undefined) process.env.TABLE_NAME = saved;
    }
  });
});
