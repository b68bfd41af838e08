// The index refresher's walk: every ELBv2 target group in the account and region, every
// registration in it with its health state, keyed by the instance that stands behind it. Runs
// on a schedule, never on the responder's hot path.
import { paginateDescribeNetworkInterfaces, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  paginateDescribeTargetGroups,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IndexedTarget } from '../core/model';
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
  /** ip targets resolved to an instance. */
  ipTargets: number;
  /** ip targets on no instance (on-premises, Fargate, another account) or IPv6. */
  unresolvedIpTargets: number;
  /** Already draining: leaving without our help. */
  drainingTargets: number;
  instances: number;
  elbv2Calls: number;
  ec2Calls: number;
  rateLimitWaits: number;
}

export interface ScanResult {
  byInstance: Map<string, IndexedTarget[]>;
  stats: ScanStats;
}

interface PendingIpTarget {
  target: IndexedTarget;
  vpcId: string | undefined;
}

interface IpOwner {
  vpcId: string | undefined;
  instanceId: string;
}

export async function scanTargetRegistrations(deps: ScanDeps): Promise<ScanResult> {
  const limiter = createRateLimiter(deps.callsPerSecond, deps.now, deps.sleep);
  const stats: ScanStats = {
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

  const groups = await listTargetGroups(deps.elbv2, limiter, stats);
  stats.targetGroups = groups.length;
  const ipTargets: PendingIpTarget[] = [];

  for (const group of groups) {
    const arn = group.TargetGroupArn;
    const type = group.TargetType;
    if (!arn || (type !== 'instance' && type !== 'ip')) {
      stats.skippedTargetGroups++;
      continue;
    }
    let descriptions: TargetHealthDescription[];
    try {
      const out = await elbv2Describe(() =>
        deps.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
      );
      descriptions = out.TargetHealthDescriptions ?? [];
    } catch (err) {
      if (err instanceof Error && (err.name === 'TargetGroupNotFoundException' || err.name === 'TargetGroupNotFound')) {
        stats.vanishedTargetGroups++;
        deps.log?.debug('target group deleted during the scan', { targetGroupArn: arn });
        continue;
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
    const owners = await ownersOfIps(deps.ec2, [...new Set(ipTargets.map((t) => t.target.targetId))], stats);
    for (const pending of ipTargets) {
      const instanceId = resolveIpTarget(pending, owners);
      if (instanceId) {
        stats.ipTargets++;
        add(instanceId, pending.target);
      } else {
        stats.unresolvedIpTargets++;
      }
    }
  }

  stats.instances = byInstance.size;
  stats.rateLimitWaits = limiter.waits;
  return { byInstance, stats };
}

/**
 * Every target group, through the SDK's paginator (DescribeTargetGroups, Marker/NextMarker).
 * The paginator sends the request for a page only when the loop asks for it, so the limiter's
 * slot for the next page is taken at the end of the loop body, and only when there is one.
 */
async function listTargetGroups(
  elbv2: ElasticLoadBalancingV2Client,
  limiter: RateLimiter,
  stats: ScanStats,
): Promise<TargetGroup[]> {
  const groups: TargetGroup[] = [];
  await limiter.acquire();
  for await (const page of paginateDescribeTargetGroups({ client: elbv2 }, { PageSize: TARGET_GROUP_PAGE_SIZE })) {
    stats.elbv2Calls++;
    groups.push(...(page.TargetGroups ?? []));
    if (page.NextMarker) await limiter.acquire();
  }
  return groups;
}

/**
 * Which instance holds each private IPv4, via the network interfaces that carry them.
 * Interfaces with no instance attached (Fargate tasks, Lambda, endpoints) are skipped;
 * IPv6 targets are not resolved.
 */
async function ownersOfIps(ec2: EC2Client, ips: string[], stats: ScanStats): Promise<Map<string, IpOwner[]>> {
  const owners = new Map<string, IpOwner[]>();
  const ipv4 = ips.filter((ip) => !ip.includes(':'));
  for (let i = 0; i < ipv4.length; i += IP_FILTER_CHUNK) {
    const chunk = ipv4.slice(i, i + IP_FILTER_CHUNK);
    const wanted = new Set(chunk);
    const pages = paginateDescribeNetworkInterfaces(
      { client: ec2, pageSize: NETWORK_INTERFACE_PAGE_SIZE },
      { Filters: [{ Name: 'addresses.private-ip-address', Values: chunk }] },
    );
    for await (const page of pages) {
      stats.ec2Calls++;
      for (const eni of page.NetworkInterfaces ?? []) {
        const instanceId = eni.Attachment?.InstanceId;
        if (!instanceId) continue;
        const addresses = new Set(
          [eni.PrivateIpAddress, ...(eni.PrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress)].filter(
            (ip): ip is string => !!ip && wanted.has(ip),
          ),
        );
        for (const ip of addresses) {
          const list = owners.get(ip) ?? [];
          list.push({ vpcId: eni.VpcId, instanceId });
          owners.set(ip, list);
        }
      }
    }
  }
  return owners;
}

/**
 * Private IPs repeat across VPCs, so an ip target resolves within its target group's VPC.
 * A target outside that VPC (AvailabilityZone "all": peered VPC, on-premises) resolves only
 * when exactly one interface in the account carries the IP.
 */
function resolveIpTarget(pending: PendingIpTarget, owners: Map<string, IpOwner[]>): string | undefined {
  const candidates = owners.get(pending.target.targetId) ?? [];
  const inVpc = candidates.filter((c) => c.vpcId === pending.vpcId);
  if (inVpc.length === 1) return inVpc[0]?.instanceId;
  if (inVpc.length === 0 && pending.target.availabilityZone === 'all' && candidates.length === 1) {
    return candidates[0]?.instanceId;
  }
  return undefined;
}
