// The dry run's target index when there is none (the stack is not deployed yet, so no table and
// no refresher): ELBv2 read live, for the one instance the event names. It answers the same
// question as the index (where is this instance registered, by instance id or by one of its
// private IPs) at the price the index exists to avoid on the hot path: one DescribeTargetGroups
// page per 400 groups plus one DescribeTargetHealth per instance or ip group. That is fine for a
// dry run of one event, never for a response; the calls are rate-limited like the refresher's,
// counted, and every one is in the plan (the clients are the guarded, read-only ones).
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetHealthCommand,
  paginateDescribeTargetGroups,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { TARGET_GROUP_PAGE_SIZE, createRateLimiter } from '../aws/target-scan';
import type { IndexedTarget, TargetIndexLookup } from '../core/model';
import type { CallOptions, ItemResult, TargetIndexPort } from '../core/ports';

/** What the live lookups of one dry run cost, in calls. */
export interface LiveLookupStats {
  describeTargetGroupsCalls: number;
  describeTargetHealthCalls: number;
  /** DescribeInstances, for the instance's private IPs and VPC (ip target groups). */
  describeInstancesCalls: number;
  /** Target groups skipped because nothing of an instance can be behind them (lambda, alb). */
  skippedTargetGroups: number;
}

export interface LiveTargetLookupOptions {
  /** Guarded (read-only) clients. */
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  /** ELBv2 Describe* calls per second (the account's bucket refills at about 10 per second). */
  describeCallsPerSecond: number;
  now?: () => number;
}

const GONE = new Set(['TargetGroupNotFoundException', 'TargetGroupNotFound']);

/**
 * A TargetIndexPort that reads ELBv2 instead of the index. `refreshedAt` is when the read began:
 * the answer is as fresh as a refresh that just ran. Draining registrations are left out, as the
 * refresher leaves them out (they are leaving without our help). AWS errors are raised as they
 * are (the responder notes a failed lookup and degrades, as with the index).
 */
export class LiveTargetLookup implements TargetIndexPort {
  readonly stats: LiveLookupStats = {
    describeTargetGroupsCalls: 0,
    describeTargetHealthCalls: 0,
    describeInstancesCalls: 0,
    skippedTargetGroups: 0,
  };

  constructor(private readonly opts: LiveTargetLookupOptions) {}

  /** ELBv2 describe calls spent so far. */
  get elbv2Calls(): number {
    return this.stats.describeTargetGroupsCalls + this.stats.describeTargetHealthCalls;
  }

  /** Each instance read live, one after the other (the describes share one rate limit per instance read). */
  async lookupMany(instanceIds: readonly string[], callOpts: CallOptions = {}): Promise<Map<string, ItemResult<TargetIndexLookup>>> {
    const answers = new Map<string, ItemResult<TargetIndexLookup>>();
    for (const id of new Set(instanceIds)) {
      try {
        answers.set(id, { ok: true, value: await this.lookup(id, callOpts) });
      } catch (error) {
        answers.set(id, { ok: false, error });
      }
    }
    return answers;
  }

  async lookup(instanceId: string, callOpts: CallOptions = {}): Promise<TargetIndexLookup> {
    const now = this.opts.now ?? Date.now;
    const refreshedAt = new Date(now()).toISOString();
    const limiter = createRateLimiter(this.opts.describeCallsPerSecond, now);
    const { ips, vpcId } = await this.addressesOf(instanceId, callOpts);

    const groups = [];
    await limiter.acquire();
    for await (const page of paginateDescribeTargetGroups(
      { client: this.opts.elbv2 },
      { PageSize: TARGET_GROUP_PAGE_SIZE },
    )) {
      this.stats.describeTargetGroupsCalls++;
      groups.push(...(page.TargetGroups ?? []));
      if (page.NextMarker) await limiter.acquire();
    }

    const targets: IndexedTarget[] = [];
    for (const group of groups) {
      const arn = group.TargetGroupArn;
      const type = group.TargetType;
      if (!arn || (type !== 'instance' && type !== 'ip')) {
        this.stats.skippedTargetGroups++;
        continue;
      }
      await limiter.acquire();
      this.stats.describeTargetHealthCalls++;
      let descriptions;
      try {
        const out = await this.opts.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }), callOpts);
        descriptions = out.TargetHealthDescriptions ?? [];
      } catch (err) {
        if (err instanceof Error && GONE.has(err.name)) continue; // deleted since the listing
        throw err;
      }
      for (const d of descriptions) {
        const id = d.Target?.Id;
        if (!id || d.TargetHealth?.State === 'draining') continue;
        const mine =
          type === 'instance'
            ? id === instanceId
            : ips.has(id) && (group.VpcId === vpcId || d.Target?.AvailabilityZone === 'all');
        if (!mine) continue;
        targets.push({
          targetGroupArn: arn,
          targetId: id,
          targetType: type,
          ...(d.Target?.Port !== undefined ? { port: d.Target.Port } : {}),
          ...(d.Target?.AvailabilityZone ? { availabilityZone: d.Target.AvailabilityZone } : {}),
        });
      }
    }
    return { targets, refreshedAt };
  }

  /** The instance's private IPv4s and VPC; none when EC2 does not know it. */
  private async addressesOf(instanceId: string, callOpts: CallOptions): Promise<{ ips: Set<string>; vpcId?: string }> {
    this.stats.describeInstancesCalls++;
    try {
      const out = await this.opts.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), callOpts);
      const instance = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
      const ips = new Set<string>();
      if (instance?.PrivateIpAddress) ips.add(instance.PrivateIpAddress);
      for (const eni of instance?.NetworkInterfaces ?? []) {
        for (const a of eni.PrivateIpAddresses ?? []) if (a.PrivateIpAddress) ips.add(a.PrivateIpAddress);
      }
      return { ips, ...(instance?.VpcId ? { vpcId: instance.VpcId } : {}) };
    } catch (err) {
      if (err instanceof Error && err.name.startsWith('InvalidInstanceID')) return { ips: new Set() };
      throw err;
    }
  }
}

/** The note a dry-run record carries when the live lookup stood in for the index. */
export function liveLookupNote(stats: LiveLookupStats): string {
  const elbv2 = stats.describeTargetGroupsCalls + stats.describeTargetHealthCalls;
  return (
    'dry run: no target index (the stack is not deployed), so registrations outside the Auto Scaling group were ' +
    `found by reading ELBv2 for this instance: ${elbv2} describe calls (${stats.describeTargetGroupsCalls} ` +
    `DescribeTargetGroups, ${stats.describeTargetHealthCalls} DescribeTargetHealth) and ` +
    `${stats.describeInstancesCalls} DescribeInstances; the deployed responder reads its index instead (no ELBv2 describe call)`
  );
}
