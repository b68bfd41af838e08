import 'aws-sdk-client-mock-jest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoTargetIndex, IndexReadError, IndexWriteError, INDEX_ITEM_GRACE_SECONDS, type IndexEntry } from '../../../lambda/aws/target-index';
import type { AsgFacts, IndexedTarget } from '../../../lambda/core/model';

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

function instances(count: number): Map<string, IndexEntry> {
  return new Map(
    Array.from({ length: count }, (_, i) => {
      const id = `i-${String(i).padStart(17, '0')}`;
      return [id, { targets: [{ targetGroupArn: TG, targetId: id, targetType: 'instance' as const, port: 80 }] }];
    }),
  );
}

/** No meta and no item yet: a first refresh. */
function emptyTable() {
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] }, UnprocessedKeys: {} });
}

describe('DynamoTargetIndex.writeSnapshot', () => {
  beforeEach(() => {
    ddbMock.reset();
    emptyTable();
  });

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
          // No snapshot visible yet: the new one goes to the staged slot, visible once META names it.
          staged: {
            targets: [{ targetGroupArn: TG, targetId: 'i-00000000000000000', targetType: 'instance', port: 80 }],
            snapshotAt,
          },
          expiresAt: NOW_S + 3 * 5 * 60 + INDEX_ITEM_GRACE_SECONDS,
        },
      },
    });
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: {
        pk: 'INDEX#META',
        snapshotAt,
        refreshedAt: NOW.toISOString(),
        // Three intervals (15 min) past the refresh: it took only one minute.
        validUntil: '2024-05-01T12:15:00.000Z',
        instances: 30,
        targets: 30,
      },
    });
    expect(ddbMock.calls().at(-1)?.args[0]).toBeInstanceOf(PutCommand);
  });

  it('stores the registrations without the health state the scan saw', async () => {
    // Prepare
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();

    // Act
    await index.writeSnapshot(new Map([[INSTANCE_ID, { targets: [{ ...TARGET, state: 'healthy' }] }]]), NOW.toISOString());

    // Assess
    expect(ddbMock).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [TABLE]: [{ PutRequest: { Item: expect.objectContaining({ staged: { targets: [TARGET], snapshotAt: NOW.toISOString() } }) } }],
      },
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

  it("writes into the slot that does not hold the visible snapshot, merging the same snapshot's earlier part", async () => {
    // Prepare: META shows snapshot V; the item holds V on top and an earlier part of N staged.
    const V = '2024-05-01T11:50:00.000Z';
    const N = '2024-05-01T11:58:00.000Z';
    const other: IndexedTarget = { ...TARGET, targetGroupArn: TG.replace('/web/', '/api/') };
    ddbMock.reset();
    ddbMock.on(GetCommand).resolves({ Item: { pk: 'INDEX#META', snapshotAt: V } });
    ddbMock.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [{ pk: `TARGETS#${INSTANCE_ID}`, snapshotAt: V, targets: [TARGET], staged: { snapshotAt: N, targets: [TARGET] } }],
      },
    });
    ddbMock.on(BatchWriteCommand).resolves({ UnprocessedItems: {} });
    const group: AsgFacts = {
      groupName: 'web-asg',
      targetGroupArns: [TG],
      instanceIds: [],
      terminatingHooks: [],
      desiredCapacity: 2,
      capacityRebalance: false,
      suspendedProcesses: ['Launch'],
      tags: {},
    };
    const { index } = makeIndex();

    // Act
    await index.writePart(new Map([[INSTANCE_ID, { targets: [TARGET, other], group }]]), N);

    // Assess: V untouched on top; N holds both parts' registrations once each, and the group.
    const put = ddbMock.commandCalls(BatchWriteCommand)[0]!.args[0].input.RequestItems![TABLE]![0]!.PutRequest!.Item;
    expect(put).toMatchObject({ snapshotAt: V, targets: [TARGET], staged: { snapshotAt: N, targets: [TARGET, other], group } });
  });

  it('writes only the meta item for an empty fleet', async () => {
    // Prepare
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();

    // Act
    await index.writeSnapshot(new Map([['i-empty', { targets: [] }]]), NOW.toISOString());

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

  it('does not show a snapshot still being built (newer than the meta item), but the visible one beside it', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item('2024-05-01T12:00:00.000Z'), meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [], refreshedAt: meta.refreshedAt });
    ddbMock.on(BatchGetCommand).resolves(
      answer({ ...item('2024-05-01T12:00:00.000Z'), staged: { snapshotAt: meta.snapshotAt, targets: [TARGET] } }, meta),
    );
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt });
  });

  it("returns the group's facts beside the registrations, from the same single BatchGet", async () => {
    // Prepare
    const group = { groupName: 'web-asg', targetGroupArns: [TG], instanceIds: [], terminatingHooks: ['drain'], desiredCapacity: 3, capacityRebalance: true, suspendedProcesses: [], tags: { team: 'web' } };
    ddbMock.on(BatchGetCommand).resolves(answer({ ...item(meta.snapshotAt), group }, meta));
    const { index } = makeIndex();

    // Act
    const result = await index.lookup(INSTANCE_ID);

    // Assess
    expect(ddbMock).toHaveReceivedCommandTimes(BatchGetCommand, 1);
    expect(result).toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt, group });
  });

  it("ignores group facts that lack one the plan reads (an item of an older version): the group is then read fresh", async () => {
    // Prepare: no suspendedProcesses, as the refresher wrote them before it recorded them
    const group = { groupName: 'web-asg', targetGroupArns: [TG], instanceIds: [], terminatingHooks: [], desiredCapacity: 3, capacityRebalance: true, tags: {} };
    ddbMock.on(BatchGetCommand).resolves(answer({ ...item(meta.snapshotAt), group }, meta));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [TARGET], refreshedAt: meta.refreshedAt });
  });

  it('shows nothing once the snapshot is past its validUntil (a dead refresher)', async () => {
    // Prepare
    ddbMock.on(BatchGetCommand).resolves(answer(item(meta.snapshotAt), { ...meta, validUntil: '2024-05-01T11:59:59.000Z' }));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.lookup(INSTANCE_ID)).resolves.toEqual({ targets: [], refreshedAt: meta.refreshedAt });
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

describe('DynamoTargetIndex lease and checkpoint', () => {
  beforeEach(() => ddbMock.reset());

  it('takes the lease with a conditional put that lets only an absent or expired lease be replaced', async () => {
    // Prepare
    ddbMock.on(PutCommand).resolves({});
    const { index } = makeIndex();

    // Act
    const result = await index.acquireLease('req-1', new Date('2024-05-01T12:04:10.000Z'));

    // Assess
    expect(result).toEqual({ acquired: true });
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ pk: 'INDEX#LEASE', owner: 'req-1', leaseUntil: '2024-05-01T12:04:10.000Z' }),
      ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
      ExpressionAttributeValues: { ':now': NOW.toISOString() },
    });
  });

  it('answers who holds the lease when the condition fails', async () => {
    // Prepare
    ddbMock.on(PutCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
        Item: { owner: { S: 'req-0' }, leaseUntil: { S: '2024-05-01T12:03:00.000Z' } },
      }),
    );
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.acquireLease('req-1', NOW)).resolves.toEqual({
      acquired: false,
      holder: 'req-0',
      leaseUntil: '2024-05-01T12:03:00.000Z',
    });
  });

  it('rethrows any other error of the lease write', async () => {
    ddbMock.on(PutCommand).rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(makeIndex().index.acquireLease('req-1', NOW)).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });

  it('releases only its own lease, and shrugs when another refresh took it over', async () => {
    // Prepare
    ddbMock.on(DeleteCommand).rejects(Object.assign(new Error('no'), { name: 'ConditionalCheckFailedException' }));
    const { index } = makeIndex();

    // Act / Assess
    await expect(index.releaseLease('req-1')).resolves.toBeUndefined();
    expect(ddbMock).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { pk: 'INDEX#LEASE' },
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: { ':owner': 'req-1' },
    });
  });

  it('writes, reads back and clears the checkpoint', async () => {
    // Prepare
    ddbMock.on(PutCommand).resolves({});
    ddbMock.on(GetCommand).resolves({ Item: { pk: 'INDEX#CHECKPOINT', snapshotAt: 'S', state: { parts: 1 }, updatedAt: 'U' } });
    ddbMock.on(DeleteCommand).resolves({});
    const { index } = makeIndex();

    // Act
    await index.writeCheckpoint('S', { parts: 1 });
    const read = await index.readCheckpoint<{ parts: number }>();
    await index.clearCheckpoint();

    // Assess
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ pk: 'INDEX#CHECKPOINT', snapshotAt: 'S', state: { parts: 1 } }) });
    expect(read).toEqual({ snapshotAt: 'S', state: { parts: 1 }, updatedAt: 'U' });
    expect(ddbMock).toHaveReceivedCommandWith(DeleteCommand, { Key: { pk: 'INDEX#CHECKPOINT' } });
  });
});
