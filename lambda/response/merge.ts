// Which merged calls a batch of act plans makes: every plan stays per event and pure; this
// module only groups their actions by the call that can carry them, remembering which event
// (run) and which slot of its plan each item came from, so every answer goes back to the
// event it belongs to. Pure: no I/O.
import type { Deregistration } from '../core/model';
import type { ActPlan } from '../core/response-plan';
import { secondsLeft, shutdownParameters, type ShutdownCommand } from '../core/shutdown';

/** One event's act plan as a batch executes it. */
export interface PlanRun {
  instanceId: string;
  plan: Pick<ActPlan, 'deregistrations' | 'replacement' | 'ecsDrain'> & Partial<Pick<ActPlan, 'shutdown'>>;
  /** Epoch ms after which this event's calls are worthless. */
  deadline: number;
}

/** An item of a merged call: the run (index into the runs) and its slot in that run's plan. */
export interface Carried<T> {
  run: number;
  slot: number;
  item: T;
}

/** The calls a batch makes, in the order they are started. */
export interface MergedCalls {
  /** One DeregisterTargets per target group (the adapter chunks). */
  deregistrations: Array<{ targetGroupArn: string; items: Array<Carried<Deregistration>> }>;
  /** One DetachInstances per Auto Scaling group (the adapter chunks by 20). */
  detaches: Array<{ groupName: string; items: Array<Carried<string>> }>;
  /** TerminateInstanceInAutoScalingGroup takes one instance: one call per instance. */
  terminations: Array<Carried<string>>;
  /** One UpdateContainerInstancesState per cluster (the adapter chunks by 10). */
  drains: Array<{ cluster: string; items: Array<Carried<string>> }>;
}

/**
 * Groups the actions of every run by the call that carries them. Only plans that send a call
 * appear: a replacement path 'none' and a drain of an instance already DRAINING send nothing.
 */
export function mergeCalls(runs: readonly PlanRun[]): MergedCalls {
  const deregistrations = new Map<string, Array<Carried<Deregistration>>>();
  const detaches = new Map<string, Array<Carried<string>>>();
  const drains = new Map<string, Array<Carried<string>>>();
  const terminations: Array<Carried<string>> = [];
  runs.forEach(({ instanceId, plan }, run) => {
    plan.deregistrations.forEach((item, slot) => push(deregistrations, item.targetGroupArn, { run, slot, item }));
    const replacement = plan.replacement;
    if (replacement?.path === 'detach') push(detaches, replacement.groupName, { run, slot: 0, item: instanceId });
    if (replacement?.path === 'terminate-in-group') terminations.push({ run, slot: 0, item: instanceId });
    if (plan.ecsDrain?.send) {
      const ref = plan.ecsDrain.containerInstance;
      push(drains, ref.cluster, { run, slot: 0, item: ref.containerInstanceArn });
    }
  });
  return {
    deregistrations: [...deregistrations].map(([targetGroupArn, items]) => ({ targetGroupArn, items })),
    detaches: [...detaches].map(([groupName, items]) => ({ groupName, items })),
    terminations,
    drains: [...drains].map(([cluster, items]) => ({ cluster, items })),
  };
}

/** One SendCommand's worth of instances: the same command and the same seconds left. */
export interface MergedShutdown {
  command: ShutdownCommand;
  seconds: number;
  /** SendCommand's Parameters for them. */
  parameters: Record<string, string[]>;
  items: Array<Carried<string>>;
}

/**
 * The graceful-shutdown commands of a batch at `now` (epoch ms): SendCommand gives every
 * instance of a call the same parameters, and the seconds left are one of them, so instances are
 * grouped by command and by whole seconds left before their own deadline (the adapter then sends
 * at most 50 per call). A wave's warnings come stamped within a few seconds of each other, so
 * this is a handful of calls, not one per instance, and no instance is told it has more time
 * than it has. A run whose deadline is less than a second away is in `tooLate`: nothing can run
 * in time.
 */
export function mergeShutdowns(runs: readonly PlanRun[], now: number): { calls: MergedShutdown[]; tooLate: Array<Carried<string>> } {
  const calls = new Map<string, MergedShutdown>();
  const tooLate: Array<Carried<string>> = [];
  runs.forEach(({ instanceId, plan, deadline }, run) => {
    const shutdown = plan.shutdown;
    if (!shutdown?.send) return;
    const carried = { run, slot: 0, item: instanceId };
    const seconds = secondsLeft(deadline, now);
    if (seconds === null) {
      tooLate.push(carried);
      return;
    }
    const parameters = shutdownParameters(shutdown.command, seconds);
    const key = JSON.stringify(parameters);
    const call = calls.get(key);
    if (call) call.items.push(carried);
    else calls.set(key, { command: shutdown.command, seconds, parameters, items: [carried] });
  });
  return { calls: [...calls.values()], tooLate };
}

/** How many different events a merged call carries. */
export function eventsCarried(items: ReadonlyArray<Carried<unknown>>): number {
  return new Set(items.map((i) => i.run)).size;
}

/** The latest deadline among the runs a call carries: the call is worth making until then. */
export function latestDeadline(runs: readonly PlanRun[], items: ReadonlyArray<Carried<unknown>>): number {
  return Math.max(...items.map((i) => runs[i.run]?.deadline ?? 0));
}

function push<K, T>(map: Map<K, T[]>, key: K, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
