// Auto Scaling: which group holds the instance, what the group routes traffic to, and the
// detach that makes the group launch a replacement before the instance disappears.
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import type { AsgFacts, AsgMembership } from '../core/model';
import type { AutoScalingPort, CallOptions, DetachResult } from '../core/ports';

/**
 * DetachInstances answers ValidationError (HTTP 400) when the instance can no longer be
 * detached; the two messages seen in the wild (AWS does not document them, so match loosely):
 *   "The instance i-0123 is not in InService or Standby."   (Terminating, Detaching, Pending ...)
 *   "The instance i-0123 is not part of Auto Scaling group my-asg."   (already detached/terminated)
 * Both mean the instance left the group's care between our describe and the detach.
 */
const NOT_DETACHABLE_MESSAGES = [/\bnot in InService\b/i, /\bnot part of (the )?Auto ?Scaling group\b/i];

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

  async describeGroup(groupName: string, opts: CallOptions = {}): Promise<AsgFacts | null> {
    const out = await this.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
      opts,
    );
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
      desiredCapacity: group.DesiredCapacity ?? 0,
      capacityRebalance: group.CapacityRebalance ?? false,
      tags: Object.fromEntries(
        (group.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']),
      ),
    };
  }

  async detachWithReplacement(groupName: string, instanceId: string, opts: CallOptions = {}): Promise<DetachResult> {
    try {
      await this.autoScaling.send(
        new DetachInstancesCommand({
          AutoScalingGroupName: groupName,
          InstanceIds: [instanceId],
          ShouldDecrementDesiredCapacity: false,
        }),
        opts,
      );
      return 'ok';
    } catch (err) {
      if (err instanceof Error && err.name === 'ValidationError' && NOT_DETACHABLE_MESSAGES.some((re) => re.test(err.message))) {
        return 'not-detachable';
      }
      throw err;
    }
  }
}
