// The store's part in the whole interruption lifecycle: the ACTION# claim that lets only one
// signal act on an instance, the INSTANCE# pointers written at finish, and the timeline that
// later state changes extend through them.
import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { ActionResult } from '../../../lambda/core/model';
import type { ClaimKeys, InstancePointer } from '../../../lambda/core/ports';
import {
  cancelled,
  DAY_S,
  EVENT_PK,
  INSTANCE,
  KEYS,
  LEASE,
  makeStore,
  NOW,
  record,
  TABLE,
  WARNING_PK,
  WARNING_TIME,
} from '../../support/event-store';

const ddbMock = mockClient(DynamoDBDocumentClient);
const REPLACEMENT = 'i-0fedcba9876543210';
const WARNING = 'EC2 Spot Instance Interruption Warning';
const ACTING: ClaimKeys = { ...KEYS, actsOnInstance: true };
const ACTION_PK = `ACTION#${INSTANCE}`;
const INSTANCE_PK = `INSTANCE#${INSTANCE}`;
const THIRTY_MIN_MS = 30 * 60_000;





function conditionFailed() {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** The TransactItems of every transaction sent, in order. */
function transactions(): NonNullable<TransactWriteCommandInput['TransactItems']>[] {
  return ddbMock.commandCalls(TransactWriteCommand).map((call) => call.args[0].input.TransactItems ?? []);
}

function onlyTransaction() {
  const all = transactions();
  expect(all).toHaveLength(1);
  return all[0] ?? [];
}

describe('DynamoEventStore.claim, for a response that acts on the instance', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  it('claims ACTION# beside EVENT# and WARNING#, free when absent, FAILED, RELEASED or past its lease', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    const result = await store.claim(ACTING, LEASE);

    // Assess
    expect(result).toEqual({ claimed: true, token: expect.any(String) });
    const items = onlyTransaction();
    expect(items.map((t) => t.Put?.Item?.pk)).toEqual([EVENT_PK, WARNING_PK, ACTION_PK]);
    expect(items[2]).toEqual({
      Put: {
        TableName: TABLE,
        Item: {
          pk: ACTION_PK,
          status: 'IN_PROGRESS',
          owner: 'evt-1',
          leaseUntil: LEASE.toISOString(),
          claimToken: expect.any(String),
          expiresAt: NOW.getTime() / 1000 + 90 * DAY_S,
        },
        ConditionExpression: 'attribute_not_exists(pk) OR #status IN (:failed, :released) OR #leaseUntil < :now',
        ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
        ExpressionAttributeValues: { ':failed': 'FAILED', ':released': 'RELEASED', ':now': NOW.toISOString() },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });

  it('claims only EVENT# and WARNING# when the response will not act', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    await store.claim(KEYS, LEASE);

    // Assess
    expect(onlyTransaction().map((t) => t.Put?.Item?.pk)).toEqual([EVENT_PK, WARNING_PK]);
  });

  it('reports the owner of the ACTION item when only its condition failed', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(
      cancelled(
        { Code: 'None' },
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: ACTION_PK }, owner: { S: 'evt-rebalance' }, status: { S: 'COMPLETED' } } },
      ),
    );
    const { store } = makeStore();

    // Act
    const result = await store.claim(ACTING, LEASE);

    // Assess
    expect(result).toEqual({ claimed: false, heldBy: 'evt-rebalance', status: 'COMPLETED' });
    expect(ddbMock).not.toHaveReceivedCommand(GetCommand);
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  describe('the fallback read when the reasons carry no item', () => {
    const actionOnly = () => cancelled({ Code: 'None' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' });

    it('reads ACTION# too, and reports its owner while it is held', async () => {
      // Prepare
      ddbMock.on(TransactWriteCommand).rejects(actionOnly());
      ddbMock.on(GetCommand).resolves({});
      ddbMock.on(GetCommand, { Key: { pk: ACTION_PK } }).resolves({
        Item: { pk: ACTION_PK, owner: 'evt-rebalance', status: 'COMPLETED', leaseUntil: '2024-05-03T10:20:00.000Z' },
      });
      const { store } = makeStore();

      // Act
      const result = await store.claim(ACTING, LEASE);

      // Assess
      expect(result).toEqual({ claimed: false, heldBy: 'evt-rebalance', status: 'COMPLETED' });
      expect(ddbMock).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: ACTION_PK }, ConsistentRead: true });
    });

    it.each([
      ['RELEASED (its response did not act)', { status: 'RELEASED', leaseUntil: '2024-05-03T10:20:00.000Z' }],
      ['FAILED', { status: 'FAILED', leaseUntil: '2024-05-03T10:20:00.000Z' }],
      ['COMPLETED with its window passed', { status: 'COMPLETED', leaseUntil: '2024-05-03T10:00:29.999Z' }],
      ['IN_PROGRESS with its lease passed', { status: 'IN_PROGRESS', leaseUntil: '2024-05-03T09:58:00.000Z' }],
    ])('treats an ACTION item %s as free and claims again', async (_, item) => {
      // Prepare
      ddbMock.on(TransactWriteCommand).rejectsOnce(actionOnly()).resolves({});
      ddbMock.on(GetCommand).resolves({});
      ddbMock.on(GetCommand, { Key: { pk: ACTION_PK } }).resolves({ Item: { pk: ACTION_PK, owner: 'evt-0', ...item } });
      const { store } = makeStore();

      // Act
      const result = await store.claim(ACTING, LEASE);

      // Assess
      expect(result).toEqual({ claimed: true, token: expect.any(String) });
      expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    });

    it('names the holder in the order the reasons do: EVENT# before WARNING# before ACTION#', async () => {
      // Prepare
      ddbMock.on(TransactWriteCommand).rejects(
        cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }),
      );
      ddbMock.on(GetCommand).resolves({});
      ddbMock.on(GetCommand, { Key: { pk: EVENT_PK } }).resolves({ Item: { pk: EVENT_PK, eventId: 'evt-1', status: 'COMPLETED' } });
      ddbMock.on(GetCommand, { Key: { pk: ACTION_PK } }).resolves({
        Item: { pk: ACTION_PK, owner: 'evt-rebalance', status: 'COMPLETED', leaseUntil: '2024-05-03T10:20:00.000Z' },
      });
      const { store } = makeStore();

      // Act
      const result = await store.claim(ACTING, LEASE);

      // Assess
      expect(result).toEqual({ claimed: false, heldBy: 'evt-1', status: 'COMPLETED' });
    });

    it('does not read ACTION# for a response that will not act', async () => {
      // Prepare
      ddbMock.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
      ddbMock.on(GetCommand).resolves({});
      ddbMock.on(GetCommand, { Key: { pk: WARNING_PK } }).resolves({ Item: { pk: WARNING_PK, owner: 'evt-0', status: 'COMPLETED' } });
      const { store } = makeStore();

      // Act
      await store.claim(KEYS, LEASE);

      // Assess
      expect(ddbMock).not.toHaveReceivedCommandWith(GetCommand, { Key: { pk: ACTION_PK } });
    });
  });
});

describe('DynamoEventStore.finish, for a response that acts on the instance', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  function actionUpdate(status: string, finishedAt: string) {
    return {
      Update: {
        TableName: TABLE,
        Key: { pk: ACTION_PK },
        UpdateExpression: 'SET #status = :status, #leaseUntil = :until',
        ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
        ExpressionAttributeValues: { ':status': status, ':until': new Date(Date.parse(finishedAt) + THIRTY_MIN_MS).toISOString() },
      },
    };
  }

  function pointer(instanceId: string, role: InstancePointer['role']) {
    return {
      Put: {
        TableName: TABLE,
        Item: {
          pk: `INSTANCE#${instanceId}`,
          eventId: 'evt-1',
          role,
          signalDetailType: WARNING,
          signalTime: WARNING_TIME,
          // The notice of the interrupted instance counts from its warning; a replacement has none.
          ...(role === 'interrupted' ? { warningTime: WARNING_TIME } : {}),
          expiresAt: NOW.getTime() / 1000 + 7 * DAY_S,
        },
      },
    };
  }

  it('holds ACTION# COMPLETED for 30 minutes after a response that acted, and points the instance at it', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record();

    // Act
    await store.finish(ACTING, finished);

    // Assess
    const items = onlyTransaction();
    expect(items).toHaveLength(5);
    expect(items[4]?.Update?.Key).toEqual({ pk: 'ATTEMPTS#evt-1' });
    expect(items[2]).toEqual(actionUpdate('COMPLETED', finished.finishedAt));
    expect(items[3]).toEqual(pointer(INSTANCE, 'interrupted'));
  });

  it('RELEASES ACTION# and writes no pointer when every action was skipped', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record({
      outcome: 'skipped',
      reason: 'instance is in no Auto Scaling group',
      deregisteredFrom: [],
      detached: false,
      actions: [
        { action: 'detach', target: '-', result: 'skipped', latencyMs: 0, reason: 'instance is in no Auto Scaling group' },
        { action: 'lookup', target: 'TargetIndex', result: 'failed', latencyMs: 0 },
      ],
    });

    // Act
    await store.finish(ACTING, finished);

    // Assess
    const items = onlyTransaction();
    expect(items.map((t) => t.Update?.Key?.pk ?? t.Put?.Item?.pk)).toEqual([EVENT_PK, WARNING_PK, ACTION_PK, 'ATTEMPTS#evt-1']);
    expect(items[2]).toEqual(actionUpdate('RELEASED', finished.finishedAt));
  });

  it('marks ACTION# FAILED when the response failed, whatever it did', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record({
      outcome: 'failed',
      reason: 'deregister arn:tg/b: boom',
      actions: [record().actions[0] as ActionResult, { action: 'deregister', target: 'arn:tg/b', result: 'failed', latencyMs: 3 }],
    });

    // Act
    await store.finish(ACTING, finished);

    // Assess
    const items = onlyTransaction();
    expect(items[2]).toEqual(actionUpdate('FAILED', finished.finishedAt));
    expect(items[3]).toEqual(pointer(INSTANCE, 'interrupted'));
  });

  it('remembers no warning time on the pointer of a response to a rebalance recommendation', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const rebalanceKeys: ClaimKeys = { ...ACTING, signal: 'rebalance-recommendation' };

    // Act
    await store.finish(rebalanceKeys, record({ detailType: 'EC2 Instance Rebalance Recommendation', instanceAction: null }));

    // Assess
    const puts = onlyTransaction().flatMap((t) => (t.Put ? [t.Put.Item] : []));
    expect(puts).toEqual([
      {
        pk: INSTANCE_PK,
        eventId: 'evt-1',
        role: 'interrupted',
        signalDetailType: 'EC2 Instance Rebalance Recommendation',
        signalTime: WARNING_TIME,
        expiresAt: NOW.getTime() / 1000 + 7 * DAY_S,
      },
    ]);
  });

  it('points the replacement at the response too, as its replacement', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record({
      replacement: { instanceId: REPLACEMENT, seenAt: '2024-05-03T10:00:31.000Z', msFromSignal: 31_000 },
    });

    // Act
    await store.finish(ACTING, finished);

    // Assess
    const puts = onlyTransaction().flatMap((t) => (t.Put ? [{ Put: t.Put }] : []));
    expect(puts).toEqual([pointer(INSTANCE, 'interrupted'), pointer(REPLACEMENT, 'replacement')]);
  });

  it('stores the timeline as a map keyed by milestone', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record({
      timeline: [
        { event: 'warning-received', at: WARNING_TIME, detail: 'instance-action terminate' },
        { event: 'detached', at: '2024-05-03T10:00:31.000Z' },
      ],
    });

    // Act
    await store.finish(ACTING, finished);

    // Assess
    const update = onlyTransaction()[0]?.Update;
    const timelineName = Object.entries(update?.ExpressionAttributeNames ?? {}).find(([, name]) => name === 'timeline')?.[0] ?? '';
    expect(update?.ExpressionAttributeValues?.[timelineName.replace('#', ':')]).toEqual({
      'warning-received': { at: WARNING_TIME, detail: 'instance-action terminate' },
      detached: { at: '2024-05-03T10:00:31.000Z' },
    });
  });
});

describe('DynamoEventStore.appendTimeline', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  const shuttingDown = { event: 'instance-shutting-down' as const, at: '2024-05-03T10:01:58Z' };
  const interrupted = {
    pk: INSTANCE_PK,
    eventId: 'evt-1',
    role: 'interrupted',
    signalDetailType: WARNING,
    signalTime: WARNING_TIME,
    warningTime: WARNING_TIME,
  };

  it('appends nothing and answers null for an instance with no pointer', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({});
    const { store } = makeStore();
    const build = jest.fn(() => ({ entry: shuttingDown }));

    // Act
    const result = await store.appendTimeline(INSTANCE, build);

    // Assess
    expect(result).toBeNull();
    expect(build).not.toHaveBeenCalled();
    expect(ddbMock).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: INSTANCE_PK }, ConsistentRead: true });
    expect(ddbMock).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('shows the builder the pointer and adds the milestone once, with the notice once', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({ Item: interrupted });
    ddbMock.on(UpdateCommand).resolves({});
    const { store } = makeStore();
    const build = jest.fn(() => ({ entry: shuttingDown, noticeMs: 118_000 }));

    // Act
    const result = await store.appendTimeline(INSTANCE, build);

    // Assess
    expect(build).toHaveBeenCalledWith({
      eventId: 'evt-1',
      role: 'interrupted',
      signalDetailType: WARNING,
      signalTime: WARNING_TIME,
      warningTime: WARNING_TIME,
    });
    expect(result).toEqual({ eventId: 'evt-1', entry: shuttingDown });
    expect(ddbMock).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: EVENT_PK },
      UpdateExpression:
        'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry), noticeMs = if_not_exists(noticeMs, :notice)',
      ConditionExpression: 'attribute_exists(timeline)',
      ExpressionAttributeNames: { '#milestone': 'instance-shutting-down' },
      ExpressionAttributeValues: { ':entry': { at: '2024-05-03T10:01:58Z' }, ':notice': 118_000 },
    });
  });

  it('sets no notice when the builder gives none, and keeps the entry detail', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({ Item: { ...interrupted, pk: `INSTANCE#${REPLACEMENT}`, role: 'replacement' } });
    ddbMock.on(UpdateCommand).resolves({});
    const { store } = makeStore();
    const entry = { event: 'replacement-running' as const, at: '2024-05-03T10:01:10Z', detail: REPLACEMENT };

    // Act
    await store.appendTimeline(REPLACEMENT, (p) => (p.role === 'replacement' ? { entry } : null));

    // Assess
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry)',
      ExpressionAttributeNames: { '#milestone': 'replacement-running' },
      ExpressionAttributeValues: { ':entry': { at: '2024-05-03T10:01:10Z', detail: REPLACEMENT } },
    });
  });

  it('remembers on the pointer when a warning followed a rebalance response, the first warning winning', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({
      Item: { ...interrupted, signalDetailType: 'EC2 Instance Rebalance Recommendation', signalTime: '2024-05-03T09:50:00Z', warningTime: undefined },
    });
    ddbMock.on(UpdateCommand).resolves({});
    const { store } = makeStore();
    const build = jest.fn(() => ({
      entry: { event: 'warning-received' as const, at: WARNING_TIME, detail: 'instance-action terminate' },
      warningTime: WARNING_TIME,
    }));

    // Act
    await store.appendTimeline(INSTANCE, build);

    // Assess
    expect(build).toHaveBeenCalledWith(expect.objectContaining({ signalTime: '2024-05-03T09:50:00Z', warningTime: null }));
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(1, UpdateCommand, {
      TableName: TABLE,
      Key: { pk: INSTANCE_PK },
      UpdateExpression: 'SET warningTime = if_not_exists(warningTime, :time)',
      ExpressionAttributeValues: { ':time': WARNING_TIME },
    });
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(2, UpdateCommand, {
      Key: { pk: EVENT_PK },
      ExpressionAttributeNames: { '#milestone': 'warning-received' },
      ExpressionAttributeValues: { ':entry': { at: WARNING_TIME, detail: 'instance-action terminate' } },
    });
  });

  it('writes nothing when the builder answers null', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({ Item: interrupted });
    const { store } = makeStore();

    // Act
    const result = await store.appendTimeline(INSTANCE, () => null);

    // Assess
    expect(result).toBeNull();
    expect(ddbMock).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('answers null when the record expired while its pointer lived on', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({ Item: interrupted });
    ddbMock.on(UpdateCommand).rejects(conditionFailed());
    const { store } = makeStore();

    // Act / Assess
    await expect(store.appendTimeline(INSTANCE, () => ({ entry: shuttingDown }))).resolves.toBeNull();
  });

  it('rethrows any other failure of the update', async () => {
    // Prepare
    ddbMock.on(GetCommand).resolves({ Item: interrupted });
    ddbMock.on(UpdateCommand).rejects(Object.assign(new Error('down'), { name: 'InternalServerError' }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.appendTimeline(INSTANCE, () => ({ entry: shuttingDown }))).rejects.toMatchObject({ name: 'InternalServerError' });
  });
});

describe('DynamoEventStore.history, for a record with a timeline', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  it('turns the stored map back into a list in time order', async () => {
    // Prepare
    ddbMock.on(QueryCommand).resolves({});
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-03', ':since': '2024-05-03T00:00:00Z' } }).resolves({
      Items: [
        {
          ...record(),
          pk: EVENT_PK,
          status: 'COMPLETED',
          day: 'DAY#2024-05-03',
          eventTimeAndId: `2024-05-03T10:00:00.000Z#evt-1`,
          expiresAt: 1_800_000_000,
          noticeMs: 118_000,
          timeline: {
            'instance-shutting-down': { at: '2024-05-03T10:01:58Z' },
            detached: { at: '2024-05-03T10:00:31.000Z' },
            'warning-received': { at: WARNING_TIME, detail: 'instance-action terminate' },
            'traffic-stopped': { at: '2024-05-03T10:00:30.800Z', detail: '3 registration(s)' },
          },
        },
      ],
    });
    const { store } = makeStore();

    // Act
    const [found] = await store.history({ since: '2024-05-03T00:00:00Z' });

    // Assess
    expect(found?.timeline).toEqual([
      { event: 'warning-received', at: WARNING_TIME, detail: 'instance-action terminate' },
      { event: 'traffic-stopped', at: '2024-05-03T10:00:30.800Z', detail: '3 registration(s)' },
      { event: 'detached', at: '2024-05-03T10:00:31.000Z' },
      { event: 'instance-shutting-down', at: '2024-05-03T10:01:58Z' },
    ]);
    expect(found?.noticeMs).toBe(118_000);
  });

  it('orders by instant, not text, when an EC2 whole-second time meets one of ours in the same second', async () => {
    // Prepare
    ddbMock.on(QueryCommand).resolves({});
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-03', ':since': '2024-05-03T00:00:00Z' } }).resolves({
      Items: [
        {
          ...record(),
          pk: EVENT_PK,
          timeline: {
            // As text "10:00:00.900Z" sorts before "10:00:00Z" ('.' < 'Z'); as time it is after.
            'traffic-stopped': { at: '2024-05-03T10:00:00.900Z' },
            'warning-received': { at: WARNING_TIME },
          },
        },
      ],
    });
    const { store } = makeStore();

    // Act
    const [found] = await store.history({ since: '2024-05-03T00:00:00Z' });

    // Assess
    expect(found?.timeline?.map((e) => e.event)).toEqual(['warning-received', 'traffic-stopped']);
  });
});
