// The reads behind `spot-responder doctor`: every target group with its attributes, every Auto
// Scaling group with its terminating hooks, and which groups run Spot. Read-only by construction
// (only Describe* calls), paced so a preflight never starves the account's ELBv2 describe bucket
// that a mass reclaim needs.
import {
  paginateDescribeAutoScalingGroups,
  DescribeLifecycleHooksCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import { paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { paginateDescribeInstanceInformation } from '@aws-sdk/client-ssm';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  paginateDescribeTargetGroups,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../../lambda/aws/clients';
import { createRateLimiter, type RateLimiter } from '../../lambda/aws/target-scan';
import { chunk } from '../../lambda/aws/batching';
import type { AutoScalingGroupFacts, FleetFacts, ScopeFacts, SsmCoverageFacts, TargetGroupFacts } from './checks';

/** Defaults of ELBv2 target group attributes, used when an attribute is absent (ELBv2 API reference). */
const ELBV2_DEFAULTS = { deregistrationDelaySeconds: 300, healthCheckIntervalSeconds: 30, unhealthyThresholdCount: 2 };

/** DescribeLoadBalancers takes at most 20 ARNs per call (ELBv2 API reference). */
const LOAD_BALANCER_ARNS_PER_CALL = 20;

/** The tag Auto Scaling puts on each instance it launches. */
const GROUP_NAME_TAG = 'aws:autoscaling:groupName';

export interface InspectOptions {
  /**
   * Describe calls per second, per service (default 4: the refresher's pace, well inside
   * ELBv2's shared describe bucket of 10 per second).
   */
  callsPerSecond?: number;
  scope?: ScopeFacts;
  /**
   * Graceful shutdown is on: also ask SSM (DescribeInstanceInformation) which Spot instances of
   * each group have an online agent.
   */
  gracefulShutdown?: boolean;
}

/** How many calls the inspection spent, by service: a preflight should say what it cost. */
export interface InspectStats {
  elbv2Calls: number;
  autoScalingCalls: number;
  ec2Calls: number;
  /** DescribeInstanceInformation pages; 0 unless graceful shutdown is on. */
  ssmCalls: number;
}

/** Values of one DescribeInstanceInformation filter (the API takes up to 100; 50 keeps pages small). */
const SSM_FILTER_VALUES = 50;

/**
 * Reads the facts `diagnose` needs. Calls: DescribeTargetGroups (paged) + DescribeLoadBalancers
 * (20 ARNs a call) + DescribeTargetGroupAttributes per target group; DescribeAutoScalingGroups
 * (paged) + DescribeLifecycleHooks per Spot group; DescribeInstances (paged, Spot instances
 * only); with `gracefulShutdown`, DescribeInstanceInformation for those Spot instances (50 ids
 * a filter, paged). Throws the SDK's error when a call fails after its retries (AccessDenied
 * names the missing permission).
 */
export async function inspectFleet(
  clients: Pick<AwsClients, 'elbv2' | 'autoScaling' | 'ec2'> & Partial<Pick<AwsClients, 'ssm'>>,
  opts: InspectOptions = {},
): Promise<{ facts: FleetFacts; stats: InspectStats }> {
  const rate = opts.callsPerSecond ?? 4;
  const stats: InspectStats = { elbv2Calls: 0, autoScalingCalls: 0, ec2Calls: 0, ssmCalls: 0 };
  const elbv2 = createRateLimiter(rate);
  const autoScaling = createRateLimiter(rate);
  const spotInstances = new Map<string, string[]>();
  const [targetGroups, autoScalingGroups] = await Promise.all([
    readTargetGroups(clients.elbv2, elbv2, stats),
    readAutoScalingGroups(clients, autoScaling, stats, spotInstances),
  ]);
  const ssmCoverage =
    opts.gracefulShutdown && clients.ssm ? await readSsmCoverage(clients.ssm, createRateLimiter(rate), stats, spotInstances) : undefined;
  return {
    facts: { targetGroups, autoScalingGroups, ...(opts.scope ? { scope: opts.scope } : {}), ...(ssmCoverage ? { ssmCoverage } : {}) },
    stats,
  };
}

/**
 * Which Spot instances of each group have an online SSM agent: DescribeInstanceInformation
 * filtered by instance id (paged, 50 ids a filter). An instance it does not list, or lists with a
 * PingStatus other than Online, cannot be sent the graceful-shutdown command.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
 */
async function readSsmCoverage(
  client: AwsClients['ssm'],
  limiter: RateLimiter,
  stats: InspectStats,
  spotInstances: ReadonlyMap<string, string[]>,
): Promise<SsmCoverageFacts[]> {
  const online = new Set<string>();
  for (const ids of chunk([...spotInstances.values()].flat(), SSM_FILTER_VALUES)) {
    for await (const page of paginateDescribeInstanceInformation({ client }, { Filters: [{ Key: 'InstanceIds', Values: ids }] })) {
      stats.ssmCalls++;
      for (const info of page.InstanceInformationList ?? []) {
        if (info.InstanceId && info.PingStatus === 'Online') online.add(info.InstanceId);
      }
      await limiter.acquire();
    }
  }
  return [...spotInstances].map(([group, spotInstanceIds]) => ({
    group,
    spotInstanceIds,
    withoutAgent: spotInstanceIds.filter((id) => !online.has(id)),
  }));
}

async function readTargetGroups(
  client: AwsClients['elbv2'],
  limiter: RateLimiter,
  stats: InspectStats,
): Promise<TargetGroupFacts[]> {
  const groups: TargetGroup[] = [];
  // The paginator asks for the next page only when the loop wants it, so the pace holds per page.
  for await (const page of paginateDescribeTargetGroups({ client }, {})) {
    stats.elbv2Calls++;
    groups.push(...(page.TargetGroups ?? []));
    await limiter.acquire();
  }
  const balancerTypes = await readLoadBalancerTypes(client, limiter, stats, groups);
  const facts: TargetGroupFacts[] = [];
  for (const group of groups) {
    if (!group.TargetGroupArn || !group.TargetGroupName) continue;
    await limiter.acquire();
    stats.elbv2Calls++;
    const out = await client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: group.TargetGroupArn }));
    const attributes = new Map((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
    const balancerArn = group.LoadBalancerArns?.[0];
    facts.push({
      name: group.TargetGroupName,
      arn: group.TargetGroupArn,
      protocol: group.Protocol ?? null,
      loadBalancerType: (balancerArn && balancerTypes.get(balancerArn)) || null,
      deregistrationDelaySeconds: numberOr(
        attributes.get('deregistration_delay.timeout_seconds'),
        ELBV2_DEFAULTS.deregistrationDelaySeconds,
      ),
      connectionTerminationOnDeregistration: attributes.get('deregistration_delay.connection_termination.enabled') === 'true',
      healthCheckEnabled: group.HealthCheckEnabled !== false,
      healthCheckIntervalSeconds: group.HealthCheckIntervalSeconds ?? ELBV2_DEFAULTS.healthCheckIntervalSeconds,
      unhealthyThresholdCount: group.UnhealthyThresholdCount ?? ELBV2_DEFAULTS.unhealthyThresholdCount,
    });
  }
  return facts;
}

/** The type of each load balancer in front of the groups (an NLB has its own draining rule). */
async function readLoadBalancerTypes(
  client: AwsClients['elbv2'],
  limiter: RateLimiter,
  stats: InspectStats,
  groups: readonly TargetGroup[],
): Promise<Map<string, TargetGroupFacts['loadBalancerType']>> {
  const arns = [...new Set(groups.flatMap((g) => g.LoadBalancerArns ?? []))];
  const types = new Map<string, TargetGroupFacts['loadBalancerType']>();
  for (let i = 0; i < arns.length; i += LOAD_BALANCER_ARNS_PER_CALL) {
    await limiter.acquire();
    stats.elbv2Calls++;
    const out = await client.send(
      new DescribeLoadBalancersCommand({ LoadBalancerArns: arns.slice(i, i + LOAD_BALANCER_ARNS_PER_CALL) }),
    );
    for (const lb of out.LoadBalancers ?? []) {
      if (lb.LoadBalancerArn && (lb.Type === 'application' || lb.Type === 'network' || lb.Type === 'gateway')) {
        types.set(lb.LoadBalancerArn, lb.Type);
      }
    }
  }
  return types;
}

async function readAutoScalingGroups(
  clients: Pick<AwsClients, 'autoScaling' | 'ec2'>,
  limiter: RateLimiter,
  stats: InspectStats,
  spotInstances: Map<string, string[]>,
): Promise<AutoScalingGroupFacts[]> {
  const groups: AutoScalingGroup[] = [];
  for await (const page of paginateDescribeAutoScalingGroups({ client: clients.autoScaling }, {})) {
    stats.autoScalingCalls++;
    groups.push(...(page.AutoScalingGroups ?? []));
    await limiter.acquire();
  }
  const runningSpot = await groupsRunningSpot(clients.ec2, stats, spotInstances);
  const facts: AutoScalingGroupFacts[] = [];
  for (const group of groups) {
    if (!group.AutoScalingGroupName) continue;
    const usesSpot = runningSpot.has(group.AutoScalingGroupName) || asksForSpot(group);
    const terminatingHooks: AutoScalingGroupFacts['terminatingHooks'] = [];
    // Hooks matter only where a Spot warning can come; other groups cost no call.
    if (usesSpot) {
      await limiter.acquire();
      stats.autoScalingCalls++;
      const out = await clients.autoScaling.send(
        new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group.AutoScalingGroupName }),
      );
      for (const hook of out.LifecycleHooks ?? []) {
        if (hook.LifecycleTransition === 'autoscaling:EC2_INSTANCE_TERMINATING' && hook.LifecycleHookName) {
          terminatingHooks.push({ name: hook.LifecycleHookName, heartbeatTimeoutSeconds: hook.HeartbeatTimeout ?? 3600 });
        }
      }
    }
    facts.push({
      name: group.AutoScalingGroupName,
      usesSpot,
      capacityRebalance: group.CapacityRebalance === true,
      instanceTypes: instanceTypesOf(group),
      // Attribute-based selection names no type: it spans every type that fits.
      attributeBasedSelection: (group.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? []).some((o) => o.InstanceRequirements),
      availabilityZones: group.AvailabilityZones ?? [],
      targetGroupArns: [
        ...new Set([
          ...(group.TargetGroupARNs ?? []),
          ...(group.TrafficSources ?? []).filter((s) => s.Type === 'elbv2' && s.Identifier).map((s) => s.Identifier as string),
        ]),
      ],
      terminatingHooks,
    });
  }
  return facts;
}

/**
 * Groups with a Spot instance now (and, into `spotInstances`, those instances' ids by group), from
 * the tag Auto Scaling puts on its instances. Narrowed by
 * that tag on the server; whether an instance is Spot is read from the answer (InstanceLifecycle),
 * which every emulator and account returns, where the `instance-lifecycle` filter is not
 * supported everywhere (moto answers 500).
 */
async function groupsRunningSpot(client: AwsClients['ec2'], stats: InspectStats, spotInstances: Map<string, string[]>): Promise<Set<string>> {
  const names = new Set<string>();
  const filters = [
    { Name: 'tag-key', Values: [GROUP_NAME_TAG] },
    { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
  ];
  for await (const page of paginateDescribeInstances({ client }, { Filters: filters })) {
    stats.ec2Calls++;
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        const name = instance.Tags?.find((t) => t.Key === GROUP_NAME_TAG)?.Value;
        if (name && instance.InstanceLifecycle === 'spot') {
          names.add(name);
          if (instance.InstanceId) spotInstances.set(name, [...(spotInstances.get(name) ?? []), instance.InstanceId]);
        }
      }
    }
  }
  return names;
}

/** A mixed instances policy that puts any capacity above the On-Demand base on Spot. */
function asksForSpot(group: AutoScalingGroup): boolean {
  const distribution = group.MixedInstancesPolicy?.InstancesDistribution;
  if (!group.MixedInstancesPolicy) return false;
  return (distribution?.OnDemandPercentageAboveBaseCapacity ?? 100) < 100;
}

function instanceTypesOf(group: AutoScalingGroup): string[] {
  const overrides = group.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? [];
  const types = overrides.map((o) => o.InstanceType).filter((t): t is string => Boolean(t));
  if (types.length > 0) return [...new Set(types)];
  const single = new Set((group.Instances ?? []).map((i) => i.InstanceType).filter((t): t is string => Boolean(t)));
  return [...single];
}

function numberOr(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) ? n : fallback;
}
