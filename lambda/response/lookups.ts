// The reads a response depends on: started beside the claim (they are harmless), settled once
// the claim is won, then the group. Facts only: what the reads returned, or that they failed.
import { errorInfo } from '../aws/clients';
import type { ActionResult } from '../core/model';
import type { CallOptions } from '../core/ports';
import { groupToRead, type Lookup, type ResponseFacts, type SettledLookups } from '../core/response-plan';
import type { ResponderDeps } from './deps';

/** The reads in flight: DescribeInstances, DescribeAutoScalingInstances, the index, ECS. */
export interface PendingLookups {
  instance: ReturnType<ResponderDeps['ec2']['describeInstance']>;
  membership: ReturnType<ResponderDeps['autoScaling']['describeMembership']>;
  index: ReturnType<ResponderDeps['targetIndex']['lookup']>;
  container: ReturnType<NonNullable<ResponderDeps['ecs']>['findContainerInstance']>;
}

/**
 * Starts the reads at once, each under the deadline budget; none is awaited here and none
 * rejects unhandled while the claim runs. Without ECS the container instance is null.
 */
export function startLookups(instanceId: string, deps: ResponderDeps, budget: () => CallOptions): PendingLookups {
  return {
    instance: quiet(deps.ec2.describeInstance(instanceId, budget())),
    membership: quiet(deps.autoScaling.describeMembership(instanceId, budget())),
    index: quiet(deps.targetIndex.lookup(instanceId, budget())),
    container: quiet(deps.ecs ? deps.ecs.findContainerInstance(instanceId, budget()) : Promise.resolve(null)),
  };
}

/**
 * Settles the started reads, then reads the group (DescribeAutoScalingGroups) when the plan
 * needs it (groupToRead). Never rejects: a failed read becomes a failed 'lookup' ActionResult
 * named after its API (latency 0 for the reads beside the claim, measured for the group).
 */
export async function settleLookups(
  pending: PendingLookups,
  deps: ResponderDeps,
  budget: () => CallOptions,
): Promise<ResponseFacts> {
  const now = deps.now ?? Date.now;
  const [instance, membership, index, container] = await Promise.allSettled([
    pending.instance,
    pending.membership,
    pending.index,
    pending.container,
  ]);
  const settled: SettledLookups = {
    instance: lookup(instance, 'DescribeInstances'),
    membership: lookup(membership, 'DescribeAutoScalingInstances'),
    index: lookup(index, 'TargetIndex'),
    container: lookup(container, 'ListContainerInstances'),
  };
  const groupName = groupToRead(settled);
  if (!groupName) return { ...settled, group: { ok: true, value: null } };
  const started = now();
  try {
    return { ...settled, group: { ok: true, value: await deps.autoScaling.describeGroup(groupName, budget()) } };
  } catch (err) {
    return { ...settled, group: { ok: false, failure: failedLookup('DescribeAutoScalingGroups', err, now() - started) } };
  }
}

function lookup<T>(result: PromiseSettledResult<T>, api: string): Lookup<T> {
  return result.status === 'fulfilled'
    ? { ok: true, value: result.value }
    : { ok: false, failure: failedLookup(api, result.reason) };
}

function failedLookup(target: string, err: unknown, latencyMs = 0): ActionResult {
  return { action: 'lookup', target, result: 'failed', latencyMs, error: errorInfo(err) };
}

/** Keep a promise from being reported as unhandled while we wait on something else first. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
