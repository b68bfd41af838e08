// Auto Scaling: which group holds the instance, what the group routes traffic to, and the
// detach that makes the group launch a replacement before the instance disappears.
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClient,
  type DetachInstancesCommandInput,
  type TerminateInstanceInAutoScalingGroupCommandInput,
} from '@aws-sdk/client-auto-scaling';
import type { AsgFacts, AsgMembership } from '../core/model';
import type { AutoScalingPort, CallOptions, DetachResult, ItemResult } from '../core/ports';
import { chunk, settleByKey } from './batching';

/**
 * DetachInstances answers ValidationError (HTTP 400) when the instance can no longer be
 * detached; the messages seen in the wild (AWS does not document them, so match loosely) mean
 * different things:
 *   "The instance i-0123 is not in InService or Standby."   (Terminating, Detaching, Pending ...)
 *   "The instance i-0123 is not part of Auto Scaling group my-asg."   (already detached/terminated)
 * TerminateInstanceInAutoScalingGroup's word for an instance no group manages any more is
 * "No managed instance found".
 */
const NOT_IN_SERVICE_MESSAGES = [/\bnot in InService\b/i];
const NOT_IN_GROUP_MESSAGES = [/\bnot part of (the )?Auto ?Scaling group\b/i, /\bNo managed instance found\b/i];

const TERMINATING_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';

/** DescribeAutoScalingInstances: "InstanceIds ... Array Members: Maximum number of 50 items" (and MaxRecords 50). */
export const DESCRIBE_ASG_INSTANCES_LIMIT = 50;
/** DescribeAutoScalingGroups pages hold at most 100 groups (MaxRecords); ask for no more names a call. */
export const DESCRIBE_GROUPS_LIMIT = 100;
/** DetachInstances: "InstanceIds ... Array Members: Maximum number of 20 items" (API reference). */
export const DETACH_INSTANCES_LIMIT = 20;

/** What `detachWithReplacement` sends for one chunk; the dry run plans the same input. */
export function detachInstancesInput(groupName: string, instanceIds: readonly string[]): DetachInstancesCommandInput {
  return { AutoScalingGroupName: groupName, InstanceIds: [...instanceIds], ShouldDecrementDesiredCapacity: false };
}

/** What `terminateWithReplacement` sends; the dry run plans the same input. */
export function terminateInstanceInput(instanceId: string): TerminateInstanceInAutoScalingGroupCommandInput {
  return { InstanceId: instanceId, ShouldDecrementDesiredCapacity: false };
}

export class AutoScalingAdapter implements AutoScalingPort {
  constructor(private readonly autoScaling: AutoScalingClient) {}

  /** DescribeAutoScalingInstances in chunks of 50, all at once (paged by NextToken). */
  async describeMemberships(instanceIds: readonly string[], opts: CallOptions = {}): Promise<Map<string, ItemResult<AsgMembership | null>>> {
    return settleByKey<AsgMembership | null>(instanceIds, DESCRIBE_ASG_INSTANCES_LIMIT, async (ids) => {
      const found = new Map<string, AsgMembership | null>();
      // By hand rather than a paginator: paginators do not pass the per-call abort signal on.
      let nextToken: string | undefined;
      do {
        const out = await this.autoScaling.send(
          new DescribeAutoScalingInstancesCommand({ InstanceIds: ids, ...(nextToken ? { NextToken: nextToken } : {}) }),
          opts,
        );
        for (const member of out.AutoScalingInstances ?? []) {
          if (member.InstanceId && member.AutoScalingGroupName) {
            found.set(member.InstanceId, { groupName: member.AutoScalingGroupName, lifecycleState: member.LifecycleState ?? 'unknown' });
          }
        }
        nextToken = out.NextToken;
      } while (nextToken);
      return found;
    }, null);
  }

  /**
   * DescribeAutoScalingGroups for up to 100 names a call, beside one DescribeLifecycleHooks per
   * group (that API takes one group): one round trip. A group whose hooks could not be read
   * fails alone; value null when the group is gone.
   */
  async describeGroups(groupNames: readonly string[], opts: CallOptions = {}): Promise<Map<string, ItemResult<AsgFacts | null>>> {
    const names = [...new Set(groupNames)];
    const [groups, hooks] = await Promise.all([
      settleByKey(names, DESCRIBE_GROUPS_LIMIT, (run) => this.readGroups(run, opts), null),
      settleByKey(names, 1, async ([name]) => new Map([[name as string, await this.terminatingHooks(name as string, opts)]]), [] as string[]),
    ]);
    return new Map(
      names.map((name): [string, ItemResult<AsgFacts | null>] => {
        const group = groups.get(name) as ItemResult<Omit<AsgFacts, 'terminatingHooks'> | null>;
        const hooked = hooks.get(name) as ItemResult<string[]>;
        if (!group.ok) return [name, group];
        if (!group.value) return [name, { ok: true, value: null }];
        if (!hooked.ok) return [name, hooked];
        return [name, { ok: true, value: { ...group.value, terminatingHooks: hooked.value } }];
      }),
    );
  }

  private async readGroups(names: string[], opts: CallOptions): Promise<Map<string, Omit<AsgFacts, 'terminatingHooks'>>> {
    const found = new Map<string, Omit<AsgFacts, 'terminatingHooks'>>();
    let nextToken: string | undefined;
    do {
      const out = await this.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: names, ...(nextToken ? { NextToken: nextToken } : {}) }),
        opts,
      );
      for (const group of out.AutoScalingGroups ?? []) {
        if (!group.AutoScalingGroupName) continue;
        // Target groups attached with AttachTrafficSources are listed under TrafficSources
        // (type elbv2) and may be missing from the legacy TargetGroupARNs.
        const trafficSourceArns = (group.TrafficSources ?? [])
          .filter((s) => s.Type === 'elbv2' && s.Identifier)
          .map((s) => s.Identifier as string);
        found.set(group.AutoScalingGroupName, {
          groupName: group.AutoScalingGroupName,
          targetGroupArns: [...new Set([...(group.TargetGroupARNs ?? []), ...trafficSourceArns])],
          instanceIds: (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])),
          desiredCapacity: group.DesiredCapacity ?? 0,
          capacityRebalance: group.CapacityRebalance ?? false,
          suspendedProcesses: (group.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
          tags: Object.fromEntries(
            (group.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']),
          ),
        });
      }
      nextToken = out.NextToken;
    } while (nextToken);
    return found;
  }

  private async terminatingHooks(groupName: string, opts: CallOptions): Promise<string[]> {
    const hooks = await this.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: groupName }), opts);
    return (hooks.LifecycleHooks ?? [])
      .filter((h) => h.LifecycleTransition === TERMINATING_TRANSITION && h.LifecycleHookName)
      .map((h) => h.LifecycleHookName as string);
  }

  async groupInstanceIds(groupName: string, opts: CallOptions = {}): Promise<string[] | null> {
    const out = await this.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      opts,
    );
    const group = (out.AutoScalingGroups ?? []).find((g) => g.AutoScalingGroupName === groupName);
    return group ? (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])) : null;
  }

  /**
   * DetachInstances in chunks of 20, all at once. AWS answers per call, not per instance: when a
   * call carrying several instances is refused because one of them is no longer detachable
   * (NOT_DETACHABLE_MESSAGES), each instance of that call is retried alone, so one instance that
   * left InService does not fail the others; alone, the refusal is that instance's
   * 'not-detachable'. Any other error is the answer for every instance of its call.
   */
  async detachWithReplacement(
    groupName: string,
    instanceIds: readonly string[],
    opts: CallOptions = {},
  ): Promise<Map<string, ItemResult<DetachResult>>> {
    const answers = new Map<string, ItemResult<DetachResult>>();
    const detach = async (ids: string[]): Promise<void> => {
      try {
        const result = await notDetachableOnRefusal(() =>
          this.autoScaling.send(new DetachInstancesCommand(detachInstancesInput(groupName, ids)), opts),
        );
        // Any refusal of a call carrying several instances names one of them: ask again alone.
        if (result !== 'ok' && ids.length > 1) {
          await Promise.all(ids.map((id) => detach([id])));
          return;
        }
        for (const id of ids) answers.set(id, { ok: true, value: result });
      } catch (error) {
        for (const id of ids) answers.set(id, { ok: false, error });
      }
    };
    await Promise.all(chunk([...new Set(instanceIds)], DETACH_INSTANCES_LIMIT).map(detach));
    return answers;
  }

  async terminateWithReplacement(instanceId: string, opts: CallOptions = {}): Promise<DetachResult> {
    return notDetachableOnRefusal(() =>
      this.autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand(terminateInstanceInput(instanceId)), opts),
    );
  }
}

/**
 * The refusals as results. "Not part of the group" after the SDK retried our own call
 * (`$metadata.attempts` > 1 on the error: an earlier attempt timed out, was reset or answered
 * 5xx) means that earlier attempt most likely took effect and only its response was lost: the
 * instance left the group because we detached it. We read the SDK's own attempt count rather
 * than describing the membership again: a describe cannot tell our detach from anyone else's,
 * and it would spend a call and a round trip inside the deadline.
 */
async function notDetachableOnRefusal(call: () => Promise<unknown>): Promise<DetachResult> {
  try {
    await call();
    return 'ok';
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'ValidationError') throw err;
    if (NOT_IN_SERVICE_MESSAGES.some((re) => re.test(err.message))) return 'not-detachable';
    if (NOT_IN_GROUP_MESSAGES.some((re) => re.test(err.message))) {
      const attempts = (err as Error & { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
      return attempts > 1 ? 'ok-on-retry' : 'not-in-group';
    }
    throw err;
  }
}
