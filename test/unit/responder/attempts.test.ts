// Issue 9: a response is never lost or swallowed. Several invocations answer the same event
// (Lambda's retries, takeovers of an abandoned claim): the short lease lets a redelivery take
// over once the holder has died, the record write is retried and fails loudly, and the
// attempts merge. The claim table is emulated (emulateClaimTable) so the second delivery sees
// what the first one left; the clock moves only when the test moves it.
import 'aws-sdk-client-mock-jest';
import {
  AutoScalingServiceException,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { ConditionalCheckFailedException, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import {
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2ServiceException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutCommand, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoEventStore } from '../../../lambda/aws/store/event-store';
import type { RedeliveryPort } from '../../../lambda/core/ports';
import { FAILED_MESSAGE_VISIBILITY_SECONDS } from '../../../lambda/make-handler';
import { respondBatch } from '../../../lambda/responder';
import { LEASE_MS } from '../../../lambda/response/deps';
import {
  emulateClaimTable,
  eventTimeOf,
  FLEET,
  isClaim,
  serviceError,
  TABLE_NAME,
  terminateWarning,
  worldFor,
  type MockAws,
} from '../../support/mock-aws';

const ADMIN = FLEET.indexedGroup;
const [HTTP, HTTPS] = FLEET.asgTargetGroups;
const REPLACEMENT = 'i-0fedcba9876543210';

type Item = Record<string, unknown>;

/**
 * The emulated table, with the writes the claim table helper leaves alone: the heartbeat's
 * renewal (accepted), the parked unrecorded attempt (appended to ATTEMPTS#) and the Put of an
 * unclaimed record (refused when the key exists, as its condition says).
 */
function world(event = terminateWarning(), opts: { msAfterEvent?: number; failFinish?: () => boolean } = {}) {
  const aws = worldFor(event, opts.msAfterEvent ?? 5_000);
  const finishes: TransactWriteCommandInput[] = [];
  const table = emulateClaimTable(aws, {
    fault: (input) => {
      if (isClaim(input)) return undefined;
      finishes.push(input);
      return opts.failFinish?.()
        ? serviceError(DynamoDBServiceException, 'ServiceUnavailable', 503, 'Service Unavailable')
        : undefined;
    },
  });
  aws.dynamo.on(UpdateCommand).callsFake((input: { Key?: { pk?: unknown }; ExpressionAttributeValues?: Item }) => {
    const pk = String(input.Key?.pk);
    if (pk.startsWith('ATTEMPTS#')) {
      const item = table.get(pk) ?? { pk };
      const parked = (input.ExpressionAttributeValues?.[':one'] as Item[] | undefined) ?? [];
      table.set(pk, { ...item, unrecorded: [...((item.unrecorded as Item[] | undefined) ?? []), ...parked] });
    }
    return {};
  });
  aws.dynamo.on(PutCommand).callsFake((input: { Item?: Item }) => {
    const pk = String(input.Item?.pk);
    if (table.has(pk)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
    table.set(pk, { ...input.Item });
    return {};
  });
  const store = storeOf(aws);
  const respond = (raw = event) => aws.handler({ store })(raw);
  return { aws, table, finishes, respond, event };
}

/** The store on the test clock; its own retries wait no real time. */
function storeOf(aws: MockAws): DynamoEventStore {
  return new DynamoEventStore({
    client: aws.clients.dynamo,
    tableName: TABLE_NAME,
    retentionDays: 90,
    now: () => new Date(aws.clock.now()),
    sleep: async () => undefined,
  });
}

function eventItem(table: Map<string, Item>, event: { id?: unknown }): Item | undefined {
  return table.get(`EVENT#${String(event.id)}`);
}

function accessDenied(): Error {
  return serviceError(ElasticLoadBalancingV2ServiceException, 'AccessDenied', 403, 'User is not authorized to perform: elasticloadbalancing:DeregisterTargets');
}

function throttled(): Error {
  return serviceError(ElasticLoadBalancingV2ServiceException, 'Throttling', 400, 'Rate exceeded');
}

function deregisteredFrom(aws: MockAws): string[] {
  return aws.elbv2.commandCalls(DeregisterTargetsCommand).map((c) => String(c.args[0].input.TargetGroupArn));
}

describe('issue 9.1: a retry after a failure', () => {
  it('issue 9.1: a retry after a failure takes over instead of being a duplicate of itself', async () => {
    // Prepare: the final record write answers 503 throughout, and one deregistration is denied.
    let outage = true;
    const { aws, table, respond, event } = world(undefined, { failFinish: () => outage });
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejectsOnce(accessDenied()).resolves({});

    // Act: the first invocation; then Lambda's retry a minute later, DynamoDB back.
    const first = await respond().catch((err: unknown) => err);
    const afterFirst = { ...eventItem(table, event) };
    outage = false;
    aws.clock.advance(60_000);
    const second = await respond();

    // Assess: the first failed loudly (so Lambda retries and then dead-letters); its claim ran
    // out; the retry took it over, acted and recorded both attempts.
    expect(first).toMatchObject({ name: 'RecordWriteFailedError' });
    expect(afterFirst).toMatchObject({ status: 'IN_PROGRESS' });
    expect(Date.parse(String(afterFirst.leaseUntil))).toBeLessThanOrEqual(eventTimeOf(event) + 5_000 + LEASE_MS);
    expect(second.outcome).toBe('handled');
    expect(second.duplicateOf).toBeUndefined();
    expect(second.attempts?.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'failed'],
      [2, 'handled'],
    ]);
    expect(eventItem(table, event)).toMatchObject({ status: 'COMPLETED', outcome: 'handled' });
    expect(deregisteredFrom(aws).filter((arn) => arn === ADMIN)).toHaveLength(2);
  });

  it('issue 9.1: a live concurrent duplicate within the lease is still a duplicate and touches nothing', async () => {
    // Prepare: the same event is being handled right now by a live invocation (its lease runs).
    const { aws, table, respond, event } = world();
    const now = aws.clock.now();
    table.set(`EVENT#${String(event.id)}`, {
      pk: `EVENT#${String(event.id)}`,
      status: 'IN_PROGRESS',
      eventId: event.id,
      claimToken: 'the-live-holder',
      leaseUntil: new Date(now + LEASE_MS / 2).toISOString(),
    });

    // Act
    const record = await respond();

    // Assess
    expect(record).toMatchObject({ outcome: 'duplicate', duplicateOf: event.id });
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
  });

  it('issue 9.1: a delivery of the same event id that finds its own claim in progress with an expired lease takes over', async () => {
    // Prepare: a claim of this very event whose holder died (no renewal since).
    const { aws, table, respond, event } = world();
    const now = aws.clock.now();
    table.set(`EVENT#${String(event.id)}`, {
      pk: `EVENT#${String(event.id)}`,
      status: 'IN_PROGRESS',
      eventId: event.id,
      claimToken: 'a-dead-holder',
      leaseUntil: new Date(now - 1).toISOString(),
    });

    // Act
    const record = await respond();

    // Assess
    expect(record.outcome).toBe('handled');
    expect(eventItem(table, event)).toMatchObject({ status: 'COMPLETED' });
    expect(aws.autoScaling).toHaveReceivedCommand(DetachInstancesCommand);
  });
});

/** One SQS batch of the warning queue holding `event` (receive `receive`). */
function fromWarningQueue(event: unknown, receive = 1): SQSEvent {
  return {
    Records: [
      {
        messageId: 'warning-message',
        receiptHandle: `receipt-${receive}`,
        body: JSON.stringify(event),
        attributes: { ApproximateReceiveCount: String(receive), SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: WARNING_QUEUE,
        awsRegion: 'us-east-1',
      },
    ],
  };
}

const WARNING_QUEUE = 'arn:aws:sqs:us-east-1:123456789012:spot-responder-WarningQueue';

/** A RedeliveryPort that remembers what it was asked. */
function redeliveryRecorder() {
  const asked: Array<{ messageIds: string[]; seconds: number }> = [];
  const redelivery: RedeliveryPort = {
    redeliverIn: async (messages, seconds) => {
      asked.push({ messageIds: messages.map((m) => m.messageId), seconds });
      return [];
    },
  };
  return { asked, redelivery };
}

describe("issue 9.1 on the queue: a failed response's message comes back inside the notice", () => {
  it('reports the failed message and brings it back just after a lease, not after the 180 s timeout; that retry takes over and completes the response', async () => {
    // Prepare: one deregistration is denied on the first attempt only.
    const { aws, table, event } = world();
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejectsOnce(accessDenied()).resolves({});
    const { asked, redelivery } = redeliveryRecorder();
    const store = storeOf(aws);
    const handler = aws.handler({ store, redelivery });

    // Act: the first receive; the second comes when the shortened visibility ends.
    const first = (await handler(fromWarningQueue(event, 1))) as SQSBatchResponse;
    aws.clock.advance(FAILED_MESSAGE_VISIBILITY_SECONDS * 1_000);
    const second = (await handler(fromWarningQueue(event, 2))) as SQSBatchResponse;

    // Assess: reported failed and shortened to 21 s (not the queue's 180 s, past the notice);
    // the retry acted inside the notice and the record lists both attempts.
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'warning-message' }]);
    expect(asked).toEqual([{ messageIds: ['warning-message'], seconds: FAILED_MESSAGE_VISIBILITY_SECONDS }]);
    expect(FAILED_MESSAGE_VISIBILITY_SECONDS).toBe(21);
    expect(second.batchItemFailures).toEqual([]);
    expect(asked).toHaveLength(1);
    expect(eventItem(table, event)).toMatchObject({ status: 'COMPLETED', outcome: 'handled' });
    expect((eventItem(table, event)?.attempts as Array<{ outcome: string }> | undefined)?.map((a) => a.outcome)).toEqual(['failed', 'handled']);
    expect(deregisteredFrom(aws).filter((arn) => arn === ADMIN)).toHaveLength(2);
  });

  it('issue 9.1 on the queue: when the record write failed (claim still held), the shortened retry comes after the lease and takes over, not a duplicate of itself', async () => {
    // Prepare: the final record write answers 503 on the first receive only.
    let outage = true;
    const { aws, table, event } = world(undefined, { failFinish: () => outage });
    const { asked, redelivery } = redeliveryRecorder();
    const handler = aws.handler({ store: storeOf(aws), redelivery });

    // Act
    const first = (await handler(fromWarningQueue(event, 1))) as SQSBatchResponse;
    const held = { ...eventItem(table, event) };
    outage = false;
    aws.clock.advance((asked[0]?.seconds ?? 0) * 1_000);
    const second = (await handler(fromWarningQueue(event, 2))) as SQSBatchResponse;

    // Assess: the claim was still held after the first receive; the retry took it over.
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'warning-message' }]);
    expect(held).toMatchObject({ status: 'IN_PROGRESS' });
    expect(second.batchItemFailures).toEqual([]);
    expect(eventItem(table, event)).toMatchObject({ status: 'COMPLETED', outcome: 'handled' });
    expect(eventItem(table, event)?.duplicateOf).toBeUndefined();
  });

  it('a redelivery too late to act on a failed response answers failed, so the message reaches the DLQ, and keeps the FAILED record', async () => {
    // Prepare: the first receive fails for good; the visibility change failed too, so the
    // message comes back after the queue's 180 s timeout, past the 120 s deadline.
    const { aws, table, event } = world();
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejects(accessDenied());
    const store = storeOf(aws);
    const handler = aws.handler({ store });
    await handler(fromWarningQueue(event, 1));
    const failedItem = { ...eventItem(table, event) };
    aws.clock.advance(180_000);
    aws.elbv2.resetHistory();

    // Act
    const late = (await handler(fromWarningQueue(event, 2))) as SQSBatchResponse;

    // Assess: reported failed again (after maxReceiveCount receives the queue dead-letters it),
    // nothing sent to the fleet, the stored record unchanged.
    expect(failedItem).toMatchObject({ status: 'FAILED', outcome: 'failed' });
    expect(late.batchItemFailures).toEqual([{ itemIdentifier: 'warning-message' }]);
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(eventItem(table, event)).toMatchObject({ status: 'FAILED', outcome: 'failed' });
  });

  it('a redelivery too late to act on a handled response is its duplicate, counted on the record, and not reported (its message is deleted)', async () => {
    // Prepare: handled on the first receive.
    const { aws, event } = world();
    const store = storeOf(aws);
    const handler = aws.handler({ store });
    const first = (await handler(fromWarningQueue(event, 1))) as SQSBatchResponse;
    aws.clock.advance(180_000);
    aws.dynamo.resetHistory();

    // Act
    const late = (await handler(fromWarningQueue(event, 2))) as SQSBatchResponse;
    const direct = await respondBatch([event], aws.deps({ store }));

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(late.batchItemFailures).toEqual([]);
    expect(direct[0]).toMatchObject({ outcome: 'duplicate', duplicateOf: event.id, reason: expect.stringMatching(/^already recorded as event .* too late to act on/) });
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${String(event.id)}` },
      UpdateExpression: expect.stringContaining('ADD deliveries :one'),
    });
  });

  it('a redelivery too late to act, after its holder died without recording anything, closes the claim failed and answers failed (DLQ)', async () => {
    // Prepare: an invocation claimed the event and died (a timeout, out of memory) before
    // recording or parking anything; its batch comes back after the queue's 180 s.
    const { aws, table, event } = world();
    const store = storeOf(aws);
    const [claimed] = await store.claimAll(
      [{ eventId: String(event.id), signal: 'spot-interruption-warning', instanceId: FLEET.instanceId, eventTime: String(event.time), actsOnInstance: true }],
      new Date(aws.clock.now() + LEASE_MS),
    );
    aws.clock.advance(180_000);
    aws.elbv2.resetHistory();

    // Act
    const late = (await aws.handler({ store })(fromWarningQueue(event, 2))) as SQSBatchResponse;

    // Assess: reported failed (so it is dead-lettered), the record says what happened, nothing sent.
    expect(claimed).toMatchObject({ ok: true, value: { claimed: true } });
    expect(late.batchItemFailures).toEqual([{ itemIdentifier: 'warning-message' }]);
    expect(eventItem(table, event)).toMatchObject({
      status: 'FAILED',
      outcome: 'failed',
      reason: expect.stringMatching(/^abandoned: the invocation that claimed this event died before recording/),
    });
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  });

  it('a visibility change that fails leaves the batch response as it is', async () => {
    // Prepare
    const { aws, event } = world();
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejects(accessDenied());
    const redelivery: RedeliveryPort = { redeliverIn: async () => Promise.reject(new Error('AccessDenied: sqs:ChangeMessageVisibility')) };
    const handler = aws.handler({ store: storeOf(aws), redelivery });

    // Act
    const answer = (await handler(fromWarningQueue(event, 1))) as SQSBatchResponse;

    // Assess
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'warning-message' }]);
  });
});

describe('issue 9.2: the final record write fails', () => {
  it('issue 9.2: completed work is recorded when the record write fails twice and then succeeds', async () => {
    // Prepare
    let failures = 2;
    const { table, finishes, respond, event } = world(undefined, { failFinish: () => failures-- > 0 });

    // Act
    const record = await respond();

    // Assess
    expect(record.outcome).toBe('handled');
    expect(finishes).toHaveLength(3);
    expect(eventItem(table, event)).toMatchObject({ status: 'COMPLETED', outcome: 'handled', detached: true });
  });

  it('issue 9.2: a late delivery takes over the abandoned claim and records what the first attempt did', async () => {
    // Prepare: the first attempt does all the work but never manages to write its record.
    let outage = true;
    const { aws, table, respond, event } = world(undefined, { failFinish: () => outage });
    await expect(respond()).rejects.toMatchObject({ name: 'RecordWriteFailedError' });
    outage = false;

    // Act: the retry comes after the deadline: it may not act, but it closes the claim.
    aws.clock.set(eventTimeOf(event) + 180_000);
    const late = await respond();

    // Assess
    expect(late).toMatchObject({ outcome: 'skipped', skipKind: 'too-late' });
    const stored = eventItem(table, event);
    expect(stored).toMatchObject({ status: 'COMPLETED', outcome: 'handled', detached: true, autoScalingGroup: FLEET.groupName });
    expect((stored?.attempts as Array<{ outcome: string }>).map((a) => a.outcome)).toEqual(['handled', 'skipped']);
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand)).toHaveLength(1);
  });

  it('issue 9.2: a claim carries its day, so history lists it as in progress, then as abandoned', async () => {
    // Prepare
    let outage = true;
    const { table, respond, event } = world(undefined, { failFinish: () => outage });
    await respond().catch(() => undefined);
    outage = false;

    // Assess: the claim item is in the history index and reads as an open claim.
    const item = eventItem(table, event);
    expect(item).toMatchObject({ day: expect.stringMatching(/^DAY#/), eventTimeAndId: expect.stringContaining(String(event.id)) });
    const { toStoredRecord } = await import('../../../lambda/aws/store/items');
    const leaseUntil = Date.parse(String(item?.leaseUntil));
    expect(toStoredRecord(item ?? {}, new Date(leaseUntil - 1).toISOString()).outcome).toBe('in-progress');
    expect(toStoredRecord(item ?? {}, new Date(leaseUntil + 1).toISOString()).outcome).toBe('abandoned');
  });
});

describe('issue 9.3: a retried response', () => {
  it('issue 9.3: a retried response keeps what the first attempt did (detached, group, replacement) beside what the retry did', async () => {
    // Prepare: attempt 1 detaches but one deregistration is throttled on every SDK attempt;
    // before the retry, the replacement's state change names it on the record (as
    // DynamoReplacementStore.assignReplacement writes it); by attempt 2 the instance has left its group.
    const { aws, table, respond, event } = world();
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejectsOnce(throttled()).resolves({});

    // Act
    await expect(respond()).rejects.toMatchObject({ name: 'ResponseFailedError' });
    const named = { instanceId: REPLACEMENT, seenAt: '2024-05-03T10:00:09.000Z', msFromSignal: 9_000 };
    for (const pk of [`EVENT#${String(event.id)}`, `ATTEMPTS#${String(event.id)}`]) table.set(pk, { ...table.get(pk), replacement: named });
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
    aws.clock.advance(60_000);
    const retried = await respond();

    // Assess
    expect(retried).toMatchObject({ outcome: 'handled', detached: true, autoScalingGroup: FLEET.groupName });
    expect(retried.deregisteredFrom).toEqual(expect.arrayContaining([HTTP, HTTPS, ADMIN]));
    expect(retried.attempts?.map((a) => a.outcome)).toEqual(['failed', 'handled']);
    expect(retried.attempts?.[1]?.actions).toContainEqual(expect.objectContaining({ action: 'detach', result: 'skipped' }));
    const stored = eventItem(table, event);
    // The retry's claim replaced the EVENT item; its record takes the replacement back from ATTEMPTS#.
    expect(stored).toMatchObject({ detached: true, replacement: named });
    expect(stored?.timeline).toMatchObject({ 'replacement-launched': { at: named.seenAt, detail: REPLACEMENT }, detached: expect.any(Object) });
    expect(retried.replacement).toEqual(named);
  });
});

describe('issue 9.5: a lost DetachInstances response', () => {
  it('issue 9.5: a detach whose SDK retry finds the instance gone from the group is recorded as detached', async () => {
    // Prepare: the first DetachInstances took effect but its response was lost; the SDK's
    // retry (attempt 2) is refused: not part of the group.
    const { aws, respond } = world();
    const refusal = serviceError(
      AutoScalingServiceException,
      'ValidationError',
      400,
      `The instance ${FLEET.instanceId} is not part of Auto Scaling group ${FLEET.groupName}.`,
    ) as Error & { $metadata: { attempts?: number } };
    refusal.$metadata.attempts = 2;
    aws.autoScaling.on(DetachInstancesCommand).rejects(refusal);

    // Act
    const record = await respond();

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(record.actions).toContainEqual(expect.objectContaining({ action: 'detach', result: 'ok' }));
  });

  it('issue 9.5: "not part of Auto Scaling group" on the first attempt is skipped, and does not say the instance left InService/Standby', async () => {
    // Prepare
    const { aws, respond } = world();
    aws.autoScaling
      .on(DetachInstancesCommand)
      .rejects(
        serviceError(AutoScalingServiceException, 'ValidationError', 400, `The instance ${FLEET.instanceId} is not part of Auto Scaling group ${FLEET.groupName}.`),
      );

    // Act
    const record = await respond();

    // Assess
    const detach = record.actions.find((a) => a.action === 'detach');
    expect(detach).toMatchObject({ result: 'skipped' });
    expect(detach?.reason).toMatch(/no longer part of the group/);
    expect(detach?.reason).not.toMatch(/InService/);
    expect(record.detached).toBe(false);
  });
});

it('the claim transaction is the only write before the fleet is touched (TransactWriteCommand first)', async () => {
  const { aws, respond } = world();
  await respond();
  const [first] = aws.dynamo.commandCalls(TransactWriteCommand);
  const [deregistration] = aws.elbv2.commandCalls(DeregisterTargetsCommand);
  expect(first && deregistration && first.calledBefore(deregistration)).toBe(true);
});
