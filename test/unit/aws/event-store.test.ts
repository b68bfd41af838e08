import 'aws-sdk-client-mock-jest';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  cancelled,
  DAY_S,
  EVENT_PK,
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




/** The attributes an `SET #a = :a, ...` update assigns, by name. */
function assigned(update: { UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> }) {
  const set = /^SET (.*?)(?: REMOVE .*)?$/.exec(update.UpdateExpression ?? '')?.[1] ?? '';
  return Object.fromEntries(
    set.split(', ').map((assignment) => {
      const [name = '', value = ''] = assignment.split(' = ');
      return [update.ExpressionAttributeNames?.[name] ?? name, update.ExpressionAttributeValues?.[value]];
    }),
  );
}

describe('DynamoEventStore.claim', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  const guard = {
    ConditionExpression: 'attribute_not_exists(pk) OR #status = :failed OR (#status = :inProgress AND #leaseUntil < :now)',
    ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
    ExpressionAttributeValues: { ':failed': 'FAILED', ':inProgress': 'IN_PROGRESS', ':now': NOW.toISOString() },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };

  it('keys a rebalance recommendation apart from a warning stamped the same second', async () => {
    // Prepare: the demo once showed a warning taken for a duplicate of a recorded rebalance.
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    await store.claim({ ...KEYS, signal: 'rebalance-recommendation' }, LEASE);
    await store.claim({ ...KEYS, eventId: 'evt-2' }, LEASE);

    // Assess
    const keys = ddbMock.commandCalls(TransactWriteCommand).map((c) => c.args[0].input.TransactItems?.[1]?.Put?.Item?.pk);
    expect(keys).toEqual([`REBALANCE#${KEYS.instanceId}#${KEYS.eventTime}`, `WARNING#${KEYS.instanceId}#${KEYS.eventTime}`]);
  });

  it('claims both keys in one transaction', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: true, token: expect.any(String) });
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const expiresAt = NOW.getTime() / 1000 + 90 * DAY_S;
    expect(ddbMock).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: EVENT_PK,
              status: 'IN_PROGRESS',
              eventId: 'evt-1',
              instanceId: KEYS.instanceId,
              eventTime: KEYS.eventTime,
              leaseUntil: LEASE.toISOString(),
              claimedAt: NOW.toISOString(),
              claimToken: expect.any(String),
              deliveries: 1,
              day: 'DAY#2024-05-03',
              eventTimeAndId: '2024-05-03T10:00:00.000Z#evt-1',
              expiresAt,
            },
            ...guard,
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: { pk: WARNING_PK, status: 'IN_PROGRESS', owner: 'evt-1', leaseUntil: LEASE.toISOString(), claimToken: expect.any(String), expiresAt },
            ...guard,
          },
        },
      ],
    });
  });

  it('reports the same event held when its EVENT item fails the condition', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(
      cancelled(
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: EVENT_PK }, eventId: { S: 'evt-1' }, status: { S: 'COMPLETED' } } },
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: WARNING_PK }, owner: { S: 'evt-1' }, status: { S: 'COMPLETED' } } },
      ),
    );
    const { store } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: false, heldBy: 'evt-1', status: 'COMPLETED' });
    expect(ddbMock).not.toHaveReceivedCommand(GetCommand);
  });

  it('reports the owner of the warning when another event id claimed it', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(
      cancelled(
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: WARNING_PK }, owner: { S: 'evt-0' }, status: { S: 'IN_PROGRESS' } } },
      ),
    );
    const { store } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: false, heldBy: 'evt-0', status: 'IN_PROGRESS' });
  });

  it('reads both keys consistently when the reasons carry no item (emulators)', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }));
    ddbMock.on(GetCommand, { Key: { pk: EVENT_PK } }).resolves({});
    ddbMock.on(GetCommand, { Key: { pk: WARNING_PK } }).resolves({
      Item: { pk: WARNING_PK, owner: 'evt-0', status: 'IN_PROGRESS', leaseUntil: '2024-05-03T10:03:00.000Z' },
    });
    const { store } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: false, heldBy: 'evt-0', status: 'IN_PROGRESS' });
    expect(ddbMock).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: EVENT_PK }, ConsistentRead: true });
    expect(ddbMock).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { pk: WARNING_PK }, ConsistentRead: true });
  });

  it('prefers the EVENT item in the fallback read when both are held', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'ConditionalCheckFailed' }));
    ddbMock.on(GetCommand, { Key: { pk: EVENT_PK } }).resolves({ Item: { pk: EVENT_PK, eventId: 'evt-1', status: 'REJECTED' } });
    ddbMock.on(GetCommand, { Key: { pk: WARNING_PK } }).resolves({ Item: { pk: WARNING_PK, owner: 'evt-0', status: 'COMPLETED' } });
    const { store } = makeStore();

    // Act / Assess
    await expect(store.claim(KEYS, LEASE)).resolves.toEqual({ claimed: false, heldBy: 'evt-1', status: 'REJECTED' });
  });

  it('claims again when the fallback read finds the holder has let go', async () => {
    // Prepare
    ddbMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }))
      .resolves({});
    ddbMock.on(GetCommand, { Key: { pk: EVENT_PK } }).resolves({});
    ddbMock.on(GetCommand, { Key: { pk: WARNING_PK } }).resolves({
      Item: { pk: WARNING_PK, owner: 'evt-0', status: 'IN_PROGRESS', leaseUntil: '2024-05-03T09:00:00.000Z' },
    });
    const { store } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: true, token: expect.any(String) });
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it('retries a transaction conflict and succeeds', async () => {
    // Prepare
    ddbMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }))
      .resolves({});
    const { store, sleep } = makeStore();

    // Act
    const result = await store.claim(KEYS, LEASE);

    // Assess
    expect(result).toEqual({ claimed: true, token: expect.any(String) });
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('throws a transaction conflict that outlasts its attempts', async () => {
    // Prepare
    const conflict = cancelled({ Code: 'TransactionConflict' }, { Code: 'None' });
    ddbMock.on(TransactWriteCommand).rejects(conflict);
    const { store } = makeStore();

    // Act / Assess
    await expect(store.claim(KEYS, LEASE)).rejects.toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
    });
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });

  it('throws a cancellation for any other reason at once', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(cancelled({ Code: 'ValidationError' }, { Code: 'None' }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.claim(KEYS, LEASE)).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('rethrows errors that are not cancellations', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.claim(KEYS, LEASE)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('DynamoEventStore.claimAll', () => {
  beforeEach(() => {
    ddbMock.reset();
    ddbMock.on(GetCommand).resolves({});
  });

  /** The warning for instance n (event evt-n), acting on it: three keys. */
  const keysOf = (n: number) => ({ eventId: `evt-${n}`, signal: 'spot-interruption-warning' as const, instanceId: `i-${n}`, eventTime: WARNING_TIME, actsOnInstance: true });
  const pksOf = (n: number) => [`EVENT#evt-${n}`, `WARNING#i-${n}#${WARNING_TIME}`, `ACTION#i-${n}`];
  const sentPks = (call: number) =>
    (ddbMock.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? []).map((t) => t.Put?.Item?.pk);
  const none = { Code: 'None' };

  it('claims a batch in transactions of at most 100 items, each claim whole and with its own token', async () => {
    // Prepare: 34 claims of three keys: 33 fill one transaction, the 34th starts the next.
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    const results = await store.claimAll(Array.from({ length: 34 }, (_, n) => keysOf(n)), LEASE);

    // Assess
    expect(results).toEqual(Array.from({ length: 34 }, () => ({ ok: true, value: { claimed: true, token: expect.any(String) } })));
    expect(new Set(results.map((r) => (r.ok && r.value.claimed ? r.value.token : undefined))).size).toBe(34);
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(sentPks(0)).toEqual(Array.from({ length: 33 }, (_, n) => pksOf(n)).flat());
    expect(sentPks(1)).toEqual(pksOf(33));
  });

  it('never puts one key twice in a transaction: two notices for one instance go apart', async () => {
    // Prepare: the warning and a rebalance recommendation for i-0 both claim ACTION#i-0.
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const rebalance = { ...keysOf(0), eventId: 'evt-r', signal: 'rebalance-recommendation' as const };

    // Act
    await store.claimAll([keysOf(0), rebalance], LEASE);

    // Assess
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it('answers a held claim from the cancellation reasons and claims the others without it', async () => {
    // Prepare: evt-1 is already recorded; its keys cancel the transaction of all three.
    const done = (pk: string) => ({ Code: 'ConditionalCheckFailed', Item: { pk: { S: pk }, eventId: { S: 'evt-1' }, owner: { S: 'evt-1' }, status: { S: 'COMPLETED' } } });
    ddbMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(none, none, none, done('EVENT#evt-1'), done(`WARNING#i-1#${WARNING_TIME}`), none, none, none, none))
      .resolves({});
    const { store } = makeStore();

    // Act
    const results = await store.claimAll([keysOf(0), keysOf(1), keysOf(2)], LEASE);

    // Assess
    expect(results[1]).toEqual({ ok: true, value: { claimed: false, heldBy: 'evt-1', status: 'COMPLETED' } });
    expect(results[0]).toEqual({ ok: true, value: { claimed: true, token: expect.any(String) } });
    expect(results[2]).toEqual({ ok: true, value: { claimed: true, token: expect.any(String) } });
    expect(sentPks(1)).toEqual([...pksOf(0), ...pksOf(2)]);
  });

  it('leaves each claim to claim() on its own after a conflict, which retries it', async () => {
    // Prepare: a conflict cancels the merged transaction; the single claims go through.
    ddbMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled({ Code: 'TransactionConflict' }, none, none, none, none, none))
      .resolves({});
    const { store } = makeStore();

    // Act
    const results = await store.claimAll([keysOf(0), keysOf(1)], LEASE);

    // Assess
    expect(results.map((r) => r.ok && r.value.claimed)).toEqual([true, true]);
    expect(sentPks(1)).toEqual(pksOf(0));
    expect(sentPks(2)).toEqual(pksOf(1));
  });

  it('reads the holder of a claim whose reasons carry no item (emulators), through claim()', async () => {
    // Prepare: the merged transaction names no old item; claim() for evt-1 meets the same and reads.
    ddbMock.on(TransactWriteCommand).callsFake((input: { TransactItems: Array<{ Put: { Item: { pk: string } } }> }) => {
      const pks = input.TransactItems.map((t) => t.Put.Item.pk);
      if (pks.length === 6) throw cancelled(none, none, none, { Code: 'ConditionalCheckFailed' }, none, none);
      if (pks[0] === 'EVENT#evt-1') throw cancelled({ Code: 'ConditionalCheckFailed' }, none, none);
      return {};
    });
    ddbMock.on(GetCommand, { Key: { pk: 'EVENT#evt-1' } }).resolves({ Item: { pk: 'EVENT#evt-1', eventId: 'evt-1', status: 'COMPLETED' } });
    const { store } = makeStore();

    // Act
    const results = await store.claimAll([keysOf(0), keysOf(1)], LEASE);

    // Assess
    expect(results[1]).toEqual({ ok: true, value: { claimed: false, heldBy: 'evt-1', status: 'COMPLETED' } });
    expect(results[0]).toEqual({ ok: true, value: { claimed: true, token: expect.any(String) } });
  });

  it('answers every claim of a transaction with an error that is no cancellation', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { store } = makeStore();

    // Act
    const results = await store.claimAll([keysOf(0), keysOf(1)], LEASE);

    // Assess
    expect(results).toEqual([
      { ok: false, error: expect.objectContaining({ name: 'ThrottlingException' }) },
      { ok: false, error: expect.objectContaining({ name: 'ThrottlingException' }) },
    ]);
  });
});

describe('DynamoEventStore.renewAll', () => {
  beforeEach(() => ddbMock.reset());

  /** A claim of the warning for instance n (event evt-n), acting on the instance: three keys. */
  const held = (n: number) => ({
    keys: { eventId: `evt-${n}`, signal: 'spot-interruption-warning' as const, instanceId: `i-${n}`, eventTime: WARNING_TIME, actsOnInstance: true },
    token: `tok-${n}`,
  });
  const keysOf = (n: number) => [`EVENT#evt-${n}`, `WARNING#i-${n}#${WARNING_TIME}`, `ACTION#i-${n}`];
  const sentKeys = (call: number) =>
    (ddbMock.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? []).map((t) => t.Update?.Key?.pk);

  it('renews every key of every claim of the batch, packed whole into transactions of at most 100 items', async () => {
    // Prepare: 34 claims of three keys: 33 fill one transaction (99 items), the 34th starts the next.
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const claims = Array.from({ length: 34 }, (_, n) => held(n));

    // Act
    const renewals = await store.renewAll(claims, LEASE);

    // Assess
    expect(renewals).toEqual(claims.map(() => ({ outcome: 'held' })));
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(sentKeys(0)).toEqual(Array.from({ length: 33 }, (_, n) => keysOf(n)).flat());
    expect(sentKeys(1)).toEqual(keysOf(33));
    expect(ddbMock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[3]?.Update).toEqual({
      TableName: TABLE,
      Key: { pk: 'EVENT#evt-1' },
      UpdateExpression: 'SET #leaseUntil = :until',
      ConditionExpression: '#status = :inProgress AND #claimToken = :token',
      ExpressionAttributeNames: { '#status': 'status', '#claimToken': 'claimToken', '#leaseUntil': 'leaseUntil' },
      ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':token': 'tok-1', ':until': LEASE.toISOString() },
    });
  });

  it('marks the claims whose keys failed the condition lost and renews the others in a second transaction', async () => {
    // Prepare: claim 1 was taken over (its WARNING key is someone else's now); the cancellation wrote nothing.
    const none = { Code: 'None' };
    ddbMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(none, none, none, none, { Code: 'ConditionalCheckFailed' }, none, none, none, none))
      .resolves({});
    const { store } = makeStore();

    // Act
    const renewals = await store.renewAll([held(0), held(1), held(2)], LEASE);

    // Assess
    expect(renewals).toEqual([{ outcome: 'held' }, { outcome: 'lost' }, { outcome: 'held' }]);
    expect(sentKeys(1)).toEqual([...keysOf(0), ...keysOf(2)]);
  });

  it('retries a transaction conflict, then answers failed with the error, never rejecting', async () => {
    // Prepare: a finishing response's transaction holds one of the items, every time.
    const conflict = cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }, { Code: 'None' });
    ddbMock.on(TransactWriteCommand).rejects(conflict);
    const { store, sleep } = makeStore();

    // Act
    const renewals = await store.renewAll([held(0)], LEASE);

    // Assess
    expect(renewals).toEqual([{ outcome: 'failed', error: expect.objectContaining({ name: 'TransactionCanceledException' }) }]);
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it('fails the claims of a transaction that failed for another reason, at once', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).rejects(Object.assign(new Error('Service unavailable'), { name: 'InternalServerError' }));
    const { store } = makeStore();

    // Act
    const renewals = await store.renewAll([held(0), held(1)], LEASE);

    // Assess
    expect(renewals.map((r) => r.outcome)).toEqual(['failed', 'failed']);
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('sends nothing for no claims', async () => {
    const { store } = makeStore();
    await expect(store.renewAll([], LEASE)).resolves.toEqual([]);
    expect(ddbMock).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
  });
});

describe('DynamoEventStore.finish', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  it.each([
    ['handled', 'COMPLETED'],
    ['failed', 'FAILED'],
  ] as const)('writes a %s record and marks both claims %s in one transaction', async (outcome, status) => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();
    const finished = record({ outcome, ...(outcome === 'failed' ? { reason: 'boom' } : {}) });

    // Act
    await store.finish(KEYS, finished);

    // Assess
    const expiresAt = Date.parse(finished.finishedAt) / 1000 + 90 * DAY_S;
    const [call] = ddbMock.commandCalls(TransactWriteCommand);
    const [event, warning] = call?.args[0].input.TransactItems ?? [];
    expect(event?.Update?.Key).toEqual({ pk: EVENT_PK });
    expect(event?.Update?.UpdateExpression).toMatch(/ REMOVE #leaseUntil$/);
    expect(assigned(event?.Update ?? {})).toEqual({
      ...finished,
      attempts: [
        {
          attempt: 1,
          at: finished.receivedAt,
          finishedAt: finished.finishedAt,
          outcome,
          ...(outcome === 'failed' ? { reason: 'boom' } : {}),
          actions: finished.actions,
        },
      ],
      timeline: {},
      status,
      day: 'DAY#2024-05-03',
      eventTimeAndId: '2024-05-03T10:00:00.000Z#evt-1',
      expiresAt,
    });
    expect(warning).toEqual({
      Update: {
        TableName: TABLE,
        Key: { pk: WARNING_PK },
        UpdateExpression: 'SET #status = :status, #expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#status': 'status', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':status': status, ':expiresAt': expiresAt },
      },
    });
  });

  it('files a record without an event time under the day it was received', async () => {
    // Prepare
    ddbMock.on(TransactWriteCommand).resolves({});
    const { store } = makeStore();

    // Act
    await store.finish(KEYS, record({ eventTime: null, receivedAt: '2024-05-04T00:00:01.000Z' }));

    // Assess
    const [call] = ddbMock.commandCalls(TransactWriteCommand);
    const fields = assigned(call?.args[0].input.TransactItems?.[0]?.Update ?? {});
    expect(fields).toMatchObject({ day: 'DAY#2024-05-04', eventTimeAndId: '2024-05-04T00:00:01.000Z#evt-1' });
  });
});

describe('DynamoEventStore.noteDuplicate', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  it('counts the delivery on the original record', async () => {
    // Prepare
    ddbMock.on(UpdateCommand).resolves({});
    const { store } = makeStore();

    // Act
    await store.noteDuplicate('evt-1', 'evt-2', '2024-05-03T10:00:40.000Z');

    // Assess
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { pk: EVENT_PK },
      UpdateExpression: 'ADD deliveries :one, duplicateEventIds :duplicate SET lastDuplicateAt = :at',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':one': 1, ':duplicate': new Set(['evt-2']), ':at': '2024-05-03T10:00:40.000Z' },
    });
  });

  it('ignores an original that no longer exists', async () => {
    // Prepare
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.noteDuplicate('evt-1', 'evt-2', NOW.toISOString())).resolves.toBeUndefined();
  });

  it('rethrows other errors', async () => {
    // Prepare
    ddbMock.on(UpdateCommand).rejects(Object.assign(new Error('down'), { name: 'InternalServerError' }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.noteDuplicate('evt-1', 'evt-2', NOW.toISOString())).rejects.toMatchObject({ name: 'InternalServerError' });
  });
});

describe('DynamoEventStore.recordUnclaimed', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  it.each([
    ['rejected', 'REJECTED'],
    ['skipped', 'SKIPPED'],
  ] as const)('puts a %s record only if none exists', async (outcome, status) => {
    // Prepare
    ddbMock.on(PutCommand).resolves({});
    const { store } = makeStore();
    const unclaimed = record({ outcome, reason: 'because', detached: false, actions: [] });

    // Act
    const write = await store.recordUnclaimed(unclaimed);

    // Assess
    expect(write).toEqual({ result: 'written' });
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: {
        ...unclaimed,
        pk: EVENT_PK,
        status,
        day: 'DAY#2024-05-03',
        eventTimeAndId: '2024-05-03T10:00:00.000Z#evt-1',
        expiresAt: Date.parse(unclaimed.finishedAt) / 1000 + 90 * DAY_S,
        deliveries: 1,
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
  });

  it('never overwrites: an existing record wins silently', async () => {
    // Prepare
    ddbMock.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.recordUnclaimed(record({ outcome: 'rejected' }))).resolves.toEqual({ result: 'exists', outcome: undefined });
  });

  it('rethrows other errors', async () => {
    // Prepare
    ddbMock.on(PutCommand).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    const { store } = makeStore();

    // Act / Assess
    await expect(store.recordUnclaimed(record({ outcome: 'skipped' }))).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
  });
});

describe('DynamoEventStore.history', () => {
  beforeEach(() => {
    ddbMock.reset();
    // No earlier attempt at the event: finish reads ATTEMPTS# first.
    ddbMock.on(GetCommand).resolves({});
  });

  const stored = (eventId: string, eventTime: string, extra: Record<string, unknown> = {}) => ({
    ...record({ eventId, eventTime }),
    pk: `EVENT#${eventId}`,
    status: 'COMPLETED',
    day: `DAY#${eventTime.slice(0, 10)}`,
    eventTimeAndId: `${eventTime}#${eventId}`,
    expiresAt: 1_800_000_000,
    leaseUntil: '2024-05-01T00:00:00.000Z',
    claimedAt: '2024-05-01T00:00:00.000Z',
    ...extra,
  });
  const since = '2024-05-01T06:00:00Z';

  it('walks the days newest first, follows pagination, strips bookkeeping and sorts newest first', async () => {
    // Prepare
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-03', ':since': since } }).resolves({
      Items: [stored('evt-c', '2024-05-03T09:00:00Z', { deliveries: 3, duplicateEventIds: new Set(['evt-z', 'evt-y']) })],
    });
    ddbMock
      .on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-02', ':since': since } })
      .resolvesOnce({ Items: [stored('evt-b2', '2024-05-02T20:00:00Z')], LastEvaluatedKey: { pk: 'EVENT#evt-b2' } })
      .resolves({ Items: [stored('evt-b1', '2024-05-02T08:00:00Z')] });
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-01', ':since': since } }).resolves({
      Items: [stored('evt-a', '2024-05-01T07:00:00Z')],
    });
    const { store } = makeStore();

    // Act
    const records = await store.history({ since });

    // Assess
    expect(records.map((r) => r.eventId)).toEqual(['evt-c', 'evt-b2', 'evt-b1', 'evt-a']);
    expect(records[0]).toEqual({ ...record({ eventId: 'evt-c', eventTime: '2024-05-03T09:00:00Z' }), deliveries: 3, duplicateEventIds: ['evt-y', 'evt-z'] });
    expect(ddbMock).toHaveReceivedCommandTimes(QueryCommand, 4);
    expect(ddbMock).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byDay',
      KeyConditionExpression: '#day = :day AND #sort >= :since',
      ExpressionAttributeNames: { '#day': 'day', '#sort': 'eventTimeAndId' },
      ScanIndexForward: false,
    });
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(3, QueryCommand, {
      ExpressionAttributeValues: { ':day': 'DAY#2024-05-02', ':since': since },
      ExclusiveStartKey: { pk: 'EVENT#evt-b2' },
    });
  });

  it('stops querying once it has the limit', async () => {
    // Prepare
    ddbMock.on(QueryCommand, { ExpressionAttributeValues: { ':day': 'DAY#2024-05-03', ':since': since } }).resolves({
      Items: [stored('evt-c2', '2024-05-03T09:30:00Z'), stored('evt-c1', '2024-05-03T09:00:00Z')],
      LastEvaluatedKey: { pk: 'EVENT#evt-c1' },
    });
    const { store } = makeStore();

    // Act
    const records = await store.history({ since, limit: 2 });

    // Assess
    expect(records.map((r) => r.eventId)).toEqual(['evt-c2', 'evt-c1']);
    expect(ddbMock).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddbMock).toHaveReceivedCommandWith(QueryCommand, { Limit: 2 });
  });

  it('rejects a since that is not a time', async () => {
    const { store } = makeStore();
    await expect(store.history({ since: 'yesterday' })).rejects.toBeInstanceOf(RangeError);
  });
});
