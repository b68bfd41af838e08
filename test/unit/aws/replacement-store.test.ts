// DynamoReplacementStore over a mocked document client: the waits a response leaves in its group,
// and the transaction that names a new instance the replacement of the earliest of them. What
// moto cannot show is a real race between two assignments: here the cancellation reasons are
// produced as DynamoDB documents them (one per item, in order).
import 'aws-sdk-client-mock-jest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { encodeWait, REPLACEMENT_WAIT_MS } from '../../../lambda/core/replacement-waits';
import type { ReplacementWait } from '../../../lambda/core/ports';
import { cancelled, makeStore, NOW, TABLE } from '../../support/event-store';

const WARNING = 'EC2 Spot Instance Interruption Warning';
const GROUP = 'web-asg';
const NEW = 'i-0ffffffffffffffff';

function wait(n: number, at: string): ReplacementWait {
  return { eventId: `evt-${n}`, instanceId: `i-00000000000000${n.toString().padStart(3, '0')}`, signalDetailType: WARNING, signalTime: at };
}

const EARLY = wait(1, '2024-05-03T10:00:00Z');
const LATE = wait(2, '2024-05-03T10:00:05Z');

const dynamo = mockClient(DynamoDBDocumentClient);

function setup() {
  dynamo.reset();
  dynamo.on(UpdateCommand).resolves({});
  dynamo.on(TransactWriteCommand).resolves({});
  const { store, sleep } = makeStore();
  return { store, sleep, dynamo };
}

function groupItem(waits: ReplacementWait[], known: string[]) {
  return { Item: { pk: `REPLACING#${GROUP}`, waiting: new Set(waits.map(encodeWait)), members: new Set(known) } };
}

describe('awaitReplacements', () => {
  const OLD = 'i-0aaaaaaaaaaaaaaa1';

  it("starts a round: the waits, the group's members, the replaced ones, on condition of the version read; names the group in REPLACING", async () => {
    // Prepare: nothing waits in the group (no item)
    const { store, dynamo } = setup();
    dynamo.on(GetCommand).resolves({});

    // Act
    await store.awaitReplacements(GROUP, [EARLY, LATE], [OLD]);

    // Assess
    const updates = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    const group = updates.find((u) => u.Key?.pk === `REPLACING#${GROUP}`);
    const groups = updates.find((u) => u.Key?.pk === 'REPLACING');
    expect(group).toMatchObject({
      TableName: TABLE,
      Key: { pk: `REPLACING#${GROUP}` },
      UpdateExpression: 'SET #waiting = :waits, #replaced = :replaced, #expiresAt = :expiresAt, #members = :members ADD #version :one',
      ConditionExpression: 'attribute_not_exists(#version)',
      ExpressionAttributeValues: {
        ':waits': new Set([encodeWait(EARLY), encodeWait(LATE)]),
        ':members': new Set([OLD]),
        ':replaced': new Set([EARLY.instanceId, LATE.instanceId]),
        ':expiresAt': Math.floor((NOW.getTime() + REPLACEMENT_WAIT_MS) / 1000),
      },
    });
    expect(groups).toMatchObject({
      Key: { pk: 'REPLACING' },
      ExpressionAttributeNames: { '#group': `group:${GROUP}` },
      ExpressionAttributeValues: { ':until': new Date(NOW.getTime() + REPLACEMENT_WAIT_MS).toISOString() },
    });
  });

  it("joins an open round: adds the waits and the replaced instances, never this batch's members (they include earlier replacements)", async () => {
    // Prepare: EARLY waits; R1, its replacement, is already in the group and in this batch's members.
    const { store, dynamo } = setup();
    const open = wait(1, new Date(NOW.getTime() - 20_000).toISOString());
    dynamo.on(GetCommand).resolves({ Item: { waiting: new Set([encodeWait(open)]), members: new Set([OLD]), replaced: new Set([open.instanceId]), version: 3 } });

    // Act
    await store.awaitReplacements(GROUP, [LATE], [OLD, 'i-0r1r1r1r1r1r1r1r1']);

    // Assess
    const group = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((u) => u.Key?.pk === `REPLACING#${GROUP}`);
    expect(group).toMatchObject({
      UpdateExpression: 'SET #expiresAt = :expiresAt, #members = :members ADD #waiting :waits, #replaced :replaced, #version :one',
      ConditionExpression: '#version = :read',
      ExpressionAttributeValues: { ':waits': new Set([encodeWait(LATE)]), ':replaced': new Set([LATE.instanceId]), ':members': new Set([OLD]), ':read': 3 },
    });
  });

  it("joining keeps only the members every response saw: an earlier response's replacement, already in a later batch's list, stays nameable", async () => {
    // Prepare: batch B (a later response) started the round and listed R1, the replacement that
    // had just launched for batch A's response; A's wait is written late and its list lacks R1.
    const { store, dynamo } = setup();
    const R1 = 'i-0r1r1r1r1r1r1r1r1';
    const bWait = wait(2, new Date(NOW.getTime() - 5_000).toISOString());
    const aWait = wait(1, new Date(NOW.getTime() - 8_000).toISOString());
    dynamo.on(GetCommand).resolves({ Item: { waiting: new Set([encodeWait(bWait)]), members: new Set([OLD, R1]), replaced: new Set([bWait.instanceId]), version: 1 } });

    // Act
    await store.awaitReplacements(GROUP, [aWait], [OLD, aWait.instanceId, bWait.instanceId]);

    // Assess: R1 dropped out of the members; A's victim is among the replaced.
    const group = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((u) => u.Key?.pk === `REPLACING#${GROUP}`);
    expect(group?.ExpressionAttributeValues).toMatchObject({ ':members': new Set([OLD]), ':replaced': new Set([aWait.instanceId]), ':read': 1 });
  });

  it('an empty intersection removes the members attribute (a string set cannot be empty)', async () => {
    // Prepare
    const { store, dynamo } = setup();
    const open = wait(1, new Date(NOW.getTime() - 1_000).toISOString());
    dynamo.on(GetCommand).resolves({ Item: { waiting: new Set([encodeWait(open)]), members: new Set(['i-0bbbbbbbbbbbbbbb2']), version: 2 } });

    // Act
    await store.awaitReplacements(GROUP, [LATE], [OLD]);

    // Assess
    const group = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((u) => u.Key?.pk === `REPLACING#${GROUP}`);
    expect(group?.UpdateExpression).toBe('SET #expiresAt = :expiresAt ADD #waiting :waits, #replaced :replaced, #version :one REMOVE #members');
    expect(group?.ExpressionAttributeValues).not.toHaveProperty(':members');
  });

  it('replaces waits too old to be answered by a new round; a round started meanwhile by another batch is joined instead', async () => {
    // Prepare: a stale wait (over an hour old) at version 7; another batch bumps it first.
    const { store, dynamo } = setup();
    const stale = wait(9, new Date(NOW.getTime() - REPLACEMENT_WAIT_MS - 1_000).toISOString());
    const open = wait(1, new Date(NOW.getTime() - 1_000).toISOString());
    dynamo
      .on(GetCommand)
      .resolvesOnce({ Item: { waiting: new Set([encodeWait(stale)]), members: new Set([OLD]), version: 7 } })
      .resolves({ Item: { waiting: new Set([encodeWait(stale), encodeWait(open)]), members: new Set([OLD]), version: 8 } });
    dynamo
      .on(UpdateCommand, { Key: { pk: `REPLACING#${GROUP}` } })
      .rejectsOnce(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' }))
      .resolves({});

    // Act
    await store.awaitReplacements(GROUP, [LATE], [OLD]);

    // Assess
    const writes = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input).filter((i) => i.Key?.pk === `REPLACING#${GROUP}`);
    expect(writes.map((w) => w.ConditionExpression)).toEqual(['#version = :read', '#version = :read']);
    expect(writes.map((w) => w.ExpressionAttributeValues?.[':read'])).toEqual([7, 8]);
    expect(writes[1]?.UpdateExpression).toMatch(/ADD #waiting :waits, #replaced :replaced/);
  });

  it('writes nothing for no waits', async () => {
    // Prepare
    const { store, dynamo } = setup();

    // Act
    await store.awaitReplacements(GROUP, [], [OLD]);

    // Assess
    expect(dynamo).not.toHaveReceivedAnyCommand();
  });
});

describe('groupsAwaitingReplacement', () => {
  it('names the groups whose wait is still open, strongly consistent; none without the item', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo
      .on(GetCommand)
      .resolvesOnce({ Item: { pk: 'REPLACING', 'group:web-asg': '2024-05-03T11:00:00.000Z', 'group:old-asg': '2024-05-03T09:00:00.000Z', expiresAt: 1 } })
      .resolvesOnce({});

    // Act
    const open = await store.groupsAwaitingReplacement();
    const none = await store.groupsAwaitingReplacement();

    // Assess
    expect(open).toEqual(new Set(['web-asg']));
    expect(none).toEqual(new Set());
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'REPLACING' }, ConsistentRead: true });
  });
});

describe('unknownMembers', () => {
  it('lists the members the waits do not know, none when nothing waits', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo
      .on(GetCommand)
      .resolvesOnce(groupItem([EARLY], ['i-0aaaaaaaaaaaaaaa1', EARLY.instanceId]))
      .resolvesOnce({ Item: { members: new Set(['i-0aaaaaaaaaaaaaaa1']) } });

    // Act
    const unknown = await store.unknownMembers(GROUP, ['i-0aaaaaaaaaaaaaaa1', NEW]);
    const noWait = await store.unknownMembers(GROUP, ['i-0aaaaaaaaaaaaaaa1', NEW]);

    // Assess
    expect(unknown).toEqual([NEW]);
    expect(noWait).toEqual([]);
  });
});

describe('assignReplacement', () => {
  const SEEN = '2024-05-03T10:00:09Z';

  it('names the instance the replacement of the earliest wait: wait taken, record, ATTEMPTS# and pointer in one transaction', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo.on(GetCommand).resolves(groupItem([LATE, EARLY], [EARLY.instanceId, LATE.instanceId]));

    // Act
    const assigned = await store.assignReplacement(GROUP, NEW, SEEN);

    // Assess
    expect(assigned).toEqual({ eventId: 'evt-1', entry: { event: 'replacement-launched', at: SEEN, detail: NEW }, msFromSignal: 9_000 });
    const items = dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items[0]?.Update).toMatchObject({
      Key: { pk: `REPLACING#${GROUP}` },
      UpdateExpression: 'DELETE #waiting :wait ADD #replaced :instance',
      ConditionExpression: 'contains(#waiting, :encoded) AND NOT contains(#replaced, :instanceId) AND NOT contains(#members, :instanceId)',
      ExpressionAttributeValues: { ':wait': new Set([encodeWait(EARLY)]), ':encoded': encodeWait(EARLY), ':instance': new Set([NEW]) },
    });
    const replacement = { instanceId: NEW, seenAt: SEEN, msFromSignal: 9_000 };
    expect(items[1]?.Update).toMatchObject({ Key: { pk: 'EVENT#evt-1' }, ConditionExpression: 'attribute_exists(#timeline)', ExpressionAttributeValues: { ':replacement': replacement } });
    expect(items[2]?.Update).toMatchObject({ Key: { pk: 'ATTEMPTS#evt-1' }, ExpressionAttributeValues: { ':replacement': replacement } });
    expect(items[3]?.Put?.Item).toMatchObject({ pk: `INSTANCE#${NEW}`, role: 'replacement', eventId: 'evt-1', signalTime: '2024-05-03T10:00:00.000Z' });
  });

  it('is null for a known instance, a group without waits, or waits all after the sighting', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo
      .on(GetCommand)
      .resolvesOnce(groupItem([EARLY], [NEW]))
      .resolvesOnce({})
      .resolvesOnce(groupItem([LATE], []));

    // Act
    const known = await store.assignReplacement(GROUP, NEW, SEEN);
    const noItem = await store.assignReplacement(GROUP, NEW, SEEN);
    const tooEarly = await store.assignReplacement(GROUP, NEW, '2024-05-03T10:00:01Z');

    // Assess
    expect([known, noItem, tooEarly]).toEqual([null, null, null]);
    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('when another assignment took the wait first, reads again and takes the next one', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo.on(GetCommand).resolvesOnce(groupItem([EARLY, LATE], [])).resolvesOnce(groupItem([LATE], []));
    dynamo.on(TransactWriteCommand).rejectsOnce(cancelled({ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }, { Code: 'None' })).resolves({});

    // Act
    const assigned = await store.assignReplacement(GROUP, NEW, SEEN);

    // Assess
    expect(assigned?.eventId).toBe('evt-2');
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it('drops a wait whose record is gone (retention ran out), then takes the next one', async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo.on(GetCommand, { Key: { pk: `REPLACING#${GROUP}` } }).resolvesOnce(groupItem([EARLY, LATE], [])).resolvesOnce(groupItem([LATE], []));
    dynamo.on(GetCommand, { Key: { pk: 'EVENT#evt-1' } }).resolves({});
    dynamo.on(TransactWriteCommand).rejectsOnce(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' })).resolves({});

    // Act
    const assigned = await store.assignReplacement(GROUP, NEW, SEEN);

    // Assess
    expect(assigned?.eventId).toBe('evt-2');
    expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `REPLACING#${GROUP}` },
      UpdateExpression: 'DELETE #waiting :wait',
      ExpressionAttributeValues: { ':wait': new Set([encodeWait(EARLY)]) },
    });
  });

  it('a transaction conflict (two sightings of one group at once, as in a wave) is retried after a jittered pause, not thrown', async () => {
    // Prepare: DynamoDB cancels one of two concurrent transactions on REPLACING#<group> with
    // TransactionConflict (moto cannot: its conflicting transactions both succeed).
    const { store, sleep, dynamo } = setup();
    dynamo.on(GetCommand).resolves(groupItem([EARLY, LATE], []));
    dynamo.on(TransactWriteCommand).rejectsOnce(cancelled({ Code: 'TransactionConflict' }, { Code: 'None' }, { Code: 'None' }, { Code: 'None' })).resolves({});

    // Act
    const assigned = await store.assignReplacement(GROUP, NEW, SEEN);

    // Assess
    expect(assigned?.eventId).toBe('evt-1');
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it("keeps the wait when its record is a retry's claim in progress (no timeline yet), and rejects so the sighting is retried", async () => {
    // Prepare: a response that detached but failed elsewhere (FAILED) is being retried; its
    // claim replaced the EVENT item, which has no timeline until the retry's record is written.
    const { store, dynamo } = setup();
    dynamo.on(GetCommand, { Key: { pk: `REPLACING#${GROUP}` } }).resolves(groupItem([EARLY, LATE], []));
    dynamo.on(GetCommand, { Key: { pk: 'EVENT#evt-1' } }).resolves({ Item: { pk: 'EVENT#evt-1', status: 'IN_PROGRESS', leaseUntil: '2999-01-01T00:00:00.000Z' } });
    dynamo.on(TransactWriteCommand).rejects(cancelled({ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }));

    // Act
    const assigning = store.assignReplacement(GROUP, NEW, SEEN);

    // Assess: nothing dropped, no later wait given the earlier one's replacement.
    await expect(assigning).rejects.toMatchObject({ name: 'ReplacementRecordBusyError', eventId: 'evt-1' });
    expect(dynamo).not.toHaveReceivedCommand(UpdateCommand);
    expect(dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it("rejects with DynamoDB's error for anything else", async () => {
    // Prepare
    const { store, dynamo } = setup();
    dynamo.on(GetCommand).resolves(groupItem([EARLY], []));
    dynamo.on(TransactWriteCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));

    // Act
    const assigning = store.assignReplacement(GROUP, NEW, SEEN);

    // Assess
    await expect(assigning).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });
});
