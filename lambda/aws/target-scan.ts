// The index refresher's walks: every ELBv2 target group in the account and region, every
// registration in it with its health state, keyed by the instance that stands behind it; and
// every Auto Scaling group's facts, keyed by its instances. Run on a schedule, never on the
// responder's hot path.
import {
  DescribeLifecycleHooksCommand,
  paginateDescribeAutoScalingGroups,
  type AutoScalingClient,
  type AutoScalingGroup,
  type LifecycleHook,
} from '@aws-sdk/client-auto-scaling';
import { paginateDescribeNetworkInterfaces, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  paginateDescribeTargetGroups,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AsgFacts, IndexedTarget } from '../core/model';
import type { Log } from '../log';
import { sleep as realSleep, type Sleep } from './clients';

/** DescribeTargetGroups PageSize: valid range 1-400 (API reference). */
export const TARGET_GROUP_PAGE_SIZE = 400;
/** Values per EC2 filter per call; EC2 rejects longer lists. */
export const IP_FILTER_CHUNK = 200;
/** DescribeNetworkInterfaces MaxResults: valid range 5-1000 (API reference). */
const NETWORK_INTERFACE_PAGE_SIZE = 1000;

export interface RateLimiter {
  /** Resolves when the next call may start. */
  acquire(): Promise<void>;
  /** How many acquisitions had to wait. */
  readonly waits: number;
}

/**
 * Token spacing: call starts at least 1/callsPerSecond apart. The slot is reserved before
 * waiting, so concurrent callers queue rather than stampede.
 */
export function createRateLimiter(callsPerSecond: number, now: () => number = Date.now, sleep: Sleep = realSleep): RateLimiter {
  if (!(callsPerSecond > 0)) throw new RangeError(`callsPerSecond must be positive, got ${callsPerSecond}`);
  const interval = 1000 / callsPerSecond;
  let next = Number.NEGATIVE_INFINITY;
  let waits = 0;
  return {
    async acquire() {
      const t = now();
      const slot = Math.max(t, next);
      next = slot + interval;
      if (slot > t) {
        waits++;
        await sleep(slot - t);
      }
    },
    get waits() {
      return waits;
    },
  };
}

export interface ScanDeps {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  /**
   * ELBv2 Describe* calls per second. They share the account's ELBv2 API bucket with every
   * deployment tool and controller, so the refresher stays well under it.
   */
  callsPerSecond: number;
  log?: Pick<Log, 'debug' | 'warn'>;
  /** Injected clock for the limiter (tests assert waits, never time). */
  now?: () => number;
  sleep?: Sleep;
}

export interface ScanStats {
  targetGroups: number;
  /** lambda and alb target groups: no instance behind them. */
  skippedTargetGroups: number;
  /** Deleted between the listing and DescribeTargetHealth. */
  vanishedTargetGroups: number;
  instanceTargets: number;
  /** ip targets (IPv4 or IPv6) resolved to an instance. */
  ipTargets: number;
  /**
   * ip targets resolved to no instance: on-premises, Fargate or Lambda interfaces, another
   * account, or an IP carried by several interfaces outside the group's VPC. Counted, never
   * deregistered by the responder (it cannot know them).
   */
  unresolvedIpTargets: number;
  /** Already draining: leaving without our help. */
  drainingTargets: number;
  instances: number;
  elbv2Calls: number;
  ec2Calls: number;
  rateLimitWaits: number;
}

/**
 * Where a scan stopped, to resume from: the DescribeTargetGroups Marker of the page it was in
 * (undefined for the first page) and how many target groups of that page were done.
 */
export interface ScanPosition {
  marker?: string;
  offset: number;
}

export interface ScanResult {
  byInstance: Map<string, IndexedTarget[]>;
  stats: ScanStats;
  /** Set when `shouldStop` ended the scan before the last target group: resume from here. */
  next?: ScanPosition;
}

export interface ScanControl {
  /** Where to start (a previous scan's `next`); the beginning when absent. */
  from?: ScanPosition;
  /**
   * Asked before each target group: true ends the scan there (the refresher's deadline). The
   * registrations found so far, IPs resolved, are returned with the position to resume from.
   */
  shouldStop?: () => boolean;
}

interface PendingIpTarget {
  target: IndexedTarget;
  vpcId: string | undefined;
}

interface IpOwner {
  vpcId: string | undefined;
  instanceId: string;
}

export function emptyScanStats(): ScanStats {
  return {
    targetGroups: 0,
    skippedTargetGroups: 0,
    vanishedTargetGroups: 0,
    instanceTargets: 0,
    ipTargets: 0,
    unresolvedIpTargets: 0,
    drainingTargets: 0,
    instances: 0,
    elbv2Calls: 0,
    ec2Calls: 0,
    rateLimitWaits: 0,
  };
}

/**
 * Every registration of every instance and ip target group from `control.from` on, keyed by
 * instance id. Throws the SDK's error when a describe fails (other than a target group deleted
 * meanwhile, which is counted). Calls: DescribeTargetGroups (pages of 400), DescribeTargetHealth
 * per group, DescribeNetworkInterfaces per 200 IPs.
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetGroups.html
 */
export async function scanTargetRegistrations(deps: ScanDeps, control: ScanControl = {}): Promise<ScanResult> {
  const limiter = createRateLimiter(deps.callsPerSecond, deps.now, deps.sleep);
  const stats = emptyScanStats();
  const byInstance = new Map<string, IndexedTarget[]>();
  const add = (instanceId: string, target: IndexedTarget): void => {
    const list = byInstance.get(instanceId) ?? [];
    list.push(target);
    byInstance.set(instanceId, list);
  };
  const elbv2Describe = async <T>(call: () => Promise<T>): Promise<T> => {
    await limiter.acquire();
    stats.elbv2Calls++;
    return call();
  };
  const ipTargets: PendingIpTarget[] = [];
  let next: ScanPosition | undefined;

  await limiter.acquire();
  const pages = paginateDescribeTargetGroups(
    { client: deps.elbv2, ...(control.from?.marker ? { startingToken: control.from.marker } : {}) },
    { PageSize: TARGET_GROUP_PAGE_SIZE },
  );
  let pageMarker = control.from?.marker;
  let skip = control.from?.offset ?? 0;
  pagesLoop: for await (const page of pages) {
    stats.elbv2Calls++;
    const groups = page.TargetGroups ?? [];
    for (let i = skip; i < groups.length; i++) {
      if (control.shouldStop?.()) {
        next = { ...(pageMarker ? { marker: pageMarker } : {}), offset: i };
        break pagesLoop;
      }
      stats.targetGroups++;
      await scanGroup(groups[i]!);
    }
    skip = 0;
    if (!page.NextMarker) break;
    if (control.shouldStop?.()) {
      next = { marker: page.NextMarker, offset: 0 };
      break;
    }
    pageMarker = page.NextMarker;
    await limiter.acquire();
  }

  async function scanGroup(group: TargetGroup): Promise<void> {
    const arn = group.TargetGroupArn;
    const type = group.TargetType;
    if (!arn || (type !== 'instance' && type !== 'ip')) {
      stats.skippedTargetGroups++;
      return;
    }
    let descriptions: TargetHealthDescription[];
    try {
      const out = await elbv2Describe(() => deps.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })));
      descriptions = out.TargetHealthDescriptions ?? [];
    } catch (err) {
      if (err instanceof Error && (err.name === 'TargetGroupNotFoundException' || err.name === 'TargetGroupNotFound')) {
        stats.vanishedTargetGroups++;
        deps.log?.debug('target group deleted during the scan', { targetGroupArn: arn });
        return;
      }
      throw err;
    }
    for (const description of descriptions) {
      const id = description.Target?.Id;
      if (!id) continue;
      const state = description.TargetHealth?.State;
      if (state === 'draining') {
        stats.drainingTargets++;
        continue;
      }
      const target: IndexedTarget = {
        targetGroupArn: arn,
        targetId: id,
        targetType: type,
        ...(description.Target?.Port !== undefined ? { port: description.Target.Port } : {}),
        ...(description.Target?.AvailabilityZone ? { availabilityZone: description.Target.AvailabilityZone } : {}),
        // Already in the answer: the refresher's verification of replacements costs no call.
        ...(state ? { state } : {}),
      };
      if (type === 'instance') {
        stats.instanceTargets++;
        add(id, target);
      } else {
        ipTargets.push({ target, vpcId: group.VpcId });
      }
    }
  }

  if (ipTargets.length > 0) {
    const owners = await ownersOfIps(deps.ec2, [...new Set(ipTargets.map((t) => canonicalIp(t.target.targetId)))], stats);
    for (const pending of ipTargets) {
      const instanceId = resolveIpTarget(pending, owners);
      if (instanceId) {
        stats.ipTargets++;
        add(instanceId, pending.target);
      } else {
        stats.unresolvedIpTargets++;
        deps.log?.debug('ip target resolved to no instance', {
          targetGroupArn: pending.target.targetGroupArn,
          ip: pending.target.targetId,
        });
      }
    }
  }

  stats.instances = byInstance.size;
  stats.rateLimitWaits = limiter.waits;
  return { byInstance, stats, ...(next ? { next } : {}) };
}

/**
 * Which instance holds each private IP, via the network interfaces that carry them: IPv4 by
 * the `addresses.private-ip-address` filter, IPv6 by `ipv6-addresses.ipv6-address` (both in
 * the DescribeNetworkInterfaces reference). `ips` are canonical (canonicalIp). Interfaces with no
 * instance attached (Fargate tasks, Lambda, endpoints) are skipped. Interfaces in other
 * accounts (a peered VPC's) are not visible here: their IPs stay unresolved.
 */
async function ownersOfIps(ec2: EC2Client, ips: string[], stats: ScanStats): Promise<Map<string, IpOwner[]>> {
  const owners = new Map<string, IpOwner[]>();
  const families: Array<[string, string[]]> = [
    ['addresses.private-ip-address', ips.filter((ip) => !ip.includes(':'))],
    ['ipv6-addresses.ipv6-address', ips.filter((ip) => ip.includes(':'))],
  ];
  for (const [filter, family] of families) {
    for (let i = 0; i < family.length; i += IP_FILTER_CHUNK) {
      const chunk = family.slice(i, i + IP_FILTER_CHUNK);
      const wanted = new Set(chunk);
      const pages = paginateDescribeNetworkInterfaces(
        { client: ec2, pageSize: NETWORK_INTERFACE_PAGE_SIZE },
        { Filters: [{ Name: filter, Values: chunk }] },
      );
      for await (const page of pages) {
        stats.ec2Calls++;
        for (const eni of page.NetworkInterfaces ?? []) {
          const instanceId = eni.Attachment?.InstanceId;
          if (!instanceId) continue;
          const carried = [
            eni.PrivateIpAddress,
            ...(eni.PrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress),
            ...(eni.Ipv6Addresses ?? []).map((a) => a.Ipv6Address),
          ].flatMap((ip) => (ip ? [canonicalIp(ip)] : []));
          for (const ip of new Set(carried.filter((c) => wanted.has(c)))) {
            const list = owners.get(ip) ?? [];
            list.push({ vpcId: eni.VpcId, instanceId });
            owners.set(ip, list);
          }
        }
      }
    }
  }
  return owners;
}

/**
 * One spelling per address, so that ELBv2's (as registered: `2001:DB8:0:0::1`) and EC2's
 * (`2001:db8::1`) compare equal. The WHATWG URL parser canonicalizes IPv6 hosts (RFC 5952);
 * IPv4 is returned unchanged, and so is anything that does not parse.
 */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/**
 * Private IPs repeat across VPCs, so an ip target resolves within its target group's VPC.
 * A target outside that VPC (AvailabilityZone "all": peered VPC, on-premises) resolves only
 * when exactly one interface in the account carries the IP.
 */
function resolveIpTarget(pending: PendingIpTarget, owners: Map<string, IpOwner[]>): string | undefined {
  const candidates = owners.get(canonicalIp(pending.target.targetId)) ?? [];
  const inVpc = candidates.filter((c) => c.vpcId === pending.vpcId);
  if (inVpc.length === 1) return inVpc[0]?.instanceId;
  if (inVpc.length === 0 && pending.target.availabilityZone === 'all' && candidates.length === 1) {
    return candidates[0]?.instanceId;
  }
  return undefined;
}

/** DescribeAutoScalingGroups MaxRecords: at most 100 (API reference). */
export const AUTO_SCALING_GROUP_PAGE_SIZE = 100;

const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

export interface GroupScanDeps {
  autoScaling: AutoScalingClient;
  /** Auto Scaling Describe* calls per second; the account's bucket is shared and its size unpublished. */
  callsPerSecond: number;
  now?: () => number;
  sleep?: Sleep;
}

export interface GroupScanStats {
  autoScalingGroups: number;
  /** Instances in some group: each gets its group's facts in the index. */
  groupInstances: number;
  autoScalingCalls: number;
}

export interface GroupScanResult {
  /** Instance id -> its group's facts (without the member list: see groupFactsOf). */
  byInstance: Map<string, AsgFacts>;
  stats: GroupScanStats;
  /** Set when `shouldStop` ended the walk early: the NextToken to resume from. */
  nextToken?: string;
}

/**
 * Every Auto Scaling group from `from` (a NextToken) on, through the SDK's paginator, with
 * the facts the responder's first round needs: tags, target groups (TargetGroupARNs and elbv2
 * traffic sources), EC2_INSTANCE_TERMINATING hooks, Capacity Rebalancing, suspended processes. DescribeLifecycleHooks
 * is called only for groups that have instances: an empty group has nobody to warn about.
 * `shouldStop` is asked between pages. Throws the SDK's error when a describe fails.
 * https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html
 */
export async function scanAutoScalingGroups(
  deps: GroupScanDeps,
  control: { from?: string; shouldStop?: () => boolean } = {},
): Promise<GroupScanResult> {
  const limiter = createRateLimiter(deps.callsPerSecond, deps.now, deps.sleep);
  const stats: GroupScanStats = { autoScalingGroups: 0, groupInstances: 0, autoScalingCalls: 0 };
  const byInstance = new Map<string, AsgFacts>();
  let nextToken: string | undefined;
  await limiter.acquire();
  const pages = paginateDescribeAutoScalingGroups(
    { client: deps.autoScaling, pageSize: AUTO_SCALING_GROUP_PAGE_SIZE, ...(control.from ? { startingToken: control.from } : {}) },
    {},
  );
  for await (const page of pages) {
    stats.autoScalingCalls++;
    for (const group of page.AutoScalingGroups ?? []) {
      const name = group.AutoScalingGroupName;
      const members = (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
      if (!name || members.length === 0) continue;
      stats.autoScalingGroups++;
      await limiter.acquire();
      stats.autoScalingCalls++;
      const hooks = await deps.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: name }));
      const facts = groupFactsOf(group, hooks.LifecycleHooks ?? []);
      for (const id of members) byInstance.set(id, facts);
      stats.groupInstances += members.length;
    }
    if (!page.NextToken) break;
    if (control.shouldStop?.()) {
      nextToken = page.NextToken;
      break;
    }
    await limiter.acquire();
  }
  return { byInstance, stats, ...(nextToken ? { nextToken } : {}) };
}

/**
 * The group as the index keeps it, the same facts AutoScalingAdapter.describeGroup reads on the
 * hot path, except the member list: `instanceIds` is empty, since the index copies the facts
 * into every member's item (a 5,000-instance group would make 5,000 items of 100 KB each), and
 * nothing on the hot path needs it since replacements are recorded from Auto Scaling's own
 * launch events.
 */
export function groupFactsOf(group: AutoScalingGroup, hooks: LifecycleHook[]): AsgFacts {
  const trafficSourceArns = (group.TrafficSources ?? [])
    .filter((s) => s.Type === 'elbv2' && s.Identifier)
    .map((s) => s.Identifier as string);
  return {
    groupName: group.AutoScalingGroupName ?? '',
    targetGroupArns: [...new Set([...(group.TargetGroupARNs ?? []), ...trafficSourceArns])],
    instanceIds: [],
    terminatingHooks: hooks
      .filter((h) => h.LifecycleTransition === TERMINATING_TRANSITION && h.LifecycleHookName)
      .map((h) => h.LifecycleHookName as string),
    desiredCapacity: group.DesiredCapacity ?? 0,
    capacityRebalance: group.CapacityRebalance ?? false,
    suspendedProcesses: (group.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
    tags: Object.fromEntries((group.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? ''])),
  };
}
