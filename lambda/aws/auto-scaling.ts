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
import type { AutoScalingPort, CallOptions, DetachResult } from '../core/ports';

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

/** What `detachWithReplacement` sends; the dry run plans the same input. */
export function detachInstancesInput(groupName: string, instanceId: string): DetachInstancesCommandInput {
  return { AutoScalingGroupName: groupName, InstanceIds: [instanceId], ShouldDecrementDesiredCapacity: false };
}

/** What `terminateWithReplacement` sends; the dry run plans the same input. */
export function terminateInstanceInput(instanceId: string): TerminateInstanceInAutoScalingGroupCommandInput {
  return { InstanceId: instanceId, ShouldDecrementDesiredCapacity: false };
}

export class AutoScalingAdapter implements AutoScalingPort {
  constructor(private readonly autoScaling: AutoScalingClient) {}

  async describeMembership(instanceId: string, opts: CallOptions = {}): Promise<AsgMembership | null> {
    const out = await this.autoScaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
      opts,
    );
    const member = (out.AutoScalingInstances ?? []).find((i) => i.InstanceId === instanceId);
    if (!member?.AutoScalingGroupName) return null;
    return { groupName: member.AutoScalingGroupName, lifecycleState: member.LifecycleState ?? 'unknown' };
  }

  /** The group and its lifecycle hooks, read side by side: one round trip. */
  async describeGroup(groupName: string, opts: CallOptions = {}): Promise<AsgFacts | null> {
    const [out, hooks] = await Promise.all([
      this.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }), opts),
      this.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: groupName }), opts),
    ]);
    const group = (out.AutoScalingGroups ?? []).find((g) => g.AutoScalingGroupName === groupName);
    if (!group) return null;
    // Target groups attached with AttachTrafficSources are listed under TrafficSources
    // (type elbv2) and may be missing from the legacy TargetGroupARNs.
    const trafficSourceArns = (group.TrafficSources ?? [])
      .filter((s) => s.Type === 'elbv2' && s.Identifier)
      .map((s) => s.Identifier as string);
    return {
      groupName,
      targetGroupArns: [...new Set([...(group.TargetGroupARNs ?? []), ...trafficSourceArns])],
      instanceIds: (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])),
      terminatingHooks: (hooks.LifecycleHooks ?? [])
        .filter((h) => h.LifecycleTransition === TERMINATING_TRANSITION && h.LifecycleHookName)
        .map((h) => h.LifecycleHookName as string),
      desiredCapacity: group.DesiredCapacity ?? 0,
      capacityRebalance: group.CapacityRebalance ?? false,
      suspendedProcesses: (group.SuspendedProcesses ?? []).flatMap((p) => (p.ProcessName ? [p.ProcessName] : [])),
      tags: Object.fromEntries(
        (group.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']),
      ),
    };
  }

  async groupInstanceIds(groupName: string, opts: CallOptions = {}): Promise<string[] | null> {
    const out = await this.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      opts,
    );
    const group = (out.AutoScalingGroups ?? []).find((g) => g.AutoScalingGroupName === groupName);
    return group ? (group.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])) : null;
  }

  async detachWithReplacement(groupName: string, instanceId: string, opts: CallOptions = {}): Promise<DetachResult> {
    return notDetachableOnRefusal(() =>
      this.autoScaling.send(new DetachInstancesCommand(detachInstancesInput(groupName, instanceId)), opts),
    );
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
