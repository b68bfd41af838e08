// The rest of an interruption's life through the Lambda's entry point: a rebalance
// recommendation acted on, the warning that follows it, opt-in tagging, ECS draining, the state
// changes that extend the record, and adapters that only plan (the dry run).
import 'aws-sdk-client-mock-jest';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeContainerInstancesCommand,
  ECSServiceException,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AutoScalingPort, LoadBalancingPort } from '../../../lambda/core/ports';
import type { ResponderBehaviour } from '../../../lambda/core/behaviour';
import { loadEvent } from '../../support/fixtures';
import { stateChangeEvent } from '../../support/lifecycle-events';
import {
  claimsSent,
  deregistrationsSent,
  emulateClaimTable,
  eventTimeOf,
  finishedRecord,
  finishesSent,
  FLEET,
  fleetMocks,
  groupReply,
  instanceReply,
  type MockAws,
  NO_MEMBERSHIP,
  responseFailure,
  serviceError,
  TABLE_NAME,
  unclaimedPuts,
  worldFor,
} from '../../support/mock-aws';

const ID = FLEET.instanceId;
const REPLACEMENT = 'i-0fedcba9876543210';
const NOTICE_MS = 120_000;
const THIRTY_MIN_MS = 30 * 60_000;
const WARNING = 'EC2 Spot Instance Interruption Warning';
const REBALANCE = 'EC2 Instance Rebalance Recommendation';
const OPT_OUT = { mode: 'opt-out', key: 'spot-responder' } as const;
const OPT_IN = { mode: 'opt-in', key: 'spot-responder' } as const;
const REPLACE: ResponderBehaviour = { rebalanceAction: 'replace', tagPolicy: OPT_OUT };
const CONTAINER_INSTANCE = 'arn:aws:ecs:us-east-1:123456789012:container-instance/web/6f1c9b7aead34a2cae8935440dedfabf';

const rebalance = () => loadEvent('rebalance-recommendation/recommendation.json');
const warning = () => loadEvent('spot-interruption-warning/terminate.json');

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Forget what the mocks received so far, keeping their answers. */
function forgetCalls(aws: MockAws): void {
  for (const stub of [aws.ec2, aws.autoScaling, aws.elbv2, aws.dynamo, aws.ecs]) stub.resetHistory();
}

function expectNoMutation(aws: MockAws): void {
  expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
  expect(aws.ecs).not.toHaveReceivedCommand(UpdateContainerInstancesStateCommand);
}

/** The items of the one finish transaction, by key. */
function finishItems(aws: MockAws) {
  const [finish, ...more] = finishesSent(aws);
  expect(more).toHaveLength(0);
  return finish?.TransactItems ?? [];
}

function actionRelease(aws: MockAws) {
  return finishItems(aws).find((t) => t.Update?.Key?.pk === `ACTION#${ID}`)?.Update;
}

function pointersWritten(aws: MockAws) {
  return finishItems(aws).flatMap((t) => (t.Put ? [t.Put.Item] : []));
}

describe('a rebalance recommendation with rebalanceAction: replace', () => {
  it('claims the instance, stops its traffic and detaches it, its timeline opening with the recommendation', async () => {
    // Prepare
    const event = rebalance();
    const aws = worldFor(event);
    const receivedAt = eventTimeOf(event) + 5_000;

    // Act
    const record = await aws.handler({ behaviour: REPLACE })(event);

    // Assess
    expect(claimsSent(aws)[0]?.TransactItems?.map((t) => t.Put?.Item?.pk)).toEqual([
      `EVENT#${String(event.id)}`,
      `REBALANCE#${ID}#${String(event.time)}`,
      `ACTION#${ID}`,
    ]);
    expect(deregistrationsSent(aws)).toHaveLength(3);
    expect(aws.autoScaling).toHaveReceivedCommandWith(DetachInstancesCommand, {
      AutoScalingGroupName: FLEET.groupName,
      InstanceIds: [ID],
      ShouldDecrementDesiredCapacity: false,
    });
    expect(record).toMatchObject({ outcome: 'handled', detached: true, deadline: iso(receivedAt + NOTICE_MS) });
    expect(record.timeline?.[0]).toEqual({ event: 'rebalance-recommended', at: event.time });
    expect(record.timeline?.map((e) => e.event)).toEqual(['rebalance-recommended', 'traffic-stopped', 'detached']);
    expect(actionRelease(aws)?.ExpressionAttributeValues).toEqual({
      ':status': 'COMPLETED',
      ':until': iso(receivedAt + THIRTY_MIN_MS),
    });
    expect(pointersWritten(aws)).toContainEqual(
      expect.objectContaining({ pk: `INSTANCE#${ID}`, role: 'interrupted', signalDetailType: REBALANCE, signalTime: event.time }),
    );
  });

  it('is skipped, with nothing done, where the group has Capacity Rebalancing on', async () => {
    // Prepare
    const event = rebalance();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply({ capacityRebalance: true }));

    // Act
    const record = await aws.handler({ behaviour: REPLACE })(event);

    // Assess
    expectNoMutation(aws);
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: `Capacity Rebalancing is on for ${FLEET.groupName}: Auto Scaling replaces the instance itself`,
      autoScalingGroup: FLEET.groupName,
      timeline: [{ event: 'rebalance-recommended', at: event.time }],
    });
    expect(actionRelease(aws)?.ExpressionAttributeValues).toMatchObject({ ':status': 'RELEASED' });
    expect(pointersWritten(aws)).toEqual([]);
  });

  it('is skipped, with nothing done, for an instance in no Auto Scaling group', async () => {
    // Prepare
    const event = rebalance();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(NO_MEMBERSHIP);

    // Act
    const record = await aws.handler({ behaviour: REPLACE })(event);

    // Assess
    expectNoMutation(aws);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DescribeAutoScalingGroupsCommand);
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'instance is in no Auto Scaling group: there is nothing to launch a replacement early',
    });
    expect(actionRelease(aws)?.ExpressionAttributeValues).toMatchObject({ ':status': 'RELEASED' });
  });
});

describe('the warning for an instance a rebalance recommendation already acted on', () => {
  async function afterRebalance() {
    const first = rebalance();
    const aws = worldFor(first);
    const table = emulateClaimTable(aws);
    const handler = aws.handler({ behaviour: REPLACE });
    await handler(first);
    forgetCalls(aws);
    const event = warning();
    aws.clock.set(eventTimeOf(event) + 5_000);
    return { aws, table, handler, first, event };
  }

  it('is a duplicate of the rebalance response, held by the ACTION key', async () => {
    // Prepare
    const { handler, first, event } = await afterRebalance();

    // Act
    const record = await handler(event);

    // Assess
    expect(record).toMatchObject({
      eventId: event.id,
      outcome: 'duplicate',
      duplicateOf: first.id,
      reason: `already handled as event ${String(first.id)}`,
    });
  });

  it('touches nothing in the fleet and writes no record of its own', async () => {
    // Prepare
    const { aws, table, handler, event } = await afterRebalance();

    // Act
    await handler(event);

    // Assess
    expectNoMutation(aws);
    expect(claimsSent(aws)).toHaveLength(1);
    expect(claimsSent(aws)[0]?.TransactItems?.map((t) => t.Put?.Item?.pk)).toContain(`ACTION#${ID}`);
    expect(finishesSent(aws)).toHaveLength(0);
    expect(table.has(`EVENT#${String(event.id)}`)).toBe(false);
  });

  it('adds warning-received to the rebalance record, through the instance pointer', async () => {
    // Prepare
    const { aws, handler, first, event } = await afterRebalance();

    // Act
    await handler(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandWith(GetCommand, { Key: { pk: `INSTANCE#${ID}` } });
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `INSTANCE#${ID}` },
      UpdateExpression: 'SET warningTime = if_not_exists(warningTime, :time)',
      ExpressionAttributeValues: { ':time': event.time },
    });
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE_NAME,
      Key: { pk: `EVENT#${String(first.id)}` },
      UpdateExpression: 'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry)',
      ConditionExpression: 'attribute_exists(timeline)',
      ExpressionAttributeNames: { '#milestone': 'warning-received' },
      ExpressionAttributeValues: { ':entry': { at: event.time, detail: 'instance-action terminate' } },
    });
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${String(first.id)}` },
      ExpressionAttributeValues: expect.objectContaining({ ':duplicate': new Set([String(event.id)]) }),
    });
  });
});

describe('a terminate warning that arrives after its deadline', () => {
  it('is recorded as skipped without a claim and without a fleet call', async () => {
    // Prepare
    const event = warning();
    const aws = worldFor(event, NOTICE_MS + 10_000, ['web']);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'arrived 10.0 s after its deadline; the instance is already terminating and AWS removes terminated targets itself',
    });
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
    for (const stub of [...fleetMocks(aws), aws.ecs]) expect(stub).not.toHaveReceivedAnyCommand();
    expect(unclaimedPuts(aws)).toEqual([
      expect.objectContaining({
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({ pk: `EVENT#${String(event.id)}`, status: 'SKIPPED', outcome: 'skipped' }),
      }),
    ]);
  });
});

describe('opt-in mode', () => {
  const OPT_IN_BEHAVIOUR: ResponderBehaviour = { rebalanceAction: 'record', tagPolicy: OPT_IN };

  it('skips an instance tagged nowhere, does nothing to it and releases the instance', async () => {
    // Prepare
    const event = warning();
    const aws = worldFor(event);

    // Act
    const record = await aws.handler({ behaviour: OPT_IN_BEHAVIOUR })(event);

    // Assess
    expectNoMutation(aws);
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'opt-in mode: neither the instance nor its group is tagged spot-responder=on',
    });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', status: 'COMPLETED' });
    expect(actionRelease(aws)?.ExpressionAttributeValues).toMatchObject({ ':status': 'RELEASED' });
    expect(pointersWritten(aws)).toEqual([]);
  });

  it.each([
    ['the instance is tagged on', { 'spot-responder': 'on' }, undefined],
    ['its group is tagged on', {}, { 'spot-responder': 'on' }],
    ['the instance is tagged on and its group off: the instance wins', { 'spot-responder': 'on' }, { 'spot-responder': 'off' }],
  ])('handles an instance when %s', async (_, instanceTags, groupTags) => {
    // Prepare
    const event = warning();
    const aws = worldFor(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: instanceTags }));
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply(groupTags ? { tags: groupTags } : {}));

    // Act
    const record = await aws.handler({ behaviour: OPT_IN_BEHAVIOUR })(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(deregistrationsSent(aws)).toHaveLength(3);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
  });
});

describe('an instance that is an ECS container instance', () => {
  function ecsWorld(status = 'ACTIVE') {
    const event = warning();
    const aws = worldFor(event, 5_000, ['web']);
    aws.ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CONTAINER_INSTANCE] });
    aws.ecs.on(DescribeContainerInstancesCommand).resolves({
      containerInstances: [{ containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: ID, status }],
      failures: [],
    });
    return { event, aws };
  }

  it('is set DRAINING beside the deregistrations and the detach', async () => {
    // Prepare
    const { event, aws } = ecsWorld();

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ecs).toHaveReceivedCommandWith(ListContainerInstancesCommand, { cluster: 'web', filter: `ec2InstanceId == ${ID}` });
    expect(aws.ecs).toHaveReceivedCommandWith(UpdateContainerInstancesStateCommand, {
      cluster: 'web',
      containerInstances: [CONTAINER_INSTANCE],
      status: 'DRAINING',
    });
    expect(record.actions).toContainEqual({ action: 'ecs-drain', target: CONTAINER_INSTANCE, result: 'ok', latencyMs: 0 });
    expect(record.timeline).toContainEqual({ event: 'ecs-draining', at: iso(eventTimeOf(event) + 5_000), detail: 'web' });
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(deregistrationsSent(aws)).toHaveLength(3);
  });

  it('already DRAINING is left as it is, and the drain counts as done', async () => {
    // Prepare
    const { event, aws } = ecsWorld('DRAINING');

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ecs).not.toHaveReceivedCommand(UpdateContainerInstancesStateCommand);
    expect(record.actions).toContainEqual({
      action: 'ecs-drain',
      target: CONTAINER_INSTANCE,
      result: 'ok',
      latencyMs: 0,
      reason: 'already DRAINING',
    });
    expect(record.timeline?.map((e) => e.event)).toContain('ecs-draining');
    expect(record.outcome).toBe('handled');
  });

  it('whose lookup fails is recorded as a failed lookup, the rest still done, and the response fails', async () => {
    // Prepare
    const { event, aws } = ecsWorld();
    aws.ecs
      .on(ListContainerInstancesCommand)
      .rejects(serviceError(ECSServiceException, 'AccessDeniedException', 400, 'not authorized to perform ecs:ListContainerInstances'));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    const record = failure.record;
    expect(record.outcome).toBe('failed');
    expect(record.actions).toContainEqual({
      action: 'lookup',
      target: 'ListContainerInstances',
      result: 'failed',
      latencyMs: 0,
      error: { name: 'AccessDeniedException', message: 'not authorized to perform ecs:ListContainerInstances', retryable: false },
    });
    expect(record.actions.some((a) => a.action === 'ecs-drain')).toBe(false);
    expect(aws.ecs).not.toHaveReceivedCommand(UpdateContainerInstancesStateCommand);
    expect(deregistrationsSent(aws)).toHaveLength(3);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(record.detached).toBe(true);
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'failed', status: 'FAILED' });
    expect(actionRelease(aws)?.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED' });
  });
});

describe('a state change of an instance the responder acted on', () => {
  const RESPONSE = 'evt-response';

  function pointedAt(aws: MockAws, instanceId: string, pointer: Record<string, unknown>) {
    aws.dynamo.on(GetCommand, { Key: { pk: `INSTANCE#${instanceId}` } }).resolves({
      Item: { pk: `INSTANCE#${instanceId}`, eventId: RESPONSE, ...pointer },
    });
  }

  it('adds instance-shutting-down with the notice the warning really gave', async () => {
    // Prepare
    const event = loadEvent('instance-state-change/shutting-down.json');
    const warnedAt = String(warning().time);
    const aws = worldFor(event);
    pointedAt(aws, ID, { role: 'interrupted', signalDetailType: WARNING, signalTime: warnedAt, warningTime: warnedAt });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${RESPONSE}` },
      UpdateExpression:
        'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry), noticeMs = if_not_exists(noticeMs, :notice)',
      ExpressionAttributeNames: { '#milestone': 'instance-shutting-down' },
      ExpressionAttributeValues: { ':entry': { at: event.time }, ':notice': eventTimeOf(event) - Date.parse(warnedAt) },
    });
    expect(record).toMatchObject({
      outcome: 'handled',
      reason: `added instance-shutting-down to the timeline of event ${RESPONSE}`,
      timeline: [{ event: 'instance-shutting-down', at: event.time }],
      // On the returned record too, for the NoticeLength metric.
      noticeMs: eventTimeOf(event) - Date.parse(warnedAt),
    });
    for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
  });

  it('adds no notice when the response acted on a rebalance recommendation and no warning followed', async () => {
    // Prepare
    const event = loadEvent('instance-state-change/shutting-down.json');
    const aws = worldFor(event);
    pointedAt(aws, ID, { role: 'interrupted', signalDetailType: REBALANCE, signalTime: String(rebalance().time) });

    // Act
    await aws.handler()(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry)',
      ExpressionAttributeNames: { '#milestone': 'instance-shutting-down' },
      ExpressionAttributeValues: { ':entry': { at: event.time } },
    });
  });

  it('counts the notice from the warning that followed a rebalance response', async () => {
    // Prepare
    const event = loadEvent('instance-state-change/shutting-down.json');
    const warnedAt = String(warning().time);
    const aws = worldFor(event);
    pointedAt(aws, ID, { role: 'interrupted', signalDetailType: REBALANCE, signalTime: String(rebalance().time), warningTime: warnedAt });

    // Act
    await aws.handler()(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${RESPONSE}` },
      ExpressionAttributeNames: { '#milestone': 'instance-shutting-down' },
      ExpressionAttributeValues: { ':entry': { at: event.time }, ':notice': eventTimeOf(event) - Date.parse(warnedAt) },
    });
  });

  it('adds replacement-running when the replacement starts running', async () => {
    // Prepare
    const event = stateChangeEvent(REPLACEMENT, 'running', { time: '2025-03-04T10:16:40Z' });
    const aws = worldFor(event);
    pointedAt(aws, REPLACEMENT, { role: 'replacement', signalDetailType: WARNING, signalTime: String(warning().time) });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandWith(GetCommand, { Key: { pk: `INSTANCE#${REPLACEMENT}` } });
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${RESPONSE}` },
      UpdateExpression: 'SET timeline.#milestone = if_not_exists(timeline.#milestone, :entry)',
      ExpressionAttributeNames: { '#milestone': 'replacement-running' },
      ExpressionAttributeValues: { ':entry': { at: '2025-03-04T10:16:40Z' } },
    });
    expect(record).toMatchObject({ outcome: 'handled', timeline: [{ event: 'replacement-running', at: '2025-03-04T10:16:40Z' }] });
  });

  it('adds nothing when the replacement itself terminates', async () => {
    // Prepare
    const event = stateChangeEvent(REPLACEMENT, 'terminated', { time: '2025-03-04T11:40:00Z' });
    const aws = worldFor(event);
    pointedAt(aws, REPLACEMENT, { role: 'replacement', signalDetailType: WARNING, signalTime: String(warning().time) });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.dynamo).not.toHaveReceivedCommand(UpdateCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(PutCommand);
    expect(record).toMatchObject({ outcome: 'skipped' });
    expect(record).not.toHaveProperty('timeline');
  });
});

describe('adapters that only plan their mutations (the dry run)', () => {
  function planningPorts(aws: MockAws): { autoScaling: AutoScalingPort; loadBalancing: LoadBalancingPort } {
    const real = aws.deps();
    return {
      autoScaling: {
        describeMemberships: (instanceIds, opts) => real.autoScaling.describeMemberships(instanceIds, opts),
        describeGroups: (groupNames, opts) => real.autoScaling.describeGroups(groupNames, opts),
        groupInstanceIds: (groupName, opts) => real.autoScaling.groupInstanceIds(groupName, opts),
        detachWithReplacement: async (_group, instanceIds) => new Map(instanceIds.map((id) => [id, { ok: true, value: 'planned' }])),
        terminateWithReplacement: async () => 'planned',
      },
      loadBalancing: {
        deregister: async (_arn, targets) => targets.map(() => ({ ok: true, value: 'planned' })),
      },
    };
  }

  it('records every action as planned, claims no effect and looks for no replacement', async () => {
    // Prepare
    const event = warning();
    const aws = worldFor(event);

    // Act
    const record = await aws.handler(planningPorts(aws))(event);

    // Assess
    expect(record.actions.map((a) => [a.action, a.result])).toEqual([
      ['deregister', 'planned'],
      ['deregister', 'planned'],
      ['deregister', 'planned'],
      ['detach', 'planned'],
    ]);
    // Nothing was done, everything was planned: observed, not handled (core/plan.ts decideOutcome).
    expect(record).toMatchObject({ outcome: 'observed', deregisteredFrom: [], detached: false });
    expect(record.timeline?.map((e) => e.event)).toEqual(['warning-received']);
    expect(record).not.toHaveProperty('replacement');
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 1);
    expectNoMutation(aws);
  });
});
