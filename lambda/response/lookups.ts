// The reads a batch depends on, merged: one call per API for every instance of the batch
// (the adapters chunk at the APIs' limits), started beside the claims (reads are harmless),
// then each event's own view of them. Facts only: what the reads returned, or that they failed.
import { errorInfo } from '../aws/clients';
import type { ActionResult, AsgFacts, ContainerInstanceRef, InstanceFacts, AsgMembership, TargetIndexLookup } from '../core/model';
import type { CallOptions, ItemResult } from '../core/ports';
import type { Lookup, SettledLookups } from '../core/response-plan';
import type { ResponderDeps } from './deps';

type Answers<T> = Promise<Map<string, ItemResult<T>>>;

/** The merged reads in flight, keyed by instance id. */
export interface PendingLookups {
  /** DescribeInstances. */
  instances: Answers<InstanceFacts | null>;
  /** DescribeAutoScalingInstances. */
  memberships: Answers<AsgMembership | null>;
  /** The target index (BatchGetItem). */
  index: Answers<TargetIndexLookup>;
  /** ListContainerInstances / DescribeContainerInstances; answers null without ECS. */
  containers: Answers<ContainerInstanceRef | null>;
}

/**
 * Starts the four merged reads for every instance at once, under `opts` (the batch's latest
 * deadline); none is awaited here and none rejects unhandled while the claims run.
 */
export function startLookups(instanceIds: readonly string[], deps: ResponderDeps, opts: CallOptions): PendingLookups {
  const ids = [...new Set(instanceIds)];
  return {
    instances: quiet(deps.ec2.describeInstances(ids, opts)),
    memberships: quiet(deps.autoScaling.describeMemberships(ids, opts)),
    index: quiet(deps.targetIndex.lookupMany(ids, opts)),
    containers: quiet(
      deps.ecs ? deps.ecs.findContainerInstances(ids, opts) : Promise.resolve(new Map(ids.map((id) => [id, { ok: true as const, value: null }]))),
    ),
  };
}

/**
 * One instance's view of the merged reads. Never rejects: a failed read is a failed 'lookup'
 * ActionResult named after its API (latency 0: the reads ran beside the claim).
 */
export async function settledFor(pending: PendingLookups, instanceId: string): Promise<SettledLookups> {
  const [instance, membership, index, container] = await Promise.all([
    answerFor(pending.instances, instanceId, 'DescribeInstances'),
    answerFor(pending.memberships, instanceId, 'DescribeAutoScalingInstances'),
    answerFor(pending.index, instanceId, 'TargetIndex'),
    answerFor(pending.containers, instanceId, 'ListContainerInstances'),
  ]);
  return { instance, membership, index, container };
}

/**
 * DescribeAutoScalingGroups for every group at once (with their hooks), each answer a Lookup
 * whose failure carries the call's measured latency. Never rejects.
 */
export async function readGroups(
  groupNames: readonly string[],
  deps: ResponderDeps,
  opts: CallOptions,
): Promise<Map<string, Lookup<AsgFacts | null>>> {
  const now = deps.now ?? Date.now;
  const names = [...new Set(groupNames)];
  if (names.length === 0) return new Map();
  const started = now();
  let answers: Map<string, ItemResult<AsgFacts | null>>;
  try {
    answers = await deps.autoScaling.describeGroups(names, opts);
  } catch (err) {
    answers = new Map(names.map((name) => [name, { ok: false, error: err }]));
  }
  const latency = now() - started;
  return new Map(names.map((name) => [name, toLookup(answers.get(name), 'DescribeAutoScalingGroups', latency)]));
}

async function answerFor<T>(answers: Answers<T>, key: string, api: string): Promise<Lookup<T>> {
  try {
    return toLookup((await answers).get(key), api, 0);
  } catch (err) {
    return { ok: false, failure: failedLookup(api, err, 0) };
  }
}

function toLookup<T>(answer: ItemResult<T> | undefined, api: string, latencyMs: number): Lookup<T> {
  if (!answer) return { ok: false, failure: failedLookup(api, new Error(`${api} gave no answer`), latencyMs) };
  return answer.ok ? { ok: true, value: answer.value } : { ok: false, failure: failedLookup(api, answer.error, latencyMs) };
}

function failedLookup(target: string, err: unknown, latencyMs: number): ActionResult {
  return { action: 'lookup', target, result: 'failed', latencyMs, error: errorInfo(err) };
}

/** Keep a promise from being reported as unhandled while we wait on something else first. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
