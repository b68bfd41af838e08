// Around the two-minute warning: late stop/hibernate warnings, the terminate-hook path, the
// replacement check, the tag opt-out, rebalance recommendations and state changes.
import 'aws-sdk-client-mock-jest';
import {
  DescribeAutoScalingGroupsCommand,
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
  worldFor,
} from '../../support/mock-aws';

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
      notes: ['arrived 30000 ms after its deadline; a stopped instance stays registered, so it was handled anyway'],
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

describe('the replacement', () => {
  const REPLACEMENT = 'i-0fedcba9876543210';

  it('is recorded once it appears in the group, without spending ELBv2 describe calls on its health', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = worldFor(event);
    aws.autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(groupReply())
      .resolvesOnce(groupReply())
      .resolves(groupReply({ otherInstanceIds: [REPLACEMENT] }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 3);
    expect(aws.elbv2).not.toHaveReceivedCommand(DescribeTargetHealthCommand);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeLifecycleHooksCommand, 1);
    expect(record.replacement).toEqual({
      instanceId: REPLACEMENT,
      seenAt: new Date(eventTimeOf(event) + 5_000).toISOString(),
      msFromSignal: 5_000,
    });
    expect(record.timeline).toContainEqual({ event: 'replacement-launched', at: record.replacement?.seenAt, detail: REPLACEMENT });
  });

  it('not seen after the last look leaves the response handled, without a replacement', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = worldFor(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DescribeAutoScalingGroupsCommand, 1 + 3);
    expect(record.outcome).toBe('handled');
    expect(record).not.toHaveProperty('replacement');
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
