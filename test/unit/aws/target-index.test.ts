import 'aws-sdk-client-mock-jest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoTargetIndex, IndexReadError, IndexWriteError } from '../../../lambda/aws/target-index';
import type { IndexedTarget } from '../../../lambda/core/model';

const ddbMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'spot-responder';
const NOW = new Date('2024-05-01T12:00:00.000Z');
const NOW_S = NOW.getTime() / 1000;
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef';
const INSTANCE_ID = 'i-0123456789abcdef0';
const TARGET: IndexedTarget = { targetGroupArn: TG, targetId: INSTANCE_ID, targetType: 'instance', port: 80, availabilityZone: 'eu-west-1a' };

function makeIndex(extra: { sleep?: jest.Mock } = {}) {
  const sleep = extra.sleep ?? jest.fn(async () => undefined);
  const index = new DynamoTargetIndex({
    client: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    tableName: TABLE,
    refreshIntervalMinutes: 5,
    now: () => NOW,
    sleep,
    random: () => 0.5,
  });
  return { index, sleep };
}

function instances(count: number): Map<string, IndexedTarget[]> {
  return new Map(
    Array.from({ length: count }, (_, i) => {
      const id = `i-${String(i).padStart(17, '0')}`;
      return [id, [{ targetGroupArn: TG, targetId: id, targetType: 'instance' as const, port: 80 }]];
    }),
  );
}

describe('DynamoTargetIndex.writeSnapshot', () => {
  beforeEach(() => ddbMock.reset());

  it('writes items 25 per BatchWrite, then the meta item last', async () => {
    // Prepare
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();
    const snapshotAt = '2024-05-01T11:59:00.000Z';

    // Act
    await index.writeSnapshot(instances(30), snapshotAt);

    // Assess
    const writes = ddbMock.commandCalls(BatchWriteCommand);
    expect(writes.map((c) => c.args[0].input.RequestItems?.[TABLE]?.length)).toEqual([25, 5]);
    expect(writes[0]?.args[0].input.RequestItems?.[TABLE]?.[0]).toEqual({
      PutRequest: {
        Item: {
          pk: 'TARGETS#i-00000000000000000',
          targets: [{ targetGroupArn: TG, targetId: 'i-00000000000000000', targetType: 'instance', port: 80 }],
          snapshotAt,
          expiresAt: NOW_S + 3 * 5 * 60,
        },
      },
    });
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: { pk: 'INDEX#META', snapshotAt, refreshedAt: NOW.toISOString(), instances: 30, targets: 30 },
    });
    expect(ddbMock.calls().at(-1)?.args[0]).toBeInstanceOf(PutCommand);
  });

  it('stores the registrations without the health state the scan saw', async () => {
    // Prepare
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();

    // Act
    await index.writeSnapshot(new Map([[INSTANCE_ID, [{ ...TARGET, state: 'healthy' }]]]), NOW.toISOString());

    // Assess
    expect(ddbMock).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: { [TABLE]: [{ PutRequest: { Item: expect.objectContaining({ targets: [TARGET] }) } }] },
    });
  });

  it('retries unprocessed items, and only those, after a backoff', async () => {
    // Prepare
    const leftOver = { PutRequest: { Item: { pk: 'TARGETS#i-00000000000000001' } } };
    ddbMock
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [TABLE]: [leftOver] } })
      .resolves({ UnprocessedItems: {} });
    ddbMock.on(PutCommand).resolves({});
    const { index, sleep } = makeIndex();

    // Act
    await index.writeSnapshot(instances(3), NOW.toISOString());

    // Assess
    expect(ddbMock).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(2, BatchWriteCommand, { RequestItems: { [TABLE]: [leftOver] } });
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(ddbMock).toHaveReceivedCommand(PutCommand);
  });

  it('gives up after bounded attempts and never writes the meta item', async () => {
    // Prepare
    const leftOver = { PutRequest: { Item: { pk: 'TARGETS#i-00000000000000001' } } };
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: { [TABLE]: [leftOver] } });
    const { index } = makeIndex();

    // Act
    const result = index.writeSnapshot(instances(2), NOW.toISOString());

    // Assess
    await expect(result).rejects.toBeInstanceOf(IndexWriteError);
    expect(ddbMock).toHaveReceivedCommandTimes(BatchWriteCommand, 8);
    expect(ddbMock).not.toHaveReceivedCommand(PutCommand);
  });

  it('writes only the meta item for an empty fleet', async () => {
    // Prepare
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();

    // Act
    await index.writeSnapshot(new Map([['i-empty', []]]), NOW.toISOString());

    // Assess
    expect(ddbMock).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ instances: 0, targets: 0 }) });
  });
});

describe('DynamoTargetIndex.lookup', () => {
  beforeEach(() => ddbMock.reset());

  const meta = { pk: 'INDEX#META', snapshotAt: '2024-05-01T11:55:00.000Z', refreshedAt: '2024-05-01T11:56:00.000Z', instances: 1, targets: 1 };
  const item = (snapshotAt: string, expiresAt = NOW_S + 600) => ({ pk: `TARGETS#${INSTANCE_ID}`, targets: [TARGET], snapshotAt, expiresAt });
  const answer = (...items: object[]) => ({ Responses: { [TABLE]: items }, UnprocessedKeys: {} });

  it('reads the item and the meta item in one consistent BatchGet', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item(meta.snapshotAt), meta));
    const { index } = makeIndex();

    // Act
    const result = await index.lookup(INSTANCE_ID);

    // Assess
    expect(ddbMock).toHaveReceivedCommandTimes(BatchGetCommand, 1);
    expect(ddbMock).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: { [TABLE]: { Keys: [{ pk: `TARGETS#${INSTANCE_ID}` }, { pk: 'INDEX#META' }], ConsistentRead: true } },
    });
    expect(result).toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt });
  });

  it('treats an item older than the latest complete snapshot as stale', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item('2024-05-01T11:50:00.000Z'), meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [], refreshedAt: meta.refreshedAt });
  });

  it('trusts an item newer than the meta item (a refresh in progress)', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item('2024-05-01T12:00:00.000Z'), meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt });
  });

  it('returns the item without refreshedAt when no refresh has completed', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item('2024-05-01T12:00:00.000Z')));
    const { index } = makeIndex();

    // Act
    const result = await index.lookup(INSTANCE_ID);

    // Assess
    expect(result).toEqual({ targets: [TARGET] });
    expect(result).not.toHaveProperty('refreshedAt');
  });

  it('returns no targets when the instance has no item', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [], refreshedAt: meta.refreshedAt });
  });

  it('ignores an item past its TTL that DynamoDB has not deleted yet', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item(meta.snapshotAt, NOW_S - 1), meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [], refreshedAt: meta.refreshedAt });
  });

  it('retries unprocessed keys and merges the answers', async () => {
    // Prepare
    ddbMock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [meta] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: `TARGETS#${INSTANCE_ID}` }], ConsistentRead: true } },
      })
      .resolves(answer(item(meta.snapshotAt)));
    const { index, sleep } = makeIndex();

    // Act
    const result = await index.lookup(INSTANCE_ID);

    // Assess
    expect(ddbMock).toHaveReceivedNthSpecificCommandWith(2, BatchGetCommand, {
      RequestItems: { [TABLE]: { Keys: [{ pk: `TARGETS#${INSTANCE_ID}` }], ConsistentRead: true } },
    });
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(result).toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt });
  });

  it('fails after three attempts when keys stay unprocessed', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [] },
      UnprocessedKeys: { [TABLE]: { Keys: [{ pk: `TARGETS#${INSTANCE_ID}` }, { pk: 'INDEX#META' }] } },
    });
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).rejects.toBeInstanceOf(IndexReadError);
    expect(ddbMock).toHaveReceivedCommandTimes(BatchGetCommand, 3);
  });
});
