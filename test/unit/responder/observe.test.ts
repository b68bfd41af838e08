// Observe mode (lambda/wiring.ts): the responder claims, looks up, plans and records, through the
// real adapters and the real store, and sends no mutating command to EC2, Auto Scaling, ELBv2 or
// ECS, on every path that could send one: deregister, detach, terminate in group, ECS drain, on
// one event (respond), on a batch (respondBatch) and through the SQS entry (the handler).
import {
  AutoScalingClient,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand, ListContainerInstancesCommand, UpdateContainerInstancesStateCommand } from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../../../lambda/aws/clients';
import type { ResponseRecord } from '../../../lambda/core/model';
import { DryRunViolationError, isReadOperation, operationOf } from '../../../lambda/dry-run/guard';
import { silentLog } from '../../../lambda/log';
import { respondBatch } from '../../../lambda/responder';
import { recordFigures } from '../../../lambda/response/metrics';
import { notificationFor } from '../../../lambda/response/notifications';
import { createResponderDeps } from '../../../lambda/wiring';
import { formatRecord } from '../../../cli/format';
import { fixturePolicy, loadEvent, type RawEvent } from '../../support/fixtures';
import {
  FLEET,
  answerForEveryInstance,
  claimedEventIds,
  claimsSent,
  eventTimeOf,
  finishedRecord,
  finishesSent,
  instanceReply,
  mockAws,
  warningFor,
  type MockAws,
} from '../../support/mock-aws';

const CONTAINER_INSTANCE = 'arn:aws:ecs:us-east-1:123456789012:container-instance/web/6f1c9b7aead34a2cae8935440dedfabf';

/** The default world in observe mode, with the instance a container instance of cluster web. */
function observing(event: RawEvent): MockAws {
  const aws = mockAws({ now: eventTimeOf(event) + 5_000, ecsClusters: ['web'], mode: 'observe' });
  aws.ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CONTAINER_INSTANCE] });
  aws.ecs.on(DescribeContainerInstancesCommand).resolves({
    containerInstances: [{ containerInstanceArn: CONTAINER_INSTANCE, ec2InstanceId: FLEET.instanceId, status: 'ACTIVE' }],
    failures: [],
  });
  return aws;
}

/** Not one command to the fleet's services that is not a read: by name, and each one by class. */
function expectFleetUnchanged(aws: MockAws): void {
  for (const stub of [aws.ec2, aws.autoScaling, aws.elbv2, aws.ecs]) {
    const sent = stub.calls().map((call) => operationOf(call.args[0]));
    expect(sent.filter((operation) => !isReadOperation(operation))).toEqual([]);
  }
  expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
  expect(aws.ecs).not.toHaveReceivedCommand(UpdateContainerInstancesStateCommand);
}

describe('a warning in observe mode', () => {
  it('claims, plans every action, records them as planned under outcome observed, and sends no mutation', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = observing(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expectFleetUnchanged(aws);
    expect(claimsSent(aws)).toHaveLength(1);
    expect(record).toMatchObject({ outcome: 'observed', mode: 'observe', deregisteredFrom: [], detached: false });
    expect(record.actions.map((a) => `${a.action} ${a.result}`).sort()).toEqual([
      'deregister planned',
      'deregister planned',
      'deregister planned',
      'detach planned',
      'ecs-drain planned',
    ]);
    expect(record.timeline?.map((e) => e.event)).toEqual(['warning-received']);
    expect(record).not.toHaveProperty('replacement');
    // The record is written: it is the history the operator reads.
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'observed', mode: 'observe', status: 'COMPLETED' });
  });

  it('plans the terminate-in-group path (a terminating hook) without sending it', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = observing(event);
    aws.autoScaling.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'drain', AutoScalingGroupName: FLEET.groupName, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
      ],
    });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expectFleetUnchanged(aws);
    expect(record.actions.filter((a) => a.action === 'terminate-in-group')).toEqual([
      expect.objectContaining({ target: FLEET.groupName, result: 'planned' }),
    ]);
    expect(record.outcome).toBe('observed');
  });

  it('acts on a rebalance recommendation under replace the same way: planned, not sent', async () => {
    // Prepare
    const event = loadEvent('rebalance-recommendation/recommendation.json');
    const aws = observing(event);

    // Act
    const record = await aws.handler({ behaviour: { rebalanceAction: 'replace', tagPolicy: { mode: 'opt-out', key: 'spot-responder' } } })(event);

    // Assess
    expectFleetUnchanged(aws);
    expect(record).toMatchObject({ outcome: 'observed', mode: 'observe' });
  });

  it('records a skip as a skip, marked observe', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = observing(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: { 'spot-responder': 'off' } }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expectFleetUnchanged(aws);
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'excluded-by-tag', mode: 'observe' });
  });

  it('an observed record is no failure: metrics count it as observed, and its notification says nothing was changed', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = observing(event);

    // Act
    const record = await aws.handler()(event);
    const message = notificationFor(record);

    // Assess
    expect(recordFigures(record)).toMatchObject({ outcome: 'observed' });
    expect(recordFigures(record)).not.toHaveProperty('timeToTrafficStoppedMs');
    expect(message?.notification).toMatchObject({ outcome: 'observed', deregisteredFrom: [], detached: false });
    expect(message?.subject).toMatch(/observed .*no action taken/);
    expect(message?.text).toContain(`would have: deregister from 3 target group(s), detach from ${FLEET.groupName} with replacement, set its ECS container instance DRAINING`);
  });

  it('history shows what it would have done', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = observing(event);

    // Act
    const shown = formatRecord(await aws.handler()(event));

    // Assess
    expect(shown.split('\n')[0]).toMatch(/^OBSERVED \(observe mode\)  event /);
    expect(shown).toContain(
      `  observe: would deregister from 3 target group(s), detach from ${FLEET.groupName} with replacement, ` +
        'set its ECS container instance DRAINING; nothing was changed',
    );
  });
});

describe('a batch in observe mode', () => {
  it('respondBatch: every event claimed and recorded observed, no merged mutation sent', async () => {
    // Prepare
    const events = [0, 1, 2, 3, 4].map(warningFor);
    const aws = observing(events[0] as RawEvent);
    answerForEveryInstance(aws);

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expectFleetUnchanged(aws);
    expect(records.map((r) => [r.outcome, r.mode])).toEqual(events.map(() => ['observed', 'observe']));
    expect(records.every((r) => r.actions.some((a) => a.action === 'detach' && a.result === 'planned'))).toBe(true);
    expect(claimedEventIds(aws)).toEqual(records.map((r) => r.eventId));
    expect(finishesSent(aws)).toHaveLength(events.length);
  });

  it('the SQS entry reports no failure for observed events', async () => {
    // Prepare
    const events = [0, 1, 2].map(warningFor);
    const aws = observing(events[0] as RawEvent);
    answerForEveryInstance(aws);
    const batch: SQSEvent = {
      Records: events.map((e, i) => ({ messageId: `m-${i}`, body: JSON.stringify(e), eventSource: 'aws:sqs' })) as SQSEvent['Records'],
    };

    // Act
    const response = await aws.handler()(batch);

    // Assess
    expectFleetUnchanged(aws);
    expect(response).toEqual({ batchItemFailures: [] });
  });
});

describe("observe mode's clients", () => {
  it('refuse a mutation sent to them directly, before any network I/O (the dry run guard)', async () => {
    // Prepare: real clients aimed at a port nothing listens on; the guard must answer first.
    const clients = createAwsClients({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    createResponderDeps(clients, { tableName: 't', recordRetentionDays: 1, policy: fixturePolicy(), mode: 'observe' }, silentLog);

    // Act
    const detach = clients.autoScaling.send(
      new DetachInstancesCommand({ AutoScalingGroupName: 'web', InstanceIds: ['i-1'], ShouldDecrementDesiredCapacity: false }),
    );

    // Assess
    await expect(detach).rejects.toBeInstanceOf(DryRunViolationError);
    expect(clients.autoScaling).toBeInstanceOf(AutoScalingClient);
  });

  it('act mode (the default) leaves the fleet adapters acting', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/terminate.json');
    const aws = mockAws({ now: eventTimeOf(event) + 5_000 });

    // Act
    const record: ResponseRecord = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).toHaveReceivedCommand(DetachInstancesCommand);
    expect(record.outcome).toBe('handled');
    expect(record).not.toHaveProperty('mode');
  });
});
