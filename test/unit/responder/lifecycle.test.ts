// Around the two-minute warning: late stop/hibernate warnings, the terminate-hook path, the
// replacement check, the tag opt-out, rebalance recommendations and state changes.
import 'aws-sdk-client-mock-jest';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { loadEvent, type RawEvent } from '../../support/fixtures';
import {
  claimsSent,
  deregistrationsSent,
  eventTimeOf,
  finishedRecord,
  FLEET,
  fleetMocks,
  groupReply,
  instanceReply,
  mockAws,
  worldFor,
} from '../../support/mock-aws';
import { respondBatch } from '../../../lambda/responder';

const ID = FLEET.instanceId;
const NOTICE_MS = 120_000;

describe('a stop warning that arrives after its deadline', () => {
  it('is still handled, within a fresh two-minute budget, and says so', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/stop.json');
    const aws = worldFor(event, NOTICE_MS + 30_000);
    const receivedAt = eventTimeOf(event) + NOTICE_MS + 30_000;

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(deregistrationsSent(aws)).toHaveLength(3);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(record).toMatchObject({
      outcome: 'handled',
      deadline: new Date(receivedAt + NOTICE_MS).toISOString(),
      msLeftAtFinish: NOTICE_MS,
      notes: ['arrived 30.0 s after its deadline; a stopped instance stays registered, so it is still acted on, with a fresh two-minute budget'],
    });
  });
});

describe('a hibernate warning', () => {
  it('is handled with a note that there was no two-minute window', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/hibernate.json');
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    expect(finishedRecord(aws)).toMatchObject({
      outcome: 'handled',
      notes: ['hibernate: hibernation began with the warning; there was no two-minute window'],
    });
  });
});

describe('an instance whose group has a terminating lifecycle hook', () => {
  function withHook(event: RawEvent) {
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'drain-sessions', AutoScalingGroupName: FLEET.groupName, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
        { LifecycleHookName: 'warm-cache', AutoScalingGroupName: FLEET.groupName, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
      ],
    });
    return aws;
  }

  it('is terminated in its group with replacement, so the hook runs, instead of detached', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = withHook(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.autoScaling).toHaveReceivedCommandWith(TerminateInstanceInAutoScalingGroupCommand, {
      InstanceId: ID,
      ShouldDecrementDesiredCapacity: false,
    });
    expect(record).toMatchObject({ outcome: 'handled', detached: false });
    expect(record.actions).toContainEqual({
      action: 'terminate-in-group',
      target: FLEET.groupName,
      result: 'ok',
      latencyMs: 0,
      reason: 'terminating lifecycle hook drain-sessions runs before the instance goes',
    });
  });
});

describe('the replacement (off the hot path: issue 8, item 4)', () => {
  const REPLACEMENT = 'i-0fedcba9876543210';
  const OTHER = 'i-0aaaaaaaaaaaaaaa1';

  /** The UpdateItem inputs the responder sent for one table key. */
  function updatesOf(aws: ReturnType<typeof worldFor>, pk: string) {
    return aws.dynamo.commandCalls(UpdateCommand).filter((c) => c.args[0].input.Key?.pk === pk).map((c) => c.args[0].input);
  }

  it('is not looked for: after the record, the response waits in its group with the members it knew', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply({ otherInstanceIds: [OTHER] }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 1);
    expect(aws.elbv2).not.toHaveReceivedCommand(DescribeTargetHealthCommand);
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(record).not.toHaveProperty('replacement');
    const [wait] = updatesOf(aws, `REPLACING#${FLEET.groupName}`);
    expect(wait?.ExpressionAttributeValues?.[':waits']).toEqual(
      new Set([`${new Date(String(event.time)).toISOString()}|${ID}|EC2 Spot Instance Interruption Warning|${String(event.id)}`]),
    );
    expect(wait?.ExpressionAttributeValues?.[':members']).toEqual(new Set([ID, OTHER]));
    expect(wait?.ExpressionAttributeValues?.[':replaced']).toEqual(new Set([ID]));
    const [groups] = updatesOf(aws, 'REPLACING');
    expect(groups?.ExpressionAttributeNames?.['#group']).toBe(`group:${FLEET.groupName}`);
    // The wait is written after the record: a replacement's state change writes into that record.
    const calls = aws.dynamo.calls().map((c) => c.args[0]);
    const recordWrite = calls.findIndex((c) => c instanceof TransactWriteCommand && JSON.stringify(c.input).includes('COMPLETED'));
    const waitWrite = calls.findIndex((c) => c instanceof UpdateCommand && c.input.Key?.pk === `REPLACING#${FLEET.groupName}`);
    expect(recordWrite).toBeGreaterThanOrEqual(0);
    expect(waitWrite).toBeGreaterThan(recordWrite);
  });

  it('no wait is written when the detach failed, or in observe mode', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const failing = worldFor(event);
    failing.autoScaling.on(DetachInstancesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const observing = mockAws({ now: eventTimeOf(event) + 5_000, mode: 'observe' });

    // Act
    await failing.handler()(event).catch(() => undefined);
    await observing.handler()(event);

    // Assess
    expect(updatesOf(failing, `REPLACING#${FLEET.groupName}`)).toEqual([]);
    expect(updatesOf(observing, `REPLACING#${FLEET.groupName}`)).toEqual([]);
  });

  it("is named by its own pending state change: the waiting response's record gets it, one DescribeAutoScalingInstances", async () => {
    // Prepare
    const warning = loadEvent('spot-interruption-warning/terminate.json');
    const pending: RawEvent = {
      ...loadEvent('instance-state-change/running.json'),
      id: 'state-1',
      time: new Date(eventTimeOf(warning) + 9_000).toISOString().replace('.000Z', 'Z'),
      detail: { 'instance-id': REPLACEMENT, state: 'pending' },
    };
    const aws = worldFor(pending, 1_000);
    const encoded = `${new Date(String(warning.time)).toISOString()}|${ID}|EC2 Spot Instance Interruption Warning|${String(warning.id)}`;
    aws.dynamo.on(GetCommand, { Key: { pk: 'REPLACING' } }).resolves({ Item: { pk: 'REPLACING', [`group:${FLEET.groupName}`]: '2999-01-01T00:00:00.000Z' } });
    aws.dynamo
      .on(GetCommand, { Key: { pk: `REPLACING#${FLEET.groupName}` } })
      .resolves({ Item: { waiting: new Set([encoded]), members: new Set([ID, OTHER]) } });
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [{ InstanceId: REPLACEMENT, AutoScalingGroupName: FLEET.groupName, LifecycleState: 'Pending', AvailabilityZone: 'us-east-1a', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false }],
    });

    // Act
    const record = await aws.handler()(pending);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeAutoScalingInstancesCommand, 1);
    expect(record).toMatchObject({
      outcome: 'handled',
      replacement: { instanceId: REPLACEMENT, seenAt: pending.time, msFromSignal: 9_000 },
      timeline: [{ event: 'replacement-launched', at: pending.time, detail: REPLACEMENT }],
    });
    const items = aws.dynamo.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items.map((i) => i.Update?.Key?.pk ?? i.Put?.Item?.pk)).toEqual([
      `REPLACING#${FLEET.groupName}`,
      `EVENT#${String(warning.id)}`,
      `ATTEMPTS#${String(warning.id)}`,
      `INSTANCE#${REPLACEMENT}`,
    ]);
    expect(items[0]?.Update?.ConditionExpression).toBe('contains(#waiting, :encoded) AND NOT contains(#replaced, :instanceId) AND NOT contains(#members, :instanceId)');
    expect(items[3]?.Put?.Item).toMatchObject({ role: 'replacement', eventId: String(warning.id) });
  });

  it("pending and running of the replacement in one batch: pending names it, running still adds replacement-running", async () => {
    // Prepare: EC2 sends pending then running a few seconds apart; the queue's batching window
    // puts both in one batch. Neither finds a pointer at first; the assignment writes it.
    const warning = loadEvent('spot-interruption-warning/terminate.json');
    const at = (ms: number) => new Date(eventTimeOf(warning) + ms).toISOString().replace('.000Z', 'Z');
    const base = loadEvent('instance-state-change/running.json');
    const pending: RawEvent = { ...base, id: 'state-1', time: at(9_000), detail: { 'instance-id': REPLACEMENT, state: 'pending' } };
    const running: RawEvent = { ...base, id: 'state-2', time: at(14_000), detail: { 'instance-id': REPLACEMENT, state: 'running' } };
    const aws = worldFor(pending, 6_000);
    const encoded = `${new Date(String(warning.time)).toISOString()}|${ID}|EC2 Spot Instance Interruption Warning|${String(warning.id)}`;
    let named = false;
    aws.dynamo.on(TransactWriteCommand).callsFake(() => {
      named = true;
      return {};
    });
    aws.dynamo.on(GetCommand, { Key: { pk: 'REPLACING' } }).resolves({ Item: { pk: 'REPLACING', [`group:${FLEET.groupName}`]: '2999-01-01T00:00:00.000Z' } });
    aws.dynamo
      .on(GetCommand, { Key: { pk: `REPLACING#${FLEET.groupName}` } })
      .callsFake(() => ({ Item: named ? { members: new Set([ID, OTHER]), replaced: new Set([REPLACEMENT]) } : { waiting: new Set([encoded]), members: new Set([ID, OTHER]) } }));
    aws.dynamo.on(GetCommand, { Key: { pk: `INSTANCE#${REPLACEMENT}` } }).callsFake(() => ({
      Item: named ? { pk: `INSTANCE#${REPLACEMENT}`, eventId: String(warning.id), role: 'replacement', signalTime: String(warning.time) } : undefined,
    }));
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves({
      AutoScalingInstances: [{ InstanceId: REPLACEMENT, AutoScalingGroupName: FLEET.groupName, LifecycleState: 'Pending', AvailabilityZone: 'us-east-1a', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: false }],
    });

    // Act
    const records = await respondBatch([running, pending], aws.deps());

    // Assess
    expect(records[1]).toMatchObject({ outcome: 'handled', replacement: { instanceId: REPLACEMENT, seenAt: pending.time } });
    expect(records[0]).toMatchObject({ outcome: 'handled', timeline: [{ event: 'replacement-running', at: running.time }] });
    const milestones = updatesOf(aws, `EVENT#${String(warning.id)}`).map((u) => u.ExpressionAttributeNames?.['#milestone']);
    expect(milestones).toContain('replacement-running');
  });

  it('a launch while no group waits costs one GetItem and no Auto Scaling call', async () => {
    // Prepare
    const running = { ...loadEvent('instance-state-change/running.json'), detail: { 'instance-id': OTHER, state: 'running' } };
    const aws = worldFor(running, 1_000);

    // Act
    const record = await aws.handler()(running);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'not-acted-on' });
    expect(aws.autoScaling).not.toHaveReceivedAnyCommand();
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('a failed DescribeAutoScalingInstances fails the state change, so it is retried', async () => {
    // Prepare
    const running = { ...loadEvent('instance-state-change/running.json'), detail: { 'instance-id': OTHER, state: 'running' } };
    const aws = worldFor(running, 1_000);
    aws.dynamo.on(GetCommand, { Key: { pk: 'REPLACING' } }).resolves({ Item: { [`group:${FLEET.groupName}`]: '2999-01-01T00:00:00.000Z' } });
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied', $fault: 'client' }));

    // Act
    const records = await respondBatch([running], aws.deps());

    // Assess
    expect(records[0]).toMatchObject({ outcome: 'failed' });
    expect(records[0]?.reason).toContain('AccessDenied');
  });
});

describe('an instance tagged to be left alone', () => {
  it('is skipped after the claim, with nothing done to it', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = worldFor(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: { 'spot-responder': 'off' } }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'excluded by tag spot-responder=off on the instance' });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', status: 'COMPLETED' });
  });
});

describe('a rebalance recommendation, recorded only (the default)', () => {
  it('is recorded as skipped without reading or touching the fleet', async () => {
    // Prepare
    const event = loadEvent('rebalance-recommendation/recommendation.json');
    const aws = worldFor(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'rebalance recommendations are recorded only (rebalanceAction: record)',
      timeline: [{ event: 'rebalance-recommended', at: event.time }],
    });
    expect(claimsSent(aws)[0]?.TransactItems?.map((t) => t.Put?.Item?.pk)).toEqual([
      `EVENT#${String(event.id)}`,
      `REBALANCE#${ID}#${String(event.time)}`,
    ]);
  });
});

describe('a state change of an instance the responder never acted on', () => {
  it('is dropped without a write', async () => {
    // Prepare
    const event = loadEvent('instance-state-change/stopping.json');
    const aws = worldFor(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'state stopping: not an instance we acted on; not recorded' });
    expect(aws.dynamo).toHaveReceivedCommandWith(GetCommand, { Key: { pk: `INSTANCE#${ID}` } });
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(PutCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(UpdateCommand);
    for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
  });
});
