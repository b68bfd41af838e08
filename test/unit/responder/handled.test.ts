// The responder's main line, through the Lambda's entry point and the real adapters: only
// the SDK clients' `send` is mocked (test/support/mock-aws.ts).
import 'aws-sdk-client-mock-jest';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { CallOptions } from '../../../lambda/core/ports';
import { LEASE_MS } from '../../../lambda/response/deps';
import { loadEvent, type RawEvent } from '../../support/fixtures';
import {
  callOptionsOf,
  claimsSent,
  deregistrationsSent,
  eventTimeOf,
  finishedRecord,
  FLEET,
  groupReply,
  indexedInstance,
  indexedIp,
  indexReply,
  membershipReply,
  NO_MEMBERSHIP,
  TABLE_NAME,
  targetGroupArn,
  terminateWarning,
  worldFor,
} from '../../support/mock-aws';

const [HTTP, HTTPS] = FLEET.asgTargetGroups;
const ADMIN = FLEET.indexedGroup;
const ID = FLEET.instanceId;

describe('a warning for an InService instance of an Auto Scaling group', () => {
  it.each(['terminate', 'stop', 'hibernate'])('is handled for instance-action %s', async (action) => {
    // Prepare
    const event = loadEvent(`spot-interruption-warning/${action}.json`);
    const aws = worldFor(event);

    // Act
    const returned = await aws.handler()(event);

    // Assess
    expect(returned).toMatchObject({ outcome: 'handled', instanceAction: action, eventId: event.id });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'handled', status: 'COMPLETED', instanceAction: action });
  });

  it("records the instance's Spot pool (type x zone) from DescribeInstances, for the report", async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    expect(finishedRecord(aws)).toMatchObject({ instanceType: FLEET.instanceType, availabilityZone: FLEET.availabilityZone });
  });

  it('deregisters the instance from each group of its ASG on the default port', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandWith(DescribeAutoScalingGroupsCommand, {
      AutoScalingGroupNames: [FLEET.groupName],
    });
    expect(aws.elbv2).toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: HTTP, Targets: [{ Id: ID }] });
    expect(aws.elbv2).toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: HTTPS, Targets: [{ Id: ID }] });
  });

  it('deregisters the instance from the non-ASG group the index knows, with its registered port', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: {
        [TABLE_NAME]: { Keys: [{ pk: `TARGETS#${ID}` }, { pk: 'INDEX#META' }], ConsistentRead: true },
      },
    });
    expect(aws.elbv2).toHaveReceivedCommandWith(DeregisterTargetsCommand, {
      TargetGroupArn: ADMIN,
      Targets: [{ Id: ID, Port: FLEET.indexedPort }],
    });
    expect(deregistrationsSent(aws)).toHaveLength(3);
  });

  it('detaches the instance with replacement, keeping the desired capacity', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(aws.autoScaling).toHaveReceivedCommandWith(DetachInstancesCommand, {
      AutoScalingGroupName: FLEET.groupName,
      InstanceIds: [ID],
      ShouldDecrementDesiredCapacity: false,
    });
  });

  it('claims the event, its warning and the instance before touching the fleet', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    const [claim] = claimsSent(aws);
    expect(claim?.TransactItems?.map((t) => t.Put?.Item)).toEqual([
      expect.objectContaining({ pk: `EVENT#${String(event.id)}`, status: 'IN_PROGRESS', leaseUntil: new Date(aws.clock.now() + LEASE_MS).toISOString() }),
      expect.objectContaining({ pk: `WARNING#${ID}#${String(event.time)}`, status: 'IN_PROGRESS', owner: event.id }),
      expect.objectContaining({ pk: `ACTION#${ID}`, status: 'IN_PROGRESS', owner: event.id }),
    ]);
    const [claimCall] = aws.dynamo.commandCalls(TransactWriteCommand);
    const mutations = [
      ...aws.elbv2.commandCalls(DeregisterTargetsCommand),
      ...aws.autoScaling.commandCalls(DetachInstancesCommand),
    ];
    expect(mutations).toHaveLength(4);
    for (const mutation of mutations) expect(claimCall?.calledBefore(mutation)).toBe(true);
  });

  it('records the whole response in the finish transaction', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const eventTime = eventTimeOf(event);

    // Act
    const returned = await aws.handler()(event);

    // Assess
    // The store keeps the timeline as a map by milestone; every other field as returned.
    const { status, day, eventTimeAndId, expiresAt, timeline, ...written } = finishedRecord(aws);
    const { timeline: returnedTimeline, ...returnedRest } = returned;
    expect(status).toBe('COMPLETED');
    expect(written).toEqual(returnedRest);
    expect(written).not.toHaveProperty('notes');
    expect(written).not.toHaveProperty('replacement');
    expect(written).toMatchObject({
      eventId: event.id,
      eventTime: event.time,
      detailType: 'EC2 Spot Instance Interruption Warning',
      instanceId: ID,
      instanceAction: 'terminate',
      account: '123456789012',
      region: 'us-east-1',
      outcome: 'handled',
      autoScalingGroup: FLEET.groupName,
      lifecycleState: 'InService',
      targetGroups: [ADMIN, HTTP, HTTPS],
      deregisteredFrom: [ADMIN, HTTP, HTTPS],
      detached: true,
      actions: [
        { action: 'deregister', target: ADMIN, targetId: ID, port: FLEET.indexedPort, result: 'ok', latencyMs: 0 },
        { action: 'deregister', target: HTTP, targetId: ID, result: 'ok', latencyMs: 0 },
        { action: 'deregister', target: HTTPS, targetId: ID, result: 'ok', latencyMs: 0 },
        { action: 'detach', target: FLEET.groupName, result: 'ok', latencyMs: 0 },
      ],
      deadline: new Date(eventTime + 120_000).toISOString(),
      msLeftAtFinish: 115_000,
      indexRefreshedAt: FLEET.indexRefreshedAt,
      receivedAt: new Date(eventTime + 5_000).toISOString(),
      finishedAt: new Date(eventTime + 5_000).toISOString(),
    });
    expect({ day, eventTimeAndId }).toEqual({
      day: 'DAY#2025-03-04',
      eventTimeAndId: `2025-03-04T10:15:30.000Z#${String(event.id)}`,
    });
    expect(expiresAt).toBe(Math.floor((eventTime + 5_000) / 1000) + 90 * 86_400);
    expect(returnedTimeline).toEqual([
      { event: 'warning-received', at: event.time, detail: 'instance-action terminate' },
      { event: 'traffic-stopped', at: new Date(eventTime + 5_000).toISOString(), detail: '3 registration(s)' },
      { event: 'detached', at: new Date(eventTime + 5_000).toISOString() },
    ]);
    expect(Object.keys(timeline as object).sort()).toEqual(['detached', 'traffic-stopped', 'warning-received']);
  });

  it('records each action\'s latency on the responder\'s clock', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    // Deregistrations settle in microtasks; the detach answers a macrotask later, 250 ms on.
    aws.autoScaling.on(DetachInstancesCommand).callsFake(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      aws.clock.advance(250);
      return { Activities: [] };
    });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record.actions.map((a) => [a.action, a.latencyMs])).toEqual([
      ['deregister', 0],
      ['deregister', 0],
      ['deregister', 0],
      ['detach', 250],
    ]);
    expect(record.msLeftAtFinish).toBe(115_000 - 250);
  });

  it('bounds every call before the deadline by an abort signal', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    await aws.handler()(event);

    // Assess
    type Recorded = { send: { getCalls(): Array<{ args: unknown[] }> } };
    const fleetCalls = ([aws.ec2, aws.autoScaling, aws.elbv2] as Recorded[]).flatMap((stub) => stub.send.getCalls());
    const fleetCommands = fleetCalls.map((call) => (call.args[0] as object).constructor.name);
    expect(fleetCommands).toEqual(
      expect.arrayContaining([
        'DescribeInstancesCommand',
        'DescribeAutoScalingInstancesCommand',
        'DescribeAutoScalingGroupsCommand',
        'DetachInstancesCommand',
        'DeregisterTargetsCommand',
      ]),
    );
    const bounded: Array<CallOptions | undefined> = [
      ...fleetCalls.map((call) => call.args[1] as CallOptions | undefined),
      ...aws.dynamo.commandCalls(BatchGetCommand).map((call) => (call.args as unknown[])[1] as CallOptions | undefined),
      callOptionsOf(aws.dynamo, claimsSent(aws)[0]),
    ];
    for (const options of bounded) expect(options?.abortSignal).toBeInstanceOf(AbortSignal);
  });
});

describe('target groups found through the index', () => {
  const IP_GROUP = targetGroupArn('grpc-ip');
  const STALE_IP_GROUP = targetGroupArn('legacy-ip');

  function withIpTargets(event: RawEvent) {
    const aws = worldFor(event);
    aws.dynamo.on(BatchGetCommand).resolves(
      indexReply([
        indexedInstance(ADMIN, FLEET.indexedPort),
        indexedIp(IP_GROUP, FLEET.secondaryIp, 50051, FLEET.availabilityZone),
        // Freed since the refresh: now another instance's IP.
        indexedIp(STALE_IP_GROUP, '10.0.9.99', 50051, FLEET.availabilityZone),
      ]),
    );
    return aws;
  }

  it('deregisters an IP target whose IP is still the instance\'s, with that IP, port and zone', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = withIpTargets(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).toHaveReceivedCommandWith(DeregisterTargetsCommand, {
      TargetGroupArn: IP_GROUP,
      Targets: [{ Id: FLEET.secondaryIp, Port: 50051, AvailabilityZone: FLEET.availabilityZone }],
    });
    expect(record.deregisteredFrom).toEqual([ADMIN, IP_GROUP, HTTP, HTTPS]);
    expect(record.outcome).toBe('handled');
  });

  it('leaves alone an IP target whose IP no longer belongs to the instance', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = withIpTargets(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(deregistrationsSent(aws).map((input) => input.TargetGroupArn)).not.toContain(STALE_IP_GROUP);
    expect(deregistrationsSent(aws).flatMap((input) => input.Targets?.map((t) => t.Id))).not.toContain('10.0.9.99');
    expect(record.targetGroups).not.toContain(STALE_IP_GROUP);
  });

  it('deregisters an ASG group the index covers once, on the indexed port', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.dynamo.on(BatchGetCommand).resolves(indexReply([indexedInstance(HTTP, 8443)]));

    // Act
    const record = await aws.handler()(event);

    // Assess
    const toHttp = deregistrationsSent(aws).filter((input) => input.TargetGroupArn === HTTP);
    expect(toHttp).toEqual([{ TargetGroupArn: HTTP, Targets: [{ Id: ID, Port: 8443 }] }]);
    expect(aws.elbv2).toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: HTTPS, Targets: [{ Id: ID }] });
    expect(record.targetGroups).toEqual([HTTP, HTTPS]);
  });
});

describe('an instance in no Auto Scaling group', () => {
  it('is deregistered from the index\'s groups and handled without a detach', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(NO_MEMBERSHIP);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(deregistrationsSent(aws)).toEqual([{ TargetGroupArn: ADMIN, Targets: [{ Id: ID, Port: FLEET.indexedPort }] }]);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DescribeAutoScalingGroupsCommand);
    expect(finishedRecord(aws)).toMatchObject({
      outcome: 'handled',
      autoScalingGroup: null,
      detached: false,
      deregisteredFrom: [ADMIN],
    });
    expect(record.actions).toContainEqual({
      action: 'detach',
      target: '-',
      result: 'skipped',
      latencyMs: 0,
      reason: 'instance is in no Auto Scaling group',
    });
  });

  it('is skipped when no target group holds it either', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(NO_MEMBERSHIP);
    aws.dynamo.on(BatchGetCommand).resolves(indexReply([]));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'instance is in no Auto Scaling group' });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', status: 'COMPLETED' });
  });
});

describe('the lifecycle state in the Auto Scaling group', () => {
  it('detaches a Standby instance', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(membershipReply('Standby'));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandWith(DetachInstancesCommand, {
      AutoScalingGroupName: FLEET.groupName,
      InstanceIds: [ID],
      ShouldDecrementDesiredCapacity: false,
    });
    expect(record).toMatchObject({ outcome: 'handled', detached: true, lifecycleState: 'Standby' });
  });

  it.each(['Pending', 'Terminating', 'Pending:Wait'])(
    'does not detach an instance in %s, records why, and still deregisters it',
    async (state) => {
      // Prepare
      const event = terminateWarning();
      const aws = worldFor(event);
      aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(membershipReply(state));

      // Act
      const record = await aws.handler()(event);

      // Assess
      expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
      expect(deregistrationsSent(aws).map((input) => input.TargetGroupArn)).toEqual([ADMIN, HTTP, HTTPS]);
      expect(record.actions).toContainEqual({
        action: 'detach',
        target: FLEET.groupName,
        result: 'skipped',
        latencyMs: 0,
        reason: `lifecycle state is ${state}; only InService or Standby instances can be detached`,
      });
      expect(finishedRecord(aws)).toMatchObject({ outcome: 'handled', detached: false, lifecycleState: state });
    },
  );
});

describe('the Auto Scaling group\'s own target groups', () => {
  it('are all covered when the group attaches them as traffic sources', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply({ targetGroupArns: [HTTP], trafficSourceArns: [HTTPS] }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record.deregisteredFrom).toEqual([ADMIN, HTTP, HTTPS]);
  });
});
