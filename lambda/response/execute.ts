// Runs an act plan: every call at once, each under the time left before the deadline. It sends
// what the plan says and reports how each call went; it decides nothing.
import { errorInfo } from '../aws/clients';
import { withoutUndefined } from '../core/objects';
import type { ActionKind, ActionResult, Deregistration } from '../core/model';
import type { CallOptions } from '../core/ports';
import type { ActPlan, PlannedDrain, PlannedReplacement } from '../core/response-plan';
import type { ResponderDeps } from './deps';

/** How each call of the plan went; `replaced` and `drained` are null when the plan had none. */
export interface Executed {
  deregistered: ActionResult[];
  replaced: ActionResult | null;
  drained: ActionResult | null;
}

/**
 * DeregisterTargets per deregistration, DetachInstances or TerminateInstanceInAutoScalingGroup,
 * and UpdateContainerInstancesState, concurrently: stopping traffic, starting the replacement
 * and draining ECS tasks need nothing from each other. Never rejects: a failed call is a
 * 'failed' ActionResult, with reason 'deadline reached' when the budget's signal aborted it.
 */
export async function execute(
  plan: ActPlan,
  instanceId: string,
  deps: ResponderDeps,
  budget: () => CallOptions,
): Promise<Executed> {
  const now = deps.now ?? Date.now;
  const run = (action: ActionKind, target: string, body: ActionBody, extra: Partial<ActionResult> = {}) =>
    timed(action, target, now, budget, body, extra);

  const deregister = (d: Deregistration): Promise<ActionResult> =>
    run('deregister', d.targetGroupArn, async (opts) => {
      const result = await deps.loadBalancing.deregister(d, opts);
      return { result, ...(result === 'not-registered' ? { reason: 'not registered (group or target gone)' } : {}) };
    }, { targetId: d.targetId, port: d.port });

  const replace = (replacement: PlannedReplacement): Promise<ActionResult> => {
    if (replacement.path === 'none') {
      return Promise.resolve(skipped('detach', replacement.groupName ?? '-', replacement.reason));
    }
    return run(replacement.path, replacement.groupName, async (opts) => {
      const result =
        replacement.path === 'detach'
          ? await deps.autoScaling.detachWithReplacement(replacement.groupName, instanceId, opts)
          : await deps.autoScaling.terminateWithReplacement(instanceId, opts);
      if (result === 'not-detachable') {
        return { result: 'skipped', reason: 'Auto Scaling refused: the instance left InService/Standby in the meantime' };
      }
      if (result === 'not-in-group') {
        return { result: 'skipped', reason: 'Auto Scaling refused: the instance is no longer part of the group (detached or terminated in the meantime)' };
      }
      if (result === 'ok-on-retry') {
        return { result: 'ok', reason: "the SDK's retry found the instance gone from the group: the first call took effect, its response was lost" };
      }
      return { result, ...(replacement.path === 'terminate-in-group' ? { reason: replacement.reason } : {}) };
    });
  };

  const drain = (planned: PlannedDrain, ecs: NonNullable<ResponderDeps['ecs']>): Promise<ActionResult> =>
    run('ecs-drain', planned.containerInstance.containerInstanceArn, async (opts) => {
      if (!planned.send) return { result: 'ok', reason: planned.reason };
      const result = await ecs.drain(planned.containerInstance, opts);
      return result === 'not-found' ? { result: 'not-registered', reason: 'container instance gone' } : { result };
    });

  const [deregistered, replaced, drained] = await Promise.all([
    Promise.all(plan.deregistrations.map(deregister)),
    plan.replacement ? replace(plan.replacement) : null,
    plan.ecsDrain && deps.ecs ? drain(plan.ecsDrain, deps.ecs) : null,
  ]);
  return { deregistered, replaced, drained };
}

/** Every action of an execution, in the order the record lists them. */
export function actionsOf(executed: Executed): ActionResult[] {
  return [
    ...executed.deregistered,
    ...(executed.replaced ? [executed.replaced] : []),
    ...(executed.drained ? [executed.drained] : []),
  ];
}

function skipped(action: ActionKind, target: string, reason: string): ActionResult {
  return { action, target, result: 'skipped', latencyMs: 0, reason };
}

type ActionBody = (opts: CallOptions) => Promise<{ result: ActionResult['result']; reason?: string }>;

async function timed(
  action: ActionKind,
  target: string,
  now: () => number,
  budget: () => CallOptions,
  body: ActionBody,
  extra: Partial<ActionResult>,
): Promise<ActionResult> {
  const started = now();
  const base = { action, target, ...withoutUndefined(extra) };
  const opts = budget();
  try {
    const { result, reason } = await body(opts);
    return { ...base, result, latencyMs: now() - started, ...(reason ? { reason } : {}) };
  } catch (err) {
    const error = errorInfo(err);
    // Only our own signal firing is the deadline: the SDK names its socket and request
    // timeouts (clients.ts) TimeoutError too, and those fire long before the deadline.
    const reason = opts.abortSignal?.aborted ? 'deadline reached' : undefined;
    return { ...base, result: 'failed', latencyMs: now() - started, error, ...(reason ? { reason } : {}) };
  }
}
