// The wave simulator's DynamoDB: the store's own calls, through the real SDK and document
// client, get DynamoDB's answers: conditional writes, transactions cancelled with their reasons,
// conflicts while a transaction is in flight, and claims that are won exactly once.
import { DynamoDBClient, TransactWriteItemsCommand, UpdateItemCommand, BatchGetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ControlPlane } from '../../../bench/simulator/control-plane';
import { DynamoEventStore } from '../../../lambda/aws/store/event-store';
import { TABLE_SCHEMA } from '../../../lambda/aws/table-schema';
import type { ClaimKeys } from '../../../lambda/core/ports';
import type { ResponseRecord } from '../../../lambda/core/model';

const TABLE = 'sim-records';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** A plane with the records table; latency as given (0 unless a test needs calls in flight). */
function setup(latency = 0) {
  const plane = new ControlPlane({ latency: () => latency });
  plane.dynamo.createTable({
    name: TABLE,
    partitionKey: TABLE_SCHEMA.partitionKey,
    indexes: [{ name: TABLE_SCHEMA.historyIndex.name, partitionKey: TABLE_SCHEMA.historyIndex.partitionKey, sortKey: TABLE_SCHEMA.historyIndex.sortKey }],
  });
  const raw = new DynamoDBClient({ region: 'eu-west-1', credentials, maxAttempts: 1, requestHandler: plane.dynamoHttpHandler() });
  const doc = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const store = new DynamoEventStore({ client: doc, tableName: TABLE, retentionDays: 30, sleep: async () => undefined });
  return { plane, raw, store };
}

const keys = (eventId: string, instanceId = 'i-0123456789abcdef0'): ClaimKeys => ({
  eventId,
  signal: 'spot-interruption-warning',
  instanceId,
  eventTime: '2026-11-30T09:00:00Z',
  actsOnInstance: true,
});

const lease = () => new Date(Date.now() + 20_000);

function record(eventId: string, outcome: ResponseRecord['outcome'] = 'handled'): ResponseRecord {
  return {
    eventId,
    signal: 'spot-interruption-warning',
    instanceId: 'i-0123456789abcdef0',
    eventTime: '2026-11-30T09:00:00Z',
    receivedAt: '2026-11-30T09:00:01.000Z',
    finishedAt: '2026-11-30T09:00:02.000Z',
    outcome,
    actions: [{ action: 'deregister', target: 'arn:tg/web', result: 'ok', latencyMs: 30 }],
    deregisteredFrom: ['arn:tg/web'],
    detached: false,
  } as unknown as ResponseRecord;
}

describe('claims through the real store', () => {
  test('twenty concurrent deliveries of one warning under different event ids: exactly one claim is won', async () => {
    const { store } = setup(4);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claim(keys(`event-${i}`), lease())));
    const won = results.filter((r) => r.claimed);
    expect(won).toHaveLength(1);
    // Every other one names the winner (from the old item DynamoDB returned), or lost to its transaction in flight.
    const winner = `event-${results.findIndex((r) => r.claimed)}`;
    for (const r of results.filter((x) => !x.claimed)) expect(r).toEqual({ claimed: false, heldBy: winner, status: 'IN_PROGRESS' });
  });

  test('a finished response makes the redelivery a duplicate; a failed one lets it claim again', async () => {
    const { store, plane } = setup();
    const first = await store.claim(keys('event-a'), lease());
    expect(first.claimed).toBe(true);
    await store.finish(keys('event-a'), record('event-a'), { token: (first as { token: string }).token });
    expect(await store.claim(keys('event-a'), lease())).toEqual({ claimed: false, heldBy: 'event-a', status: 'COMPLETED' });
    await store.noteDuplicate('event-a', 'event-b', '2026-11-30T09:00:03.000Z');
    await store.noteDuplicate('event-a', 'event-c', '2026-11-30T09:00:04.000Z');
    const item = plane.dynamo.items(TABLE).find((i) => i.pk?.S === 'EVENT#event-a');
    expect(item?.deliveries).toEqual({ N: '3' }); // the first delivery and two duplicates
    expect(item?.duplicateEventIds?.SS?.sort()).toEqual(['event-b', 'event-c']);
    expect(item?.leaseUntil).toBeUndefined();

    const failed = await store.claim(keys('event-f', 'i-0fffffffffffffff0'), lease());
    await store.finish(keys('event-f', 'i-0fffffffffffffff0'), { ...record('event-f', 'failed'), instanceId: 'i-0fffffffffffffff0' }, {
      token: (failed as { token: string }).token,
    });
    expect((await store.claim(keys('event-f', 'i-0fffffffffffffff0'), lease())).claimed).toBe(true);
  });

  test('history reads the records back through the byDay index (Query, newest first)', async () => {
    const { store } = setup();
    for (const id of ['event-1', 'event-2']) {
      const claim = await store.claim(keys(id, `i-${id}`), lease());
      await store.finish(keys(id, `i-${id}`), { ...record(id), instanceId: `i-${id}` }, { token: (claim as { token: string }).token });
    }
    const history = await store.history({ since: '2026-11-30T00:00:00Z' });
    expect(history.map((r) => r.eventId).sort()).toEqual(['event-1', 'event-2']);
  });
});

describe('DynamoDB semantics on the wire', () => {
  const put = (pk: string, extra: Record<string, unknown> = {}) => ({
    Put: { TableName: TABLE, Item: { pk: { S: pk }, ...extra }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const },
  });

  test('a failed condition cancels the whole transaction, with one reason per item and the old item', async () => {
    const { raw, plane } = setup();
    await raw.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'B' }, status: { S: 'COMPLETED' } } }));
    const error = await raw.send(new TransactWriteItemsCommand({ TransactItems: [put('A'), put('B')] })).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'TransactionCanceledException',
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]',
      CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed', Item: { pk: { S: 'B' }, status: { S: 'COMPLETED' } } }],
      $metadata: { httpStatusCode: 400 },
    });
    // nothing of it was written
    expect(plane.dynamo.items(TABLE).map((i) => i.pk?.S)).toEqual(['B']);
  });

  test('while a transaction is in flight, another on its items is cancelled (TransactionConflict) and a single write refused', async () => {
    // Latency 400 ms: half on the way in, half out, so the first holds A from 200 to 400 ms.
    // Sent 50 ms later, the second and the single write arrive at about 250 ms: inside that
    // window with 150 ms to spare either side, however loaded the machine.
    const { raw } = setup(400);
    const first = raw.send(new TransactWriteItemsCommand({ TransactItems: [put('A')] }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = raw.send(new TransactWriteItemsCommand({ TransactItems: [put('C'), { ...put('A'), Put: { ...put('A').Put, ConditionExpression: undefined } }] }));
    const single = raw.send(new UpdateItemCommand({ TableName: TABLE, Key: { pk: { S: 'A' } }, UpdateExpression: 'SET x = :one', ExpressionAttributeValues: { ':one': { N: '1' } } }));
    await expect(first).resolves.toBeDefined();
    await expect(second).rejects.toMatchObject({ name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] });
    await expect(single).rejects.toMatchObject({ name: 'TransactionConflictException' });
  });

  test('a conditional UpdateItem that fails is ConditionalCheckFailedException; ADD and if_not_exists update as documented', async () => {
    const { raw, plane } = setup();
    const update = (expression: string, values: Record<string, unknown>, condition?: string) =>
      raw.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { pk: { S: 'X' } },
          UpdateExpression: expression,
          ExpressionAttributeValues: values as never,
          ...(condition ? { ConditionExpression: condition } : {}),
        }),
      );
    await expect(update('SET a = :v', { ':v': { S: 'x' } }, 'attribute_exists(pk)')).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    await update('SET a = if_not_exists(a, :v), l = list_append(if_not_exists(l, :empty), :one) ADD n :one1', {
      ':v': { S: 'first' },
      ':empty': { L: [] },
      ':one': { L: [{ S: 'e1' }] },
      ':one1': { N: '1' },
    });
    await update('SET a = if_not_exists(a, :v), l = list_append(if_not_exists(l, :empty), :one) ADD n :one1', {
      ':v': { S: 'second' },
      ':empty': { L: [] },
      ':one': { L: [{ S: 'e2' }] },
      ':one1': { N: '1' },
    });
    expect(plane.dynamo.items(TABLE)[0]).toEqual({ pk: { S: 'X' }, a: { S: 'first' }, l: { L: [{ S: 'e1' }, { S: 'e2' }] }, n: { N: '2' } });
  });

  test('unused placeholders and too many keys are ValidationExceptions, as DynamoDB answers them', async () => {
    const { raw } = setup();
    await expect(
      raw.send(new UpdateItemCommand({ TableName: TABLE, Key: { pk: { S: 'X' } }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': { S: '1' }, ':b': { S: '2' } } })),
    ).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('unused in expressions') });
    const keys101 = Array.from({ length: 101 }, (_, i) => ({ pk: { S: `K${i}` } }));
    await expect(raw.send(new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: keys101 } } }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(raw.send(new TransactWriteItemsCommand({ TransactItems: [put('D'), put('D')] }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  test('status IN (...) and lease comparisons: an expired in-progress claim can be taken over, a live one cannot', async () => {
    const { store, plane } = setup();
    const first = await store.claim(keys('event-old'), new Date(Date.now() - 1_000));
    expect(first.claimed).toBe(true);
    const taken = await store.claim(keys('event-new'), lease());
    expect(taken.claimed).toBe(true);
    expect(await store.claim(keys('event-third'), lease())).toMatchObject({ claimed: false, heldBy: 'event-new' });
    expect(plane.dynamo.items(TABLE).find((i) => i.pk?.S === 'ACTION#i-0123456789abcdef0')?.owner).toEqual({ S: 'event-new' });
  });
});
