import 'aws-sdk-client-mock-jest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type TargetHealthStateEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoEventStore } from '../../../lambda/aws/store/event-store';
import { ConfigError } from '../../../lambda/config';
import type { IndexedTarget } from '../../../lambda/core/model';
import type { AssignedReplacement } from '../../../lambda/core/ports';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLifecycleHooksCommand } from '@aws-sdk/client-auto-scaling';
import { makeIndexRefresher, type IndexBuildPort, type IndexRefresherDeps } from '../../../lambda/index-refresher';
import { handler } from '../../../lambda/index-refresher-handler';
import { silentLog, type Log } from '../../../lambda/log';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const ddbMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'spot-responder';
const tgArn = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/0123456789abcdef`;
const TG = tgArn('web');
const START = Date.parse('2024-05-01T12:00:00.000Z');
const SNAPSHOT_AT = '2024-05-01T12:00:00.000Z';

function recordingLog() {
  const info = jest.fn();
  const error = jest.fn();
  const log: Log = { ...silentLog, info, error };
  return { log, info, error };
}

/** A store that knows no pointers and no waits: the refreshes that are not about verification. */
const noPointers: IndexRefresherDeps['store'] = {
  instancePointers: async () => new Map(),
  appendTimeline: async () => null,
  groupsAwaitingReplacement: async () => new Set(),
  unknownMembers: async () => [],
  assignReplacement: async () => null,
};

const asMock = mockClient(AutoScalingClient);

type SnapshotWriter = (byInstance: Map<string, IndexedTarget[]>, snapshotAt: string) => Promise<void>;

/**
 * An in-memory index: the lease, the checkpoint and the parts. `writeSnapshot` sees each part's
 * registrations (as the scan found them), `index.meta` the completed snapshot.
 */
function fakeIndex(writeSnapshot: SnapshotWriter, opts: { leaseHeldBy?: string } = {}) {
  const state: { checkpoint?: { snapshotAt: string; state: unknown; updatedAt: string }; completed: string[]; lease?: string; parts: Map<string, { group?: unknown }>[] } = {
    completed: [],
    parts: [],
    ...(opts.leaseHeldBy ? { lease: opts.leaseHeldBy } : {}),
  };
  const index: IndexBuildPort = {
    writePart: async (entries, snapshotAt) => {
      state.parts.push(entries);
      await writeSnapshot(new Map([...entries].map(([id, e]) => [id, e.targets])), snapshotAt);
    },
    completeSnapshot: async (snapshotAt) => {
      state.completed.push(snapshotAt);
    },
    readCheckpoint: async <T,>() => state.checkpoint as { snapshotAt: string; state: T; updatedAt: string } | undefined,
    writeCheckpoint: async (snapshotAt, value) => {
      state.checkpoint = { snapshotAt, state: JSON.parse(JSON.stringify(value)), updatedAt: 'now' };
    },
    clearCheckpoint: async () => {
      delete state.checkpoint;
    },
    acquireLease: async (owner) => {
      if (state.lease && state.lease !== owner) return { acquired: false, holder: state.lease, leaseUntil: 'later' };
      state.lease = owner;
      return { acquired: true };
    },
    releaseLease: async (owner) => {
      if (state.lease === owner) delete state.lease;
    },
  };
  return { index, state };
}

function refresherWith(index: IndexBuildPort | { writeSnapshot: SnapshotWriter }, log: Log, store: IndexRefresherDeps['store'] = noPointers) {
  let t = START;
  return makeIndexRefresher({
    elbv2: new ElasticLoadBalancingV2Client({}),
    ec2: new EC2Client({}),
    autoScaling: new AutoScalingClient({}),
    index: 'writePart' in index ? index : fakeIndex(index.writeSnapshot).index,
    store,
    // High enough that the limiter's real sleep is never reached in a test this small.
    callsPerSecond: 1_000_000,
    log,
    now: () => (t += 250) - 250,
  });
}

describe('makeIndexRefresher', () => {
  beforeEach(() => {
    elbMock.reset();
    asMock.reset();
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
  });

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
      new Map([['i-a', [{ targetGroupArn: TG, targetId: 'i-a', targetType: 'instance', port: 80, state: 'healthy' }]]]),
      '2024-05-01T12:00:00.000Z',
    );
    expect(summary).toMatchObject({
      outcome: 'complete',
      snapshotAt: '2024-05-01T12:00:00.000Z',
      parts: 1,
      resumed: false,
      instances: 1,
      instanceTargets: 1,
      replacementsVerified: 0,
      verificationErrors: 0,
    });
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

describe('makeIndexRefresher, single-flight and resumable', () => {
  const group = (name: string) => ({ TargetGroupArn: tgArn(name), TargetType: 'instance' as const });

  beforeEach(() => {
    elbMock.reset();
    asMock.reset();
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('a'), group('b'), group('c')] });
    elbMock.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string }) => ({
      TargetHealthDescriptions: [{ Target: { Id: `i-${input.TargetGroupArn.split('/')[1]}` }, TargetHealth: { State: 'healthy' } }],
    }));
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'web-asg',
          Instances: [{ InstanceId: 'i-a' } as never, { InstanceId: 'i-z' } as never],
          TargetGroupARNs: [tgArn('a')],
          TrafficSources: [{ Identifier: tgArn('b'), Type: 'elbv2' }],
          CapacityRebalance: true,
          DesiredCapacity: 2,
          SuspendedProcesses: [{ ProcessName: 'AddToLoadBalancer' }],
          Tags: [{ Key: 'team', Value: 'web' }],
        } as never,
        // No instance: nobody to warn about, so no DescribeLifecycleHooks for it.
        { AutoScalingGroupName: 'empty-asg', Instances: [] } as never,
      ],
    });
    asMock.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
        { LifecycleHookName: 'boot', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
      ],
    });
  });

  it('exits at once, and says so, while another refresh holds the lease', async () => {
    // Prepare
    const { index, state } = fakeIndex(async () => undefined, { leaseHeldBy: 'req-0' });
    const { log, info } = recordingLog();

    // Act
    const summary = await refresherWith(index, log)({ owner: 'req-1' });

    // Assess
    expect(summary).toMatchObject({ outcome: 'skipped', skipped: { holder: 'req-0', reason: 'another refresh holds the lease' } });
    expect(elbMock).not.toHaveReceivedCommand(DescribeTargetGroupsCommand);
    expect(state.parts).toHaveLength(0);
    expect(info).toHaveBeenCalledWith('target index refresh skipped', summary);
    expect(state.lease).toBe('req-0');
  });

  it("stores each instance's group facts beside its registrations, hooks asked only for groups with instances", async () => {
    // Prepare
    const { index, state } = fakeIndex(async () => undefined);

    // Act
    const summary = await refresherWith(index, silentLog)({ owner: 'req-1' });

    // Assess
    expect(summary).toMatchObject({ outcome: 'complete', autoScalingGroups: 1, groupInstances: 2, autoScalingCalls: 2 });
    expect(asMock).toHaveReceivedCommandTimes(DescribeLifecycleHooksCommand, 1);
    expect(asMock).toHaveReceivedCommandWith(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'web-asg' });
    const facts = {
      groupName: 'web-asg',
      targetGroupArns: [tgArn('a'), tgArn('b')],
      instanceIds: [],
      terminatingHooks: ['drain'],
      desiredCapacity: 2,
      capacityRebalance: true,
      suspendedProcesses: ['AddToLoadBalancer'],
      tags: { team: 'web' },
    };
    expect(state.parts[0]?.get('i-a')).toMatchObject({ group: facts });
    // In a group, registered nowhere: it still gets its item, for the group's facts.
    expect(state.parts[0]?.get('i-z')).toEqual({ targets: [], group: facts });
    expect(state.completed).toEqual([SNAPSHOT_AT]);
    expect(state.lease).toBeUndefined();
  });

  it('names the replacements no state change named: new members of a waiting group, stamped with the snapshot time', async () => {
    // Prepare: web-asg waits for one replacement; i-a was there before, i-z is new.
    const { index } = fakeIndex(async () => undefined);
    let calls = 0;
    const assignReplacement = jest.fn(async (_group: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null> =>
      ++calls === 1 ? { eventId: 'evt-1', entry: { event: 'replacement-launched', at: seenAt, detail: instanceId }, msFromSignal: 1 } : null,
    );
    const unknownMembers = jest.fn(async () => ['i-z']);
    const store = { ...noPointers, groupsAwaitingReplacement: async () => new Set(['web-asg', 'gone-asg']), unknownMembers, assignReplacement };
    const { log, info } = recordingLog();

    // Act
    const summary = await refresherWith(index, log, store)({ owner: 'req-1' });

    // Assess
    expect(unknownMembers).toHaveBeenCalledWith('web-asg', ['i-a', 'i-z']);
    expect(assignReplacement).toHaveBeenCalledWith('web-asg', 'i-z', SNAPSHOT_AT);
    expect(summary).toMatchObject({ outcome: 'complete', replacementsNamed: 1, verificationErrors: 0 });
    expect(info).toHaveBeenCalledWith('replacement named by the index refresh', { instanceId: 'i-z', groupName: 'web-asg', eventId: 'evt-1', at: SNAPSHOT_AT });
  });

  it("a group whose naming fails (its record busy with a retry) does not keep the other groups' replacements unnamed", async () => {
    // Prepare: api-asg (read first) and web-asg both wait; api-asg's record is being retried.
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        { AutoScalingGroupName: 'api-asg', Instances: [{ InstanceId: 'i-b' } as never] } as never,
        { AutoScalingGroupName: 'web-asg', Instances: [{ InstanceId: 'i-z' } as never] } as never,
      ],
    });
    const { index } = fakeIndex(async () => undefined);
    const assignReplacement = jest.fn(async (group: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null> => {
      if (group === 'api-asg') throw Object.assign(new Error('busy'), { name: 'ReplacementRecordBusyError' });
      return { eventId: 'evt-2', entry: { event: 'replacement-launched', at: seenAt, detail: instanceId }, msFromSignal: 1 };
    });
    const store = {
      ...noPointers,
      groupsAwaitingReplacement: async () => new Set(['api-asg', 'web-asg']),
      unknownMembers: async (_group: string, ids: readonly string[]) => [...ids],
      assignReplacement,
    };
    const { log, error } = recordingLog();

    // Act
    const summary = await refresherWith(index, log, store)({ owner: 'req-1' });

    // Assess
    expect(assignReplacement).toHaveBeenCalledWith('web-asg', 'i-z', SNAPSHOT_AT);
    expect(summary).toMatchObject({ replacementsNamed: 1, verificationErrors: 1 });
    expect(error).toHaveBeenCalledWith('naming replacements failed', expect.objectContaining({ groupName: 'api-asg' }));
  });

  it('keeps the refresh when naming replacements fails: logged and counted', async () => {
    // Prepare
    const { index, state } = fakeIndex(async () => undefined);
    const store = { ...noPointers, groupsAwaitingReplacement: async () => Promise.reject(new Error('throttled')) };
    const { log, error } = recordingLog();

    // Act
    const summary = await refresherWith(index, log, store)({ owner: 'req-1' });

    // Assess
    expect(summary).toMatchObject({ outcome: 'complete', replacementsNamed: 0, verificationErrors: 1 });
    expect(state.completed).toEqual([SNAPSHOT_AT]);
    expect(error).toHaveBeenCalledWith('naming replacements failed', expect.objectContaining({ snapshotAt: SNAPSHOT_AT }));
  });

  it('checkpoints before the deadline and completes the same snapshot on the next invocation', async () => {
    // Prepare: 60 s left at first, one target group's worth; a fifth (or 30 s) is kept for the writes.
    const { index, state } = fakeIndex(async () => undefined);
    const refresh = refresherWith(index, silentLog);
    const remaining = [60_000, 60_000, 20_000];
    const first = await refresh({ owner: 'req-1', remainingMs: () => remaining.shift() ?? 0 });

    // Act
    const second = await refresh({ owner: 'req-2', remainingMs: () => 200_000 });

    // Assess
    expect(first).toMatchObject({ outcome: 'partial', parts: 1, targetGroups: 1, snapshotAt: SNAPSHOT_AT });
    expect(second).toMatchObject({ outcome: 'complete', parts: 2, resumed: true, targetGroups: 3, snapshotAt: SNAPSHOT_AT });
    expect([...state.parts[0]!.keys()]).toEqual(['i-a']);
    expect([...state.parts[1]!.keys()].sort()).toEqual(['i-a', 'i-b', 'i-c', 'i-z']);
    expect(state.completed).toEqual([SNAPSHOT_AT]);
    expect(state.checkpoint).toBeUndefined();
    expect(elbMock).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 3);
  });
});

describe('makeIndexRefresher, verifying replacements', () => {
  const SIGNAL_TIME = '2024-05-01T11:56:40Z';
  const writeSnapshot = jest.fn(async (_: Map<string, IndexedTarget[]>, __: string) => undefined);

  beforeEach(() => {
    elbMock.reset();
    ddbMock.reset();
    asMock.reset();
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    writeSnapshot.mockClear();
    ddbMock.on(UpdateCommand).resolves({});
  });

  function store() {
    return new DynamoEventStore({
      client: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      tableName: TABLE,
      retentionDays: 90,
      sleep: async () => undefined,
      random: () => 0.5,
    });
  }

  /** Target groups by name, each with its targets' instance id and state. */
  function fleet(groups: Record<string, Array<[string, TargetHealthStateEnum]>>): void {
    elbMock.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: Object.keys(groups).map((name) => ({ TargetGroupArn: tgArn(name), TargetType: 'instance' })),
    });
    for (const [name, targets] of Object.entries(groups)) {
      elbMock.on(DescribeTargetHealthCommand, { TargetGroupArn: tgArn(name) }).resolves({
        TargetHealthDescriptions: targets.map(([Id, State]) => ({ Target: { Id, Port: 80 }, TargetHealth: { State } })),
      });
    }
  }

  function pointer(instanceId: string, role: 'interrupted' | 'replacement', extra: Record<string, unknown> = {}) {
    return { pk: `INSTANCE#${instanceId}`, eventId: `evt-${instanceId}`, role, signalTime: SIGNAL_TIME, ...extra };
  }

  /** The pointers in the table: BatchGet answers those asked for, GetItem each one. */
  function pointers(...items: Array<ReturnType<typeof pointer>>): void {
    ddbMock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Array<{ pk: string }> }> }) => {
      const asked = new Set(input.RequestItems[TABLE]?.Keys.map((k) => k.pk));
      return { Responses: { [TABLE]: items.filter((i) => asked.has(i.pk)) }, UnprocessedKeys: {} };
    });
    ddbMock.on(GetCommand).resolves({});
    for (const item of items) ddbMock.on(GetCommand, { Key: { pk: item.pk } }).resolves({ Item: item });
  }

  const askedKeys = () =>
    ddbMock.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.[TABLE]?.Keys?.map((k) => k.pk));
  const updatedKeys = () => ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key?.pk);

  it('adds replacement-healthy and msToHealthy to the record of a replacement healthy everywhere, then marks its pointer', async () => {
    // Prepare
    fleet({ web: [['i-new', 'healthy']], api: [['i-new', 'healthy']] });
    pointers(pointer('i-new', 'replacement'));
    const { log, info } = recordingLog();

    // Act
    const summary = await refresherWith({ writeSnapshot }, log, store())();

    // Assess
    expect(summary).toMatchObject({ replacementsVerified: 1, verificationErrors: 0 });
    expect(ddbMock).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: { [TABLE]: { Keys: [{ pk: 'INSTANCE#i-new' }] } },
    });
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(1, UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'EVENT#evt-i-new' },
      UpdateExpression:
        'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry), msToHealthy = if_not_exists(msToHealthy, :toHealthy)',
      ConditionExpression: 'attribute_exists(timeline)',
      ExpressionAttributeNames: { '#milestone': 'replacement-healthy' },
      // 11:56:40Z to the snapshot at 12:00:00.000Z.
      ExpressionAttributeValues: { ':entry': { at: SNAPSHOT_AT, detail: 'healthy in api, web' }, ':toHealthy': 200_000 },
    });
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(2, UpdateCommand, {
      TableName: TABLE,
      Key: { pk: 'INSTANCE#i-new' },
      UpdateExpression: 'SET healthyAt = if_not_exists(healthyAt, :at)',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':at': SNAPSHOT_AT },
    });
    expect(info).toHaveBeenCalledWith('replacement healthy', {
      instanceId: 'i-new',
      eventId: 'evt-i-new',
      at: SNAPSHOT_AT,
      targetGroups: ['api', 'web'],
    });
    expect(info).toHaveBeenLastCalledWith('target index refreshed', summary);
  });

  it('asks only about instances whose every registration is healthy', async () => {
    // Prepare
    fleet({
      web: [['i-both', 'healthy'], ['i-half', 'healthy'], ['i-sick', 'unhealthy'], ['i-booting', 'initial']],
      api: [['i-both', 'healthy'], ['i-half', 'initial']],
    });
    pointers(pointer('i-half', 'replacement'), pointer('i-booting', 'replacement'));

    // Act
    const summary = await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(askedKeys()).toEqual([['INSTANCE#i-both']]);
    expect(ddbMock).not.toHaveReceivedCommand(UpdateCommand);
    expect(summary).toMatchObject({ replacementsVerified: 0, verificationErrors: 0 });
  });

  it('reads nothing when no instance is healthy everywhere', async () => {
    // Prepare
    fleet({ web: [['i-booting', 'initial']] });

    // Act
    await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(ddbMock).not.toHaveReceivedAnyCommand();
  });

  it('extends only the records of replacements not yet seen healthy', async () => {
    // Prepare
    fleet({ web: [['i-old', 'healthy'], ['i-seen', 'healthy'], ['i-new', 'healthy'], ['i-none', 'healthy']] });
    pointers(
      pointer('i-old', 'interrupted'),
      pointer('i-seen', 'replacement', { healthyAt: '2024-05-01T11:55:00.000Z' }),
      pointer('i-new', 'replacement'),
    );

    // Act
    const summary = await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(ddbMock).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddbMock).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'INSTANCE#i-new' } });
    expect(updatedKeys()).toEqual(['EVENT#evt-i-new', 'INSTANCE#i-new']);
    expect(summary.replacementsVerified).toBe(1);
  });

  it('writes nothing when the pointer names an interrupted instance by the time it is read again', async () => {
    // Prepare: the replacement was itself interrupted and acted on between the two reads.
    fleet({ web: [['i-new', 'healthy']] });
    pointers(pointer('i-new', 'replacement'));
    ddbMock.on(GetCommand, { Key: { pk: 'INSTANCE#i-new' } }).resolves({ Item: pointer('i-new', 'interrupted') });

    // Act
    const summary = await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(ddbMock).toHaveReceivedCommand(GetCommand);
    expect(ddbMock).not.toHaveReceivedCommand(UpdateCommand);
    expect(summary.replacementsVerified).toBe(0);
  });

  it('records no msToHealthy when the pointer has no signal time', async () => {
    // Prepare
    fleet({ web: [['i-new', 'healthy']] });
    pointers(pointer('i-new', 'replacement', { signalTime: undefined }));

    // Act
    await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(1, UpdateCommand, {
      Key: { pk: 'EVENT#evt-i-new' },
      UpdateExpression: 'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry)',
      ExpressionAttributeValues: { ':entry': { at: SNAPSHOT_AT, detail: 'healthy in web' } },
    });
  });

  it('reads pointers 100 keys per BatchGet', async () => {
    // Prepare
    const ids = Array.from({ length: 250 }, (_, i) => `i-${String(i).padStart(17, '0')}`);
    fleet({ web: ids.map((id) => [id, 'healthy']) });
    pointers();

    // Act
    await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    const asked = askedKeys();
    expect(asked.map((keys) => keys?.length)).toEqual([100, 100, 50]);
    expect(new Set(asked.flat())).toEqual(new Set(ids.map((id) => `INSTANCE#${id}`)));
  });

  it('retries unprocessed keys, only those, and verifies what they return', async () => {
    // Prepare
    fleet({ web: [['i-a', 'healthy'], ['i-new', 'healthy']] });
    pointers(pointer('i-new', 'replacement'));
    ddbMock
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [] }, UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'INSTANCE#i-new' }] } } })
      .resolves({ Responses: { [TABLE]: [pointer('i-new', 'replacement')] }, UnprocessedKeys: {} });

    // Act
    const summary = await refresherWith({ writeSnapshot }, silentLog, store())();

    // Assess
    expect(askedKeys()).toEqual([['INSTANCE#i-a', 'INSTANCE#i-new'], ['INSTANCE#i-new']]);
    expect(summary).toMatchObject({ replacementsVerified: 1, verificationErrors: 0 });
  });

  it('keeps the refresh when the pointers cannot be read: logged and counted', async () => {
    // Prepare
    fleet({ web: [['i-new', 'healthy']] });
    ddbMock.on(BatchGetCommand).resolves({ Responses: {}, UnprocessedKeys: { [TABLE]: { Keys: [{ pk: 'INSTANCE#i-new' }] } } });
    const { log, error } = recordingLog();

    // Act
    const summary = await refresherWith({ writeSnapshot }, log, store())();

    // Assess
    expect(writeSnapshot).toHaveBeenCalledTimes(1);
    expect(ddbMock).toHaveReceivedCommandTimes(BatchGetCommand, 5);
    expect(summary).toMatchObject({ instances: 1, replacementsVerified: 0, verificationErrors: 1 });
    expect(error).toHaveBeenCalledWith(
      'replacement verification failed: pointers unread',
      expect.objectContaining({ candidates: 1, error: expect.objectContaining({ name: 'PointerReadError' }) }),
    );
  });

  it('goes on with the next replacement when one record update fails', async () => {
    // Prepare
    fleet({ web: [['i-one', 'healthy'], ['i-two', 'healthy']] });
    pointers(pointer('i-one', 'replacement'), pointer('i-two', 'replacement'));
    ddbMock
      .on(UpdateCommand, { Key: { pk: 'EVENT#evt-i-one' } })
      .rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ThrottlingException' }));
    const { log, error } = recordingLog();

    // Act
    const summary = await refresherWith({ writeSnapshot }, log, store())();

    // Assess
    expect(summary).toMatchObject({ replacementsVerified: 1, verificationErrors: 1 });
    // Not marked: the next refresh tries i-one again.
    expect(updatedKeys()).toEqual(['EVENT#evt-i-one', 'EVENT#evt-i-two', 'INSTANCE#i-two']);
    expect(error).toHaveBeenCalledWith(
      'replacement verification failed',
      expect.objectContaining({ instanceId: 'i-one', eventId: 'evt-i-one' }),
    );
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
