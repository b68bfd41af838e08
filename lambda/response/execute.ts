// Runs the act plans of a batch as merged calls (response/merge.ts): one concurrent round, the
// calls started in the order that matters when AWS paces them (deregistrations first, then
// detach/terminate, then the ECS drain, then the graceful-shutdown SendCommand), each under the latest deadline of the events it
// carries. It sends what the plans say and gives each event the answer for its own items; it
// decides nothing. A failed merged call is a failed ActionResult for every event it carried,
// and only for those.
import { errorInfo } from '../aws/clients';
import { withoutUndefined } from '../core/objects';
import type { ActionKind, ActionResult, Deregistration } from '../core/model';
import type { CallOptions, ItemResult } from '../core/ports';
import type { ResponderDeps } from './deps';
import { eventsCarried, latestDeadline, mergeCalls, mergeShutdowns, type Carried, type PlanRun } from './merge';
import type { ShutdownSendResult } from '../core/ports';

/** How each call of a plan went; `replaced`, `drained` and `shutdown` are null when the plan had none. */
export interface Executed {
  deregistered: ActionResult[];
  replaced: ActionResult | null;
  drained: ActionResult | null;
  /** The graceful-shutdown command: sent (with its command id), skipped with the reason, planned or failed. */
  shutdown?: ActionResult | null;
}

/**
 * Executes every run's plan in one round of merged calls and answers each run, in order.
 * Never rejects: a failed call is a 'failed' ActionResult (reason 'deadline reached' when the
 * deadline's signal aborted it; naming the merged call when it carried other events too).
 */
export async function executeBatch(runs: readonly PlanRun[], deps: ResponderDeps): Promise<Executed[]> {
  const now = deps.now ?? Date.now;
  const merged = mergeCalls(runs);
  const results: Executed[] = runs.map(({ plan }) => ({
    deregistered: new Array<ActionResult>(plan.deregistrations.length),
    replaced:
      plan.replacement?.path === 'none'
        ? skipped('detach', plan.replacement.groupName ?? '-', plan.replacement.reason)
        : null,
    drained:
      plan.ecsDrain && !plan.ecsDrain.send && deps.ecs
        ? { action: 'ecs-drain', target: plan.ecsDrain.containerInstance.containerInstanceArn, result: 'ok', latencyMs: 0, reason: plan.ecsDrain.reason }
        : null,
    shutdown: plan.shutdown && !plan.shutdown.send ? skipped('shutdown', shutdownTarget(deps), plan.shutdown.reason) : null,
  }));

  /** Makes one merged call and hands each carried item its ActionResult. */
  const call = async <T, R>(
    api: string,
    items: Array<Carried<T>>,
    send: (opts: CallOptions) => Promise<Array<ItemResult<R>>>,
    answer: (carried: Carried<T>, outcome: ItemOutcome<R>) => void,
  ): Promise<void> => {
    const started = now();
    const opts: CallOptions = { abortSignal: AbortSignal.timeout(Math.max(1, latestDeadline(runs, items) - now())) };
    let answers: Array<ItemResult<R>>;
    try {
      answers = await send(opts);
    } catch (error) {
      answers = items.map(() => ({ ok: false, error }));
    }
    const latencyMs = now() - started;
    const shared = eventsCarried(items);
    items.forEach((carried, i) => {
      const result = answers[i] ?? { ok: false, error: new Error(`${api} gave no answer`) };
      if (result.ok) return answer(carried, { ok: true, value: result.value, latencyMs });
      const reason = opts.abortSignal?.aborted
        ? 'deadline reached'
        : shared > 1
          ? `the merged ${api} call carrying ${shared} events failed`
          : undefined;
      answer(carried, { ok: false, error: errorInfo(result.error), latencyMs, ...(reason ? { reason } : {}) });
    });
  };

  const calls: Array<Promise<void>> = [];
  // Started in this order on purpose: with client-side pacing, what starts first goes first.
  for (const { targetGroupArn, items } of merged.deregistrations) {
    calls.push(
      call('DeregisterTargets', items, (opts) => deps.loadBalancing.deregister(targetGroupArn, items.map((c) => c.item), opts), (c, outcome) => {
        (results[c.run] as Executed).deregistered[c.slot] = deregistered(targetGroupArn, c.item, outcome);
      }),
    );
  }
  for (const { groupName, items } of merged.detaches) {
    calls.push(
      call(
        'DetachInstances',
        items,
        async (opts) => {
          const answers = await deps.autoScaling.detachWithReplacement(groupName, items.map((c) => c.item), opts);
          return items.map((c) => answers.get(c.item) ?? { ok: false, error: new Error('DetachInstances gave no answer') });
        },
        (c, outcome) => {
          (results[c.run] as Executed).replaced = replaced('detach', groupName, outcome);
        },
      ),
    );
  }
  for (const carried of merged.terminations) {
    const replacement = runs[carried.run]?.plan.replacement;
    if (replacement?.path !== 'terminate-in-group') continue;
    calls.push(
      call(
        'TerminateInstanceInAutoScalingGroup',
        [carried],
        async (opts) => [{ ok: true, value: await deps.autoScaling.terminateWithReplacement(carried.item, opts) }],
        (c, outcome) => {
          (results[c.run] as Executed).replaced = replaced('terminate-in-group', replacement.groupName, outcome, replacement.reason);
        },
      ),
    );
  }
  const ecs = deps.ecs;
  if (ecs) {
    for (const { cluster, items } of merged.drains) {
      calls.push(
        call('UpdateContainerInstancesState', items, (opts) => ecs.drain(cluster, items.map((c) => c.item), opts), (c, outcome) => {
          (results[c.run] as Executed).drained = drainedResult(c.item, outcome);
        }),
      );
    }
  }
  // Last, so that with pacing nothing waits behind it; in the same round, so it never waits for
  // traffic to stop and never delays it.
  const shutdownPort = deps.shutdown;
  const documentName = deps.behaviour?.shutdown?.documentName;
  const shutdowns = mergeShutdowns(runs, now());
  for (const carried of shutdowns.tooLate) {
    (results[carried.run] as Executed).shutdown = skipped('shutdown', shutdownTarget(deps), 'deadline reached: less than a second left, nothing could run in time');
  }
  for (const { items, parameters, seconds } of shutdowns.calls) {
    if (!shutdownPort || !documentName) {
      for (const c of items) (results[c.run] as Executed).shutdown = skipped('shutdown', shutdownTarget(deps), 'graceful shutdown is not configured');
      continue;
    }
    calls.push(
      call(
        'SendCommand',
        items,
        async (opts) => {
          const answers = await shutdownPort.sendShutdown(documentName, items.map((c) => c.item), parameters, opts);
          return items.map((c) => answers.get(c.item) ?? { ok: false, error: new Error('SendCommand gave no answer') });
        },
        (c, outcome) => {
          const result = shutdownResult(documentName, c.item, seconds, outcome);
          if (result.result === 'failed') deps.log.error('graceful-shutdown command not sent', { instanceId: c.item, error: result.error, reason: result.reason });
          (results[c.run] as Executed).shutdown = result;
        },
      ),
    );
  }
  await Promise.all(calls);
  return results;
}

function shutdownTarget(deps: ResponderDeps): string {
  return deps.behaviour?.shutdown?.documentName ?? '-';
}

function shutdownResult(documentName: string, instanceId: string, seconds: number, outcome: ItemOutcome<ShutdownSendResult>): ActionResult {
  const base = { action: 'shutdown' as const, target: documentName, targetId: instanceId };
  if (!outcome.ok) return failed(base, outcome);
  const value = outcome.value;
  if (value.status === 'not-managed') return { ...base, result: 'skipped', latencyMs: outcome.latencyMs, reason: value.reason };
  if (value.status === 'planned') return { ...base, result: 'planned', latencyMs: outcome.latencyMs, reason: `${seconds} s left` };
  return { ...base, result: 'ok', latencyMs: outcome.latencyMs, commandId: value.commandId, reason: `${seconds} s left` };
}

/** Every action of an execution, in the order the record lists them. */
export function actionsOf(executed: Executed): ActionResult[] {
  return [
    ...executed.deregistered,
    ...(executed.replaced ? [executed.replaced] : []),
    ...(executed.drained ? [executed.drained] : []),
    ...(executed.shutdown ? [executed.shutdown] : []),
  ];
}

type ItemOutcome<R> =
  | { ok: true; value: R; latencyMs: number }
  | { ok: false; error: NonNullable<ActionResult['error']>; latencyMs: number; reason?: string };

function deregistered(targetGroupArn: string, d: Deregistration, outcome: ItemOutcome<string>): ActionResult {
  const base = withoutUndefined({ action: 'deregister' as const, target: targetGroupArn, targetId: d.targetId, port: d.port });
  if (!outcome.ok) return failed(base, outcome);
  if (outcome.value === 'not-registered') {
    return { ...base, result: 'not-registered', latencyMs: outcome.latencyMs, reason: 'not registered (group or target gone)' };
  }
  return { ...base, result: outcome.value === 'planned' ? 'planned' : 'ok', latencyMs: outcome.latencyMs };
}

function replaced(action: ActionKind, groupName: string, outcome: ItemOutcome<string>, reason?: string): ActionResult {
  const base = { action, target: groupName };
  if (!outcome.ok) return failed(base, outcome);
  if (outcome.value === 'not-detachable') {
    return {
      ...base,
      result: 'skipped',
      latencyMs: outcome.latencyMs,
      reason: 'Auto Scaling refused: the instance left InService/Standby in the meantime',
    };
  }
  if (outcome.value === 'not-in-group') {
    return {
      ...base,
      result: 'skipped',
      latencyMs: outcome.latencyMs,
      reason: 'Auto Scaling refused: the instance is no longer part of the group (detached or terminated in the meantime)',
    };
  }
  if (outcome.value === 'ok-on-retry') {
    return {
      ...base,
      result: 'ok',
      latencyMs: outcome.latencyMs,
      reason: "the SDK's retry found the instance gone from the group: the first call took effect, its response was lost",
    };
  }
  return { ...base, result: outcome.value === 'planned' ? 'planned' : 'ok', latencyMs: outcome.latencyMs, ...(reason ? { reason } : {}) };
}

function drainedResult(containerInstanceArn: string, outcome: ItemOutcome<string>): ActionResult {
  const base = { action: 'ecs-drain' as const, target: containerInstanceArn };
  if (!outcome.ok) return failed(base, outcome);
  if (outcome.value === 'not-found') return { ...base, result: 'not-registered', latencyMs: outcome.latencyMs, reason: 'container instance gone' };
  return { ...base, result: outcome.value === 'planned' ? 'planned' : 'ok', latencyMs: outcome.latencyMs };
}

function failed(base: Pick<ActionResult, 'action' | 'target'> & Partial<ActionResult>, outcome: Extract<ItemOutcome<unknown>, { ok: false }>): ActionResult {
  return { ...base, result: 'failed', latencyMs: outcome.latencyMs, error: outcome.error, ...(outcome.reason ? { reason: outcome.reason } : {}) };
}

function skipped(action: ActionKind, target: string, reason: string): ActionResult {
  return { action, target, result: 'skipped', latencyMs: 0, reason };
}
