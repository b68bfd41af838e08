// State changes and shutdown command statuses never act: they extend the timeline of the response
// that touched the instance, or name a new instance the replacement of a response waiting for
// one in its Auto Scaling group (the replacement is never waited for on the hot path).
import { errorInfo } from '../aws/clients';
import type { InstanceStateChange, ResponseRecord, ShutdownCommandStatus, TimelineEntry } from '../core/model';
import type { AssignedReplacement, ItemResult } from '../core/ports';
import { FINAL_COMMAND_STATUSES } from '../events/shutdown-command-status';
import { stateMilestone } from '../core/plan';
import type { Log } from '../log';
import type { ResponderDeps } from './deps';
import { baseRecord, closeRecord } from './records';

/** A state change or command status of a batch, with its log. */
export interface TimelineSignal {
  signal: InstanceStateChange | ShutdownCommandStatus;
  log: Log;
}

/** States in which a new instance of a group shows itself: EC2 sends `pending` at launch, then `running`. */
const LAUNCH_STATES: ReadonlySet<string> = new Set(['pending', 'running']);

/**
 * The state changes and command statuses of one batch, answered in input order (a rejection is
 * that signal's error; it is retried). Each extends a timeline (extendTimeline). Then the
 * `pending`/`running` changes of instances no response acted on are matched against the
 * responses waiting for a replacement (recognizeReplacements): one GetItem of REPLACING per
 * batch, and only while a group waits, one DescribeAutoScalingInstances per 50 of them. A change
 * of a waiting group's instance that names no replacement extends its timeline once more (one
 * GetItem): it may be the replacement just named by its other state change, in this batch or a
 * concurrent one, whose pointer did not exist at the first try.
 */
export async function recordTimelineSignals(
  signals: readonly TimelineSignal[],
  deps: ResponderDeps,
  receivedAt: number,
): Promise<Array<ItemResult<ResponseRecord>>> {
  const results = await Promise.all(
    signals.map(({ signal, log }) =>
      extendTimeline(signal, deps, receivedAt, log).then(
        (value): ItemResult<ResponseRecord> => ({ ok: true, value }),
        (error: unknown): ItemResult<ResponseRecord> => ({ ok: false, error }),
      ),
    ),
  );
  const candidates = signals.flatMap((s, i) => {
    const result = results[i];
    const unmatched = result?.ok && result.value.skipKind === 'not-acted-on';
    return unmatched && s.signal.kind === 'instance-state-change' && LAUNCH_STATES.has(s.signal.state) ? [i] : [];
  });
  if (candidates.length === 0) return results;
  const assigned = await recognizeReplacements(
    candidates.map((i) => (signals[i] as TimelineSignal).signal as InstanceStateChange),
    deps,
  );
  await Promise.all(
    candidates.map(async (i, n) => {
      const { signal, log } = signals[i] as TimelineSignal;
      const found = assigned[n] as ItemResult<Recognized | null>;
      if (!found.ok) {
        log.error('replacement check failed: the state change is retried', { error: errorInfo(found.error) });
        results[i] = found;
        return;
      }
      if (!found.value) return;
      const { groupName, assigned: named } = found.value;
      // Pending and running of one replacement arrive seconds apart: often in one batch, and
      // only the first names it. The other finds the pointer that assignment wrote.
      const settled = named ? replacementNamed(signal as InstanceStateChange, groupName, named, deps, receivedAt, log) : extendTimeline(signal, deps, receivedAt, log);
      results[i] = await settled.then(
        (value): ItemResult<ResponseRecord> => ({ ok: true, value }),
        (error: unknown): ItemResult<ResponseRecord> => ({ ok: false, error }),
      );
    }),
  );
  return results;
}

/** A launch state change's instance in a group with a wait: the assignment, null when it named no replacement (the instance is known). */
interface Recognized {
  groupName: string;
  assigned: AssignedReplacement | null;
}

/**
 * For launch state changes of instances no response acted on: which of them are the replacement
 * a response waits for. Answers in input order: the group and the assignment (null when the
 * instance is known there), null when the instance is in no waiting group, or the error of the read or write that failed (the state
 * change is then retried: a replacement missed here is still found by the next index refresh).
 * Calls: one GetItem of REPLACING; while no group waits, nothing else. Otherwise
 * DescribeAutoScalingInstances for all of them (chunks of 50), then per instance in a waiting
 * group, in the order of their state changes, store.assignReplacement (a GetItem and a
 * TransactWriteItems).
 */
export async function recognizeReplacements(
  changes: readonly InstanceStateChange[],
  deps: ResponderDeps,
): Promise<Array<ItemResult<Recognized | null>>> {
  let waitingGroups: Set<string>;
  try {
    waitingGroups = await deps.store.groupsAwaitingReplacement();
  } catch (error) {
    return changes.map(() => ({ ok: false, error }));
  }
  if (waitingGroups.size === 0) return changes.map(() => ({ ok: true, value: null }));
  const memberships = await deps.autoScaling.describeMemberships(changes.map((c) => c.instanceId));
  const answers: Array<ItemResult<Recognized | null>> = changes.map(() => ({ ok: true, value: null }));
  // The earliest launch first, so that the first replaced instance gets the first replacement.
  const order = changes.map((_, n) => n).sort((a, b) => (changes[a] as InstanceStateChange).eventTime.localeCompare((changes[b] as InstanceStateChange).eventTime));
  for (const n of order) {
    const change = changes[n] as InstanceStateChange;
    const membership = memberships.get(change.instanceId);
    if (!membership) continue;
    if (!membership.ok) {
      answers[n] = { ok: false, error: membership.error };
      continue;
    }
    const groupName = membership.value?.groupName;
    if (!groupName || !waitingGroups.has(groupName)) continue;
    try {
      const assigned = await deps.store.assignReplacement(groupName, change.instanceId, change.eventTime);
      answers[n] = { ok: true, value: { groupName, assigned } };
    } catch (error) {
      answers[n] = { ok: false, error };
    }
  }
  return answers;
}

/** The record of the state change that named a replacement; a `running` one also adds replacement-running. */
async function replacementNamed(
  signal: InstanceStateChange,
  groupName: string,
  assigned: AssignedReplacement,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const timeline: TimelineEntry[] = [assigned.entry];
  if (signal.state === 'running') {
    const running = await deps.store.appendTimeline(signal.instanceId, (pointer) => {
      const milestone = stateMilestone(signal.state, pointer.role);
      return milestone ? { entry: { event: milestone, at: signal.eventTime } } : null;
    });
    if (running) timeline.push(running.entry);
  }
  log.info('replacement named', { record: assigned.eventId, groupName, msFromSignal: assigned.msFromSignal });
  return closeRecord(baseRecord(signal, receivedAt, null), now, null, {
    outcome: 'handled',
    reason: `named the replacement of event ${assigned.eventId} in group ${groupName}, ${(assigned.msFromSignal / 1000).toFixed(1)} s after its signal`,
    replacement: { instanceId: signal.instanceId, seenAt: assigned.entry.at, msFromSignal: assigned.msFromSignal },
    timeline,
  });
}

/**
 * A state change never acts. It extends the timeline of the response that touched the
 * instance and is otherwise dropped without a write: the rule sees every instance's changes.
 */
export async function extendTimeline(
  signal: InstanceStateChange | ShutdownCommandStatus,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  if (signal.kind === 'shutdown-command-status') return shutdownFinished(signal, deps, receivedAt, log);
  const now = deps.now ?? Date.now;
  let noticeMs: number | undefined;
  const appended = await deps.store.appendTimeline(signal.instanceId, (pointer) => {
    const milestone = stateMilestone(signal.state, pointer.role);
    if (!milestone) return null;
    const warned = pointer.role === 'interrupted' ? pointer.warningTime : null;
    const goingDown = signal.state === 'stopping' || signal.state === 'shutting-down';
    noticeMs = warned && goingDown ? Date.parse(signal.eventTime) - Date.parse(warned) : undefined;
    return { entry: { event: milestone, at: signal.eventTime }, ...(noticeMs !== undefined ? { noticeMs } : {}) };
  });
  const base = baseRecord(signal, receivedAt, null);
  if (!appended) {
    log.debug('state change of an instance we did not act on; not recorded', { state: signal.state });
    return closeRecord(base, now, null, {
      outcome: 'skipped',
      skipKind: 'not-acted-on',
      reason: `state ${signal.state}: not an instance we acted on; not recorded`,
    });
  }
  log.info('timeline extended', { record: appended.eventId, milestone: appended.entry.event });
  return closeRecord(base, now, null, {
    outcome: 'handled',
    reason: `added ${appended.entry.event} to the timeline of event ${appended.eventId}`,
    timeline: [appended.entry],
    ...(noticeMs !== undefined ? { noticeMs } : {}),
  });
}

const FINAL: ReadonlySet<string> = new Set(FINAL_COMMAND_STATUSES);

/**
 * The final status of the graceful-shutdown command on an instance a warning's response sent it
 * to: `shutdown-command-finished` on that record, with the status and the command id. A status
 * that is not final, a command of another document, or an instance we never acted on adds
 * nothing and is not recorded.
 */
async function shutdownFinished(
  signal: ShutdownCommandStatus,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const base = baseRecord(signal, receivedAt, null);
  const ours = deps.behaviour?.shutdown?.documentName === signal.documentName;
  const entry: TimelineEntry = { event: 'shutdown-command-finished', at: signal.eventTime, detail: `${signal.status} (command ${signal.commandId})` };
  const appended =
    ours && FINAL.has(signal.status)
      ? await deps.store.appendTimeline(signal.instanceId, (pointer) => (pointer.role === 'interrupted' ? { entry } : null))
      : null;
  if (!appended) {
    const why = !ours
      ? `document ${signal.documentName} is not this deployment's shutdown document`
      : !FINAL.has(signal.status)
        ? `status ${signal.status} is not final`
        : 'not an instance we acted on';
    log.debug('shutdown command status not recorded', { status: signal.status, commandId: signal.commandId, why });
    return closeRecord(base, now, null, { outcome: 'skipped', skipKind: 'not-acted-on', reason: `shutdown command ${signal.status}: ${why}; not recorded` });
  }
  const attributes = { record: appended.eventId, status: signal.status, commandId: signal.commandId };
  if (signal.status === 'Success') log.info('shutdown command finished', attributes);
  else log.warn('shutdown command finished without success', attributes);
  return closeRecord(base, now, null, {
    outcome: 'handled',
    reason: `added shutdown-command-finished (${signal.status}) to the timeline of event ${appended.eventId}`,
    timeline: [appended.entry],
  });
}
