// The operator signals end to end through the Lambda's entry point and the real adapters (only
// the SDK clients' `send` is mocked): the EMF lines Powertools Metrics writes, parsed back, and
// the SNS messages the notifier publishes.
import 'aws-sdk-client-mock-jest';
import { AutoScalingServiceException, DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { SnsNotifier } from '../../../lambda/aws/sns-notifier';
import type { ThrottleCounter } from '../../../lambda/aws/throttles';
import { METRICS } from '../../../lambda/contract';
import type { ResponseRecord } from '../../../lambda/core/model';
import type { Log } from '../../../lambda/log';
import { ResponseFailedError } from '../../../lambda/responder';
import { powertoolsMetrics, recordFigures, type MetricsSink } from '../../../lambda/response/metrics';
import { notificationFor } from '../../../lambda/response/notifications';
import { loadEvent } from '../../support/fixtures';
import { eventTimeOf, FLEET, serviceError, terminateWarning, worldFor } from '../../support/mock-aws';

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

/** Runs `act` and returns the EMF documents written to stdout meanwhile. */
async function emfDuring(act: () => Promise<unknown>): Promise<Emf[]> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await act().catch(() => undefined);
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Emf);
}

/** The value of metric `name` in the documents, with the dimensions of the document it came in. */
function metric(docs: Emf[], name: string): { value: unknown; dimensions: Record<string, unknown>; unit: string }[] {
  return docs.flatMap((doc) =>
    doc._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.filter((m) => m.Name === name).map((m) => ({
        value: doc[name],
        unit: m.Unit,
        dimensions: Object.fromEntries(directive.Dimensions.flat().map((d) => [d, doc[d]])),
      })),
    ),
  );
}

function sink(throttles?: ThrottleCounter): MetricsSink {
  return powertoolsMetrics({ metrics: new Metrics({ namespace: METRICS.namespace, serviceName: 'spot-responder' }), ...(throttles ? { throttles } : {}) });
}

const fixedThrottles = (counts: Record<string, number>): ThrottleCounter => ({ take: () => new Map(Object.entries(counts)) });

const errors: unknown[] = [];
const recordingLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message, attributes) => errors.push({ message, ...attributes }),
  child: () => recordingLog,
};

beforeEach(() => {
  errors.length = 0;
});

describe('metrics of a handled warning', () => {
  it('emits Responses by signal and outcome, and the figures of the record, in the namespace with service', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event, 5_000);
    let record: ResponseRecord | undefined;

    // Act
    const docs = await emfDuring(async () => {
      record = await aws.handler({ metrics: sink(fixedThrottles({ ELBv2: 2, EC2: 1 })) })(event);
    });

    // Assess
    expect(docs.every((d) => d._aws.CloudWatchMetrics[0]?.Namespace === METRICS.namespace)).toBe(true);
    expect(metric(docs, 'Responses')).toEqual([
      {
        value: 1,
        unit: 'Count',
        dimensions: { service: 'spot-responder', signal: 'spot-interruption-warning', outcome: 'handled' },
      },
    ]);
    expect(metric(docs, 'Skips')).toEqual([]);
    const trafficStopped = record!.timeline!.find((t) => t.event === 'traffic-stopped')!;
    expect(metric(docs, 'TimeToTrafficStopped')).toEqual([
      { value: Date.parse(trafficStopped.at) - eventTimeOf(event), unit: 'Milliseconds', dimensions: { service: 'spot-responder' } },
    ]);
    expect(metric(docs, 'TimeLeftAtFinish')[0]).toMatchObject({ value: record!.msLeftAtFinish, unit: 'Milliseconds' });
    expect(metric(docs, 'Throttles')[0]).toMatchObject({ value: 3, unit: 'Count' });
    const figures = docs.find((d) => 'Throttles' in d)!;
    expect(figures).toMatchObject({ eventId: event.id, instanceId: FLEET.instanceId });
    expect(JSON.parse(String(figures.throttlesByService))).toEqual({ ELBv2: 2, EC2: 1 });
    expect(metric(docs, 'IndexAgeAtResponse')[0]).toMatchObject({ unit: 'Seconds' });
  });

  it('a skip adds Skips by kind; a too-late warning has no time-left figure (it did nothing)', async () => {
    // Prepare: the warning arrives three minutes after its time.
    const event = terminateWarning();
    const aws = worldFor(event, 180_000);

    // Act
    const docs = await emfDuring(() => aws.handler({ metrics: sink() })(event));

    // Assess
    expect(metric(docs, 'Responses')[0]?.dimensions).toMatchObject({ outcome: 'skipped' });
    expect(metric(docs, 'Skips')).toEqual([
      { value: 1, unit: 'Count', dimensions: { service: 'spot-responder', skipKind: 'too-late' } },
    ]);
    expect(metric(docs, 'TimeLeftAtFinish')).toEqual([]);
  });

  it('a rejected event counts as signal unidentified', async () => {
    // Prepare
    const aws = worldFor(terminateWarning());

    // Act
    const docs = await emfDuring(() => aws.handler({ metrics: sink() })({ hello: 'world' }));

    // Assess
    expect(metric(docs, 'Responses')[0]?.dimensions).toEqual({ service: 'spot-responder', signal: 'unidentified', outcome: 'rejected' });
  });

  it('a failed response is counted (and notified) before the error is rethrown for Lambda to retry', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DetachInstancesCommand).rejects(serviceError(AutoScalingServiceException, 'AccessDenied', 403, 'no'));
    const notified: unknown[] = [];
    let thrown: unknown;

    // Act
    const docs = await emfDuring(async () => {
      try {
        await aws.handler({ metrics: sink(), notifier: { notify: async (m) => void notified.push(m) } })(event);
      } catch (err) {
        thrown = err;
      }
    });

    // Assess
    expect(thrown).toBeInstanceOf(ResponseFailedError);
    expect(metric(docs, 'Responses')[0]?.dimensions).toMatchObject({ outcome: 'failed' });
    expect(notified).toEqual([expect.objectContaining({ notification: expect.objectContaining({ outcome: 'failed' }) })]);
  });

  it('a sink that cannot emit never fails the response', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const broken = new Metrics({ namespace: METRICS.namespace, serviceName: 'spot-responder' });
    jest.spyOn(broken, 'publishStoredMetrics').mockImplementation(() => {
      throw new Error('stdout closed');
    });
    const onError = jest.fn();

    // Act
    const record = await aws.handler({ metrics: powertoolsMetrics({ metrics: broken, onError }) })(event);

    // Assess
    expect(record.outcome).toBe('handled');
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'stdout closed' }));
  });
});

describe('metrics of the index refresher', () => {
  it('IndexRefreshes 1 and IndexAge in seconds from the scan start to the write', async () => {
    // Act
    const docs = await emfDuring(async () =>
      sink(fixedThrottles({ ELBv2: 4 })).indexRefreshed({ snapshotAt: '2026-01-01T00:00:00.000Z', completedAt: Date.parse('2026-01-01T00:00:42.500Z') }),
    );

    // Assess
    expect(metric(docs, 'IndexRefreshes')).toEqual([{ value: 1, unit: 'Count', dimensions: { service: 'spot-responder' } }]);
    expect(metric(docs, 'IndexAge')[0]).toMatchObject({ value: 42.5, unit: 'Seconds' });
    expect(metric(docs, 'Throttles')[0]).toMatchObject({ value: 4 });
  });
});

describe('metrics of input refused for its source (issue 9.9)', () => {
  it('RejectedDeliveries 1 with the service dimension, the source as metadata, besides Responses rejected', async () => {
    // Prepare: the guard on, a direct invocation
    const event = terminateWarning();
    const aws = worldFor(event, 5_000);

    // Act
    const docs = await emfDuring(async () => {
      await aws.handler({ metrics: sink() }, { queueArns: ['arn:aws:sqs:us-east-1:123456789012:warnings'] })(event);
    });

    // Assess
    expect(metric(docs, 'RejectedDeliveries')).toEqual([{ value: 1, unit: 'Count', dimensions: { service: 'spot-responder' } }]);
    expect(docs.find((d) => 'RejectedDeliveries' in d)).toMatchObject({ source: 'a direct invocation' });
    expect(metric(docs, 'Responses')).toEqual([
      { value: 1, unit: 'Count', dimensions: { service: 'spot-responder', signal: 'unidentified', outcome: 'rejected' } },
    ]);
  });
});

describe('recordFigures', () => {
  const base = (changes: Partial<ResponseRecord>): ResponseRecord => ({
    eventId: 'e',
    eventTime: '2026-01-01T00:00:00.000Z',
    detailType: 'EC2 Instance State-change Notification',
    instanceId: 'i-0123456789abcdef0',
    instanceAction: null,
    account: '111111111111',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: null,
    msLeftAtFinish: null,
    receivedAt: '2026-01-01T00:00:01.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    ...changes,
  });

  it('a state change that measured the notice gives NoticeLength and nothing of a response', () => {
    expect(recordFigures(base({ noticeMs: 118_000 }))).toEqual({
      signal: 'instance-state-change',
      outcome: 'handled',
      noticeLengthMs: 118_000,
    });
  });

  it('a warning with a replacement gives the replacement lag; a duplicate gives no index age', () => {
    const warning = base({
      detailType: 'EC2 Spot Instance Interruption Warning',
      replacement: { instanceId: 'i-0fedcba9876543210', seenAt: '2026-01-01T00:00:09.000Z', msFromSignal: 9_000 },
      indexRefreshedAt: '2025-12-31T23:58:01.000Z',
    });
    expect(recordFigures(warning)).toMatchObject({ replacementLagMs: 9_000, indexAgeAtResponseS: 120 });
    expect(recordFigures({ ...warning, outcome: 'duplicate' }).indexAgeAtResponseS).toBeUndefined();
  });
});

describe('notifications', () => {
  it('one per handled interruption: instance, group, outcome, time to traffic stopped, reason', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const topicArn = 'arn:aws:sns:eu-west-1:111111111111:spot-notes';

    // Act
    const record = await aws.handler({ notifier: new SnsNotifier(new SNSClient({ region: 'eu-west-1' }), topicArn) })(event);

    // Assess
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      TopicArn: topicArn,
      MessageStructure: 'json',
      Subject: `spot-responder: handled ${FLEET.instanceId} (${FLEET.groupName})`,
      MessageAttributes: {
        outcome: { DataType: 'String', StringValue: 'handled' },
        instanceId: { DataType: 'String', StringValue: FLEET.instanceId },
        autoScalingGroup: { DataType: 'String', StringValue: FLEET.groupName },
      },
    });
    const bodies = JSON.parse(input.Message!) as Record<string, string>;
    const json = JSON.parse(bodies.default!);
    expect(json).toMatchObject({
      kind: 'spot-responder.notification',
      outcome: 'handled',
      eventId: event.id,
      instanceId: FLEET.instanceId,
      autoScalingGroup: FLEET.groupName,
      detached: true,
      timeToTrafficStoppedMs: recordFigures(record).timeToTrafficStoppedMs,
    });
    expect(typeof json.timeToTrafficStoppedMs).toBe('number');
    expect(bodies.email).toContain(`Auto Scaling group: ${FLEET.groupName}`);
    expect(bodies.email).toMatch(/Traffic stopped: \d+ ms after the signal/);
    sns.restore();
  });

  it('none for a duplicate, a skip or a state change', async () => {
    // Prepare
    const event = terminateWarning();
    const notify = jest.fn();
    const late = worldFor(event, 180_000);
    const change = worldFor(loadEvent('instance-state-change/running.json'));

    // Act
    await late.handler({ notifier: { notify } })(event);
    await change.handler({ notifier: { notify } })(loadEvent('instance-state-change/running.json'));

    // Assess
    expect(notify).not.toHaveBeenCalled();
    expect(notificationFor({ ...(await worldFor(event).handler()(event)), outcome: 'duplicate' })).toBeNull();
  });

  it('a publish that fails is logged and does not change the response', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AuthorizationErrorException' }));

    // Act
    const record = await aws.handler({
      log: recordingLog,
      notifier: new SnsNotifier(new SNSClient({ region: 'eu-west-1' }), 'arn:aws:sns:eu-west-1:111111111111:t'),
    })(event);

    // Assess
    expect(record.outcome).toBe('handled');
    expect(errors).toEqual([
      expect.objectContaining({ message: 'notification not sent', eventId: event.id, error: expect.objectContaining({ name: 'AuthorizationErrorException' }) }),
    ]);
    sns.restore();
  });

  it('subjects stay ASCII and within 100 characters', () => {
    const long = 'g'.repeat(200);
    const message = notificationFor({
      ...recordFor('handled'),
      autoScalingGroup: `é-${long}`,
    })!;
    expect(message.subject.length).toBeLessThanOrEqual(100);
    expect(message.subject).toMatch(/^[\x20-\x7e]+$/);
  });
});

function recordFor(outcome: ResponseRecord['outcome']): ResponseRecord {
  return {
    eventId: 'e',
    eventTime: '2026-01-01T00:00:00.000Z',
    detailType: 'EC2 Spot Instance Interruption Warning',
    instanceId: 'i-0123456789abcdef0',
    instanceAction: 'terminate',
    account: '111111111111',
    region: 'eu-west-1',
    outcome,
    autoScalingGroup: 'web',
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: null,
    msLeftAtFinish: null,
    receivedAt: '2026-01-01T00:00:01.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
  };
}
