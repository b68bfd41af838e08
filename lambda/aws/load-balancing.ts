// ELBv2: take registrations out of service. The load balancer stops routing new requests
// to it at once and lets in-flight ones drain for the group's deregistration delay.
import {
  DeregisterTargetsCommand,
  type DeregisterTargetsCommandInput,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { CallOptions, DeregisterResult, DeregisterTarget, ItemResult, LoadBalancingPort } from '../core/ports';
import { chunk } from './batching';

/**
 * The API reference: "If the specified target does not exist, the action returns
 * successfully", so a target that was already deregistered comes back 'ok' and cannot be told
 * apart. What does fail: TargetGroupNotFound (the group was deleted since the index saw it) and
 * InvalidTarget ("does not exist, is not in the same VPC as the target group, or has an
 * unsupported instance type": for us, an instance that no longer exists). Both mean there
 * is no registration left to remove. The SDK names the classes *Exception; an emulator may
 * surface the bare query-protocol code, so both spellings count.
 */
const INVALID_TARGET_ERRORS = new Set(['InvalidTargetException', 'InvalidTarget']);
const GONE_ERRORS = new Set(['TargetGroupNotFoundException', 'TargetGroupNotFound', ...INVALID_TARGET_ERRORS]);

/**
 * Targets per DeregisterTargets call. The API reference states no maximum for Targets; the
 * aws-load-balancer-controller (kubernetes-sigs) deregisters in chunks of 200, which AWS
 * accepts, so we do the same rather than find the service's limit in a wave.
 */
export const DEREGISTER_TARGETS_LIMIT = 200;

/** What `deregister` sends for one chunk; the dry run plans the same input. */
export function deregisterTargetsInput(targetGroupArn: string, targets: readonly DeregisterTarget[]): DeregisterTargetsCommandInput {
  return {
    TargetGroupArn: targetGroupArn,
    // A registration with a port override is only removed when the port is given too.
    Targets: targets.map((target) => ({
      Id: target.targetId,
      ...(target.port !== undefined ? { Port: target.port } : {}),
      ...(target.availabilityZone !== undefined ? { AvailabilityZone: target.availabilityZone } : {}),
    })),
  };
}

export class LoadBalancingAdapter implements LoadBalancingPort {
  constructor(private readonly elbv2: ElasticLoadBalancingV2Client) {}

  /**
   * One DeregisterTargets per chunk of 200 targets, all at once. TargetGroupNotFound is
   * 'not-registered' for every target. InvalidTarget names no target, and one instance that
   * no longer exists fails the whole call: a chunk of several is then retried one target at a
   * time, so only that target comes back 'not-registered'. Any other error is the answer for
   * every target of its call.
   *
   * A lost answer (issue 9, the kind of 9.5): when the SDK retried the call (`$metadata.attempts`
   * > 1 on the error: an earlier attempt timed out, was reset or answered 5xx) and the retry
   * finds the target gone, the earlier attempt most likely took effect: the target counts as
   * deregistered ('ok'), for a chunk's targets re-sent one by one too. AWS answers such a retry
   * with success anyway (see above); an emulator that drops deregistered targets answers
   * InvalidTarget, and the record must still say we took it out of service.
   */
  async deregister(
    targetGroupArn: string,
    targets: readonly DeregisterTarget[],
    opts: CallOptions = {},
  ): Promise<Array<ItemResult<DeregisterResult>>> {
    const answers: Array<ItemResult<DeregisterResult>> = new Array(targets.length);
    const send = async (indexes: number[], retriedBefore = false): Promise<void> => {
      const answer = (result: ItemResult<DeregisterResult>) => indexes.forEach((i) => (answers[i] = result));
      try {
        const input = deregisterTargetsInput(targetGroupArn, indexes.map((i) => targets[i] as DeregisterTarget));
        await this.elbv2.send(new DeregisterTargetsCommand(input), opts);
        answer({ ok: true, value: 'ok' });
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        const retried = retriedBefore || sdkAttempts(error) > 1;
        if (INVALID_TARGET_ERRORS.has(name) && indexes.length > 1) {
          await Promise.all(indexes.map((i) => send([i], retried)));
        } else if (GONE_ERRORS.has(name)) {
          answer({ ok: true, value: retried ? 'ok' : 'not-registered' });
        } else {
          answer({ ok: false, error });
        }
      }
    };
    await Promise.all(chunk(targets.map((_, i) => i), DEREGISTER_TARGETS_LIMIT).map((indexes) => send(indexes)));
    return answers;
  }
}

/** How many attempts the SDK made before this error (its `$metadata.attempts`); 1 when unknown. */
function sdkAttempts(error: unknown): number {
  return (error as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
}
