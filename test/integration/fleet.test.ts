import {
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  EnterStandbyCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { resetEmulator, testClients, useEmulator } from '../support/emulator-env';

useEmulator();
const clients = testClients();
afterAll(() => Object.values(clients).forEach((client) => client.destroy()));

const targetsOf = (snapshot: FleetSnapshot, name: string) =>
  snapshot.targetGroups.find((tg) => tg.name === name)?.targets.map(({ id, port }) => ({ id, port }));

describe('buildDemoFleet', () => {
  let fleet: DemoFleet;
  let snapshot: FleetSnapshot;
  beforeAll(async () => {
    fleet = await buildDemoFleet(clients);
    snapshot = await describeFleet(clients, fleet);
  }, 30_000);

  it('runs three InService instances in the Auto Scaling group', () => {
    expect(fleet.asgInstanceIds).toHaveLength(3);
    expect(snapshot.autoScalingGroup).toEqual({
      name: 'demo-asg',
      desiredCapacity: 3,
      instances: fleet.asgInstanceIds.map((instanceId) => ({
        instanceId,
        lifecycleState: 'InService',
        healthStatus: 'Healthy',
      })),
    });
  });

  it("registers every group instance in the group's target groups at their ports", () => {
    expect(targetsOf(snapshot, 'demo-web')).toEqual(fleet.asgInstanceIds.map((id) => ({ id, port: 80 })));
    expect(targetsOf(snapshot, 'demo-api')).toEqual(fleet.asgInstanceIds.map((id) => ({ id, port: 8080 })));
  });

  it('registers one group instance outside the group: by id on 9001 in admin, by private IP in admin-ip', async () => {
    const { shared, standaloneInstanceId } = fleet;
    expect(fleet.asgInstanceIds).toContain(shared.instanceId);
    expect(targetsOf(snapshot, 'demo-admin')).toEqual(
      expect.arrayContaining([{ id: shared.instanceId, port: 9001 }, { id: standaloneInstanceId, port: 9000 }]),
    );
    expect(targetsOf(snapshot, 'demo-admin')).toHaveLength(2);
    expect(targetsOf(snapshot, 'demo-admin-ip')).toEqual([{ id: shared.privateIp, port: 9000 }]);

    const described = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [shared.instanceId] }));
    expect(described.Reservations?.[0]?.Instances?.[0]?.PrivateIpAddress).toBe(shared.privateIp);
  });

  it('runs a standalone instance in no Auto Scaling group', async () => {
    expect(snapshot.standaloneInstances).toEqual([{ instanceId: fleet.standaloneInstanceId, state: 'running' }]);
    const membership = await clients.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [fleet.standaloneInstanceId] }),
    );
    expect(membership.AutoScalingInstances).toEqual([]);
  });

  it('puts an internet-facing ALB in two AZs with listeners forwarding to web, api and admin', async () => {
    const lb = (await clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [fleet.loadBalancerArn] })))
      .LoadBalancers?.[0];
    expect(lb).toMatchObject({ Type: 'application', Scheme: 'internet-facing' });
    expect(lb?.AvailabilityZones?.map((az) => az.ZoneName).sort()).toEqual(['us-east-1a', 'us-east-1b']);

    const listeners = await clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: fleet.loadBalancerArn }));
    const forwards = (listeners.Listeners ?? [])
      .map((l) => [l.Port, l.DefaultActions?.[0]?.TargetGroupArn])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    const { web, api, admin } = fleet.targetGroups;
    expect(forwards).toEqual([[80, web.arn], [8080, api.arn], [9000, admin.arn]]);
  });

  it('describes the same fleet the same way twice', async () => {
    expect(await describeFleet(clients, fleet)).toEqual(snapshot);
  });

  it('builds a second fleet beside the first under another prefix', async () => {
    const second = await buildDemoFleet(clients, { prefix: 'second', asgSize: 2 });
    const secondSnapshot = await describeFleet(clients, second);
    expect(secondSnapshot.autoScalingGroup?.instances).toHaveLength(2);
    expect(secondSnapshot.standaloneInstances).toEqual([{ instanceId: second.standaloneInstanceId, state: 'running' }]);
    expect(await describeFleet(clients, fleet)).toEqual(snapshot);
  });
});

// How moto treats the calls the responder makes, probed against the demo fleet. These pin the
// emulator's behaviour (often unlike AWS; see dev/fleet.ts), so a moto upgrade that changes
// it shows up here rather than as a puzzling adapter test.
describe('moto behaviour on the demo fleet', () => {
  let fleet: DemoFleet;
  beforeEach(async () => {
    await resetEmulator();
    fleet = await buildDemoFleet(clients);
  }, 30_000);

  const health = async (arn: string) =>
    (await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))).TargetHealthDescriptions ?? [];

  it('detach without decrement: launches a replacement, leaves the instance registered (AWS deregisters it)', async () => {
    // Prepare
    const detached = fleet.shared.instanceId;

    // Act
    await clients.autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: fleet.autoScalingGroupName,
        InstanceIds: [detached],
        ShouldDecrementDesiredCapacity: false,
      }),
    );

    // Assess
    const after = await describeFleet(clients, fleet);
    const members = after.autoScalingGroup?.instances ?? [];
    expect(after.autoScalingGroup?.desiredCapacity).toBe(3);
    expect(members.map((i) => i.lifecycleState)).toEqual(['InService', 'InService', 'InService']);
    expect(members.map((i) => i.instanceId)).not.toContain(detached);
    expect(targetsOf(after, 'demo-web')?.map((t) => t.id)).toContain(detached);
    expect(targetsOf(after, 'demo-web')).toHaveLength(4);
    expect(after.standaloneInstances.map((i) => i.instanceId)).toContain(detached);
  });

  it('detach of an instance not in the group: succeeds with no activities (AWS: ValidationError)', async () => {
    const out = await clients.autoScaling.send(
      new DetachInstancesCommand({
        AutoScalingGroupName: fleet.autoScalingGroupName,
        InstanceIds: [fleet.standaloneInstanceId],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    expect(out.Activities).toEqual([]);
  });

  it('EnterStandby works and keeps the instance registered in the target groups', async () => {
    const [instanceId] = fleet.asgInstanceIds as [string];
    await clients.autoScaling.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: fleet.autoScalingGroupName,
        InstanceIds: [instanceId],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const membership = await clients.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
    expect(membership.AutoScalingInstances?.[0]?.LifecycleState).toBe('Standby');
    expect((await health(fleet.targetGroups.web.arn)).map((d) => d.Target?.Id)).toContain(instanceId);
  });

  it('deregistration: matches on id alone, removes at once, errors for a target not registered', async () => {
    const { admin } = fleet.targetGroups;
    const { instanceId, adminPort } = fleet.shared;

    // A port other than the registered one still removes the registration.
    await clients.elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: instanceId, Port: adminPort + 1 }] }),
    );
    expect((await health(admin.arn)).map((d) => d.Target?.Id)).toEqual([fleet.standaloneInstanceId]);

    // Asked for by id, the target is reported not registered, not draining.
    const asked = await clients.elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: instanceId, Port: adminPort }] }),
    );
    expect(asked.TargetHealthDescriptions?.[0]?.TargetHealth).toMatchObject({
      State: 'unused',
      Reason: 'Target.NotRegistered',
    });

    await expect(
      clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: instanceId }] })),
    ).rejects.toMatchObject({ name: 'InvalidTargetException' });
  });

  it('keeps one registration per target id: a second port replaces the first', async () => {
    const { admin } = fleet.targetGroups;
    await clients.elbv2.send(
      new RegisterTargetsCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: fleet.standaloneInstanceId, Port: 9002 }] }),
    );
    const ports = (await health(admin.arn))
      .filter((d) => d.Target?.Id === fleet.standaloneInstanceId)
      .map((d) => d.Target?.Port);
    expect(ports).toEqual([9002]);
  });

  it('does not mark Auto Scaling instances as Spot', async () => {
    const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: fleet.asgInstanceIds }));
    const lifecycles = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceLifecycle);
    expect(lifecycles).toEqual([undefined, undefined, undefined]);
  });

  it('finds an instance by private IP through DescribeNetworkInterfaces addresses.private-ip-address', async () => {
    const out = await clients.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'addresses.private-ip-address', Values: [fleet.shared.privateIp] }],
      }),
    );
    expect(out.NetworkInterfaces?.map((eni) => eni.Attachment?.InstanceId)).toEqual([fleet.shared.instanceId]);
  });
});
