// A small Spot fleet built through the real SDK against the emulator: the stage the demo and
// the integration tests replay interruption warnings on, and a snapshot of it to compare.
//
// What moto 5.2.5 (server mode) actually does, probed with the SDK; the responder and its tests
// must not assume more than this:
// - CreateAutoScalingGroup launches the instances synchronously, InService and Healthy at once,
//   and registers them in the group's TargetGroupARNs at each group's port (also synchronous).
//   All instances land in the FIRST subnet of VPCZoneIdentifier, so in one AZ.
// - No ASG instance is marked Spot: InstanceLifecycle is absent whether the launch template has
//   InstanceMarketOptions or the group has a MixedInstancesPolicy with 0 % On-Demand. Only
//   RunInstances with InstanceMarketOptions yields InstanceLifecycle 'spot'.
// - DetachInstances(ShouldDecrementDesiredCapacity=false) launches a replacement at once, but
//   leaves the detached instance registered in the group's target groups (AWS deregisters it).
//   Detaching an instance that is not in the group succeeds with no activities (AWS: a
//   ValidationError); naming a group that does not exist is an HTTP 500.
// - Whenever the group's capacity is recomputed (detach, standby, terminate), moto registers
//   every instance still in the group in all its target groups again, Standby ones included.
// - Target groups hold at most one registration per target id: registering an instance on a
//   second port replaces the first, and DeregisterTargets matches on the id alone, ignoring the
//   port. Deregistering a target that is not registered is InvalidTargetException.
// - Deregistered targets vanish from DescribeTargetHealth at once (no 'draining', whatever the
//   deregistration delay); asked for by id they come back 'unused' / Target.NotRegistered.
//   Every registered target is 'healthy' straight away.
// - TargetType 'ip' groups work; any IP can be registered (no VPC check).
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import {
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  type AutoScalingClient,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';

export interface FleetClients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  elbv2: ElasticLoadBalancingV2Client;
}

export interface DemoFleetOptions {
  /** Prefix of every name, so several fleets can share one emulator; 'demo' by default. */
  prefix?: string;
  /** Instances in the Auto Scaling group; 3 by default. */
  asgSize?: number;
  /** How long to wait for the group to be InService and registered; 30 s by default. */
  timeoutMs?: number;
}

export interface DemoTargetGroup {
  name: string;
  arn: string;
  port: number;
  targetType: 'instance' | 'ip';
}

export interface DemoFleet {
  region: string;
  vpcId: string;
  subnetIds: string[];
  availabilityZones: string[];
  loadBalancerArn: string;
  loadBalancerDnsName: string;
  listenerArns: string[];
  launchTemplateId: string;
  autoScalingGroupName: string;
  /** The group's instances when the fleet was built, sorted. */
  asgInstanceIds: string[];
  targetGroups: {
    /** The group's, port 80. */
    web: DemoTargetGroup;
    /** The group's, port 8080. */
    api: DemoTargetGroup;
    /** Not the group's, port 9000: holds `shared` on port 9001 and the standalone instance. */
    admin: DemoTargetGroup;
    /** Not the group's, TargetType ip: holds `shared`'s private IP. */
    adminIp: DemoTargetGroup;
  };
  /** The group instance registered outside the group's target groups too. */
  shared: { instanceId: string; privateIp: string; adminPort: number };
  /** An instance in no Auto Scaling group, registered in `admin`. */
  standaloneInstanceId: string;
}

const AMI = 'ami-12c6146b';
const INSTANCE_TYPE = 't3.micro';
const SHARED_ADMIN_PORT = 9001;

export async function buildDemoFleet(clients: FleetClients, opts: DemoFleetOptions = {}): Promise<DemoFleet> {
  const { ec2, autoScaling, elbv2 } = clients;
  const prefix = opts.prefix ?? 'demo';
  const asgSize = opts.asgSize ?? 3;
  const region = await ec2.config.region();
  const availabilityZones = [`${region}a`, `${region}b`];

  const vpcId = required((await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc?.VpcId, 'VpcId');
  const subnetIds: string[] = [];
  for (const [i, az] of availabilityZones.entries()) {
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${i + 1}.0/24`, AvailabilityZone: az }),
    );
    subnetIds.push(required(subnet.Subnet?.SubnetId, 'SubnetId'));
  }

  const lb = (
    await elbv2.send(
      new CreateLoadBalancerCommand({
        Name: `${prefix}-alb`,
        Type: 'application',
        Scheme: 'internet-facing',
        Subnets: subnetIds,
      }),
    )
  ).LoadBalancers?.[0];
  const loadBalancerArn = required(lb?.LoadBalancerArn, 'LoadBalancerArn');

  const targetGroup = async (suffix: string, port: number, targetType: 'instance' | 'ip'): Promise<DemoTargetGroup> => {
    const name = `${prefix}-${suffix}`;
    const created = await elbv2.send(
      new CreateTargetGroupCommand({
        Name: name,
        Protocol: 'HTTP',
        Port: port,
        VpcId: vpcId,
        TargetType: targetType,
        HealthCheckPath: '/health',
      }),
    );
    return { name, arn: required(created.TargetGroups?.[0]?.TargetGroupArn, 'TargetGroupArn'), port, targetType };
  };
  const web = await targetGroup('web', 80, 'instance');
  const api = await targetGroup('api', 8080, 'instance');
  const admin = await targetGroup('admin', 9000, 'instance');
  const adminIp = await targetGroup('admin-ip', 9000, 'ip');

  const listenerArns: string[] = [];
  for (const tg of [web, api, admin]) {
    const listener = await elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: loadBalancerArn,
        Protocol: 'HTTP',
        Port: tg.port,
        DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.arn }],
      }),
    );
    listenerArns.push(required(listener.Listeners?.[0]?.ListenerArn, 'ListenerArn'));
  }
  // The ip group is reached through a path rule on the admin listener.
  await elbv2.send(
    new CreateRuleCommand({
      ListenerArn: required(listenerArns[2], 'admin listener'),
      Priority: 10,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/by-ip/*'] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: adminIp.arn }],
    }),
  );

  // Spot through a MixedInstancesPolicy with no On-Demand capacity, as AWS recommends for Spot
  // groups (moto accepts it but launches ordinary instances; see the notes at the top).
  const template = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${prefix}-spot`,
      LaunchTemplateData: {
        ImageId: AMI,
        InstanceType: INSTANCE_TYPE,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `${prefix}-asg` }] }],
      },
    }),
  );
  const launchTemplateId = required(template.LaunchTemplate?.LaunchTemplateId, 'LaunchTemplateId');
  const autoScalingGroupName = `${prefix}-asg`;
  await autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: autoScalingGroupName,
      MinSize: asgSize,
      MaxSize: asgSize * 2,
      DesiredCapacity: asgSize,
      VPCZoneIdentifier: subnetIds.join(','),
      TargetGroupARNs: [web.arn, api.arn],
      CapacityRebalance: true,
      MixedInstancesPolicy: {
        LaunchTemplate: {
          LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: '$Latest' },
          Overrides: [{ InstanceType: INSTANCE_TYPE }, { InstanceType: 't3a.micro' }],
        },
        InstancesDistribution: {
          OnDemandBaseCapacity: 0,
          OnDemandPercentageAboveBaseCapacity: 0,
          SpotAllocationStrategy: 'price-capacity-optimized',
        },
      },
      Tags: [{ Key: 'spot-responder:demo', Value: prefix, PropagateAtLaunch: true }],
    }),
  );
  const asgInstanceIds = await waitForGroup(clients, autoScalingGroupName, asgSize, [web, api], opts.timeoutMs ?? 30_000);

  const sharedId = required(asgInstanceIds[0], 'an instance of the group');
  const shared = required((await describeInstances(ec2, [sharedId]))[0], `instance ${sharedId}`);
  const privateIp = required(shared.PrivateIpAddress, 'PrivateIpAddress');
  await elbv2.send(
    new RegisterTargetsCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: sharedId, Port: SHARED_ADMIN_PORT }] }),
  );
  await elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: adminIp.arn, Targets: [{ Id: privateIp }] }));

  const standalone = await ec2.send(
    new RunInstancesCommand({
      ImageId: AMI,
      InstanceType: INSTANCE_TYPE,
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetIds[1],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `${prefix}-standalone` }] }],
    }),
  );
  const standaloneInstanceId = required(standalone.Instances?.[0]?.InstanceId, 'standalone InstanceId');
  await elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: admin.arn, Targets: [{ Id: standaloneInstanceId }] }));

  return {
    region,
    vpcId,
    subnetIds,
    availabilityZones,
    loadBalancerArn,
    loadBalancerDnsName: lb?.DNSName ?? '',
    listenerArns,
    launchTemplateId,
    autoScalingGroupName,
    asgInstanceIds,
    targetGroups: { web, api, admin, adminIp },
    shared: { instanceId: sharedId, privateIp, adminPort: SHARED_ADMIN_PORT },
    standaloneInstanceId,
  };
}

/**
 * Waits until the group has `size` InService instances, each registered in every one of
 * `targetGroups`; returns their ids, sorted. moto does both synchronously, AWS in minutes.
 */
async function waitForGroup(
  clients: FleetClients,
  groupName: string,
  size: number,
  targetGroups: DemoTargetGroup[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const group = await describeGroup(clients.autoScaling, groupName);
    const inService = (group?.Instances ?? [])
      .filter((i) => i.LifecycleState === 'InService')
      .map((i) => i.InstanceId ?? '')
      .sort();
    if (inService.length === size) {
      const registered = await Promise.all(targetGroups.map((tg) => registeredIds(clients.elbv2, tg.arn)));
      if (registered.every((ids) => inService.every((id) => ids.has(id)))) return inService;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Auto Scaling group ${groupName} did not reach ${size} InService instances registered in ` +
          `${targetGroups.map((tg) => tg.name).join(', ')} within ${timeoutMs} ms (InService: ${inService.length})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function registeredIds(elbv2: ElasticLoadBalancingV2Client, arn: string): Promise<Set<string>> {
  const health = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
  return new Set((health.TargetHealthDescriptions ?? []).map((d) => d.Target?.Id ?? ''));
}

async function describeGroup(autoScaling: AutoScalingClient, name: string): Promise<AutoScalingGroup | undefined> {
  const out = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  return out.AutoScalingGroups?.[0];
}

async function describeInstances(ec2: EC2Client, instanceIds: string[]): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`emulator response is missing ${what}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Snapshot

export interface FleetSnapshot {
  autoScalingGroup: {
    name: string;
    desiredCapacity: number;
    /** Sorted by instance id. */
    instances: { instanceId: string; lifecycleState: string; healthStatus: string }[];
  } | null;
  /** In the order web, api, admin, admin-ip; targets sorted by id, then port. */
  targetGroups: {
    name: string;
    targetType: 'instance' | 'ip';
    targets: { id: string; port: number | null; state: string }[];
  }[];
  /** Every instance in the fleet's VPC that is in no Auto Scaling group, sorted by id. */
  standaloneInstances: { instanceId: string; state: string }[];
}

/** A plain, deterministic picture of the fleet: compare two with toEqual to prove nothing changed. */
export async function describeFleet(clients: FleetClients, fleet: DemoFleet): Promise<FleetSnapshot> {
  const group = await describeGroup(clients.autoScaling, fleet.autoScalingGroupName);
  const autoScalingGroup = group
    ? {
        name: fleet.autoScalingGroupName,
        desiredCapacity: group.DesiredCapacity ?? 0,
        instances: (group.Instances ?? [])
          .map((i) => ({
            instanceId: i.InstanceId ?? '',
            lifecycleState: i.LifecycleState ?? '',
            healthStatus: i.HealthStatus ?? '',
          }))
          .sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
      }
    : null;

  const { web, api, admin, adminIp } = fleet.targetGroups;
  const targetGroups = await Promise.all(
    [web, api, admin, adminIp].map(async (tg) => {
      const health = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.arn }));
      const targets = (health.TargetHealthDescriptions ?? [])
        .map((d) => ({ id: d.Target?.Id ?? '', port: d.Target?.Port ?? null, state: d.TargetHealth?.State ?? '' }))
        .sort((a, b) => a.id.localeCompare(b.id) || (a.port ?? 0) - (b.port ?? 0));
      return { name: tg.name, targetType: tg.targetType, targets };
    }),
  );

  const inVpc = await clients.ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'vpc-id', Values: [fleet.vpcId] }] }),
  );
  const instances = (inVpc.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  const grouped = await groupedInstanceIds(
    clients.autoScaling,
    instances.map((i) => i.InstanceId ?? ''),
  );
  const standaloneInstances = instances
    .filter((i) => !grouped.has(i.InstanceId ?? ''))
    .map((i) => ({ instanceId: i.InstanceId ?? '', state: i.State?.Name ?? '' }))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));

  return { autoScalingGroup, targetGroups, standaloneInstances };
}

/** Which of `instanceIds` belong to some Auto Scaling group (DescribeAutoScalingInstances takes 50 at a time). */
async function groupedInstanceIds(autoScaling: AutoScalingClient, instanceIds: string[]): Promise<Set<string>> {
  const grouped = new Set<string>();
  for (let i = 0; i < instanceIds.length; i += 50) {
    const out = await autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: instanceIds.slice(i, i + 50) }),
    );
    for (const member of out.AutoScalingInstances ?? []) grouped.add(member.InstanceId ?? '');
  }
  return grouped;
}
