// ELBv2: take one registration out of service. The load balancer stops routing new requests
// to it at once and lets in-flight ones drain for the group's deregistration delay.
import {
  DeregisterTargetsCommand,
  type DeregisterTargetsCommandInput,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Deregistration } from '../core/model';
import type { CallOptions, DeregisterResult, LoadBalancingPort } from '../core/ports';

/**
 * The API reference: "If the specified target does not exist, the action returns
 * successfully", so a target that was already deregistered comes back 'ok' and cannot be told
 * apart. What does fail: TargetGroupNotFound (the group was deleted since the index saw it) and
 * InvalidTarget ("does not exist, is not in the same VPC as the target group, or has an
 * unsupported instance type": for us, an instance that no longer exists). Both mean there
 * is no registration left to remove. The SDK names the classes *Exception; an emulator may
 * surface the bare query-protocol code, so both spellings count.
 */
const GONE_ERRORS = new Set([
  'TargetGroupNotFoundException',
  'TargetGroupNotFound',
  'InvalidTargetException',
  'InvalidTarget',
]);

/** What `deregister` sends; the dry run plans the same input. */
export function deregisterTargetsInput(target: Deregistration): DeregisterTargetsCommandInput {
  return {
    TargetGroupArn: target.targetGroupArn,
    // A registration with a port override is only removed when the port is given too.
    Targets: [
      {
        Id: target.targetId,
        ...(target.port !== undefined ? { Port: target.port } : {}),
        ...(target.availabilityZone !== undefined ? { AvailabilityZone: target.availabilityZone } : {}),
      },
    ],
  };
}

export class LoadBalancingAdapter implements LoadBalancingPort {
  constructor(private readonly elbv2: ElasticLoadBalancingV2Client) {}

  async deregister(target: Deregistration, opts: CallOptions = {}): Promise<DeregisterResult> {
    try {
      await this.elbv2.send(new DeregisterTargetsCommand(deregisterTargetsInput(target)), opts);
      return 'ok';
    } catch (err) {
      if (err instanceof Error && GONE_ERRORS.has(err.name)) return 'not-registered';
      throw err;
    }
  }
}
