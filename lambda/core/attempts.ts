// Several invocations may answer the same event: Lambda retries a failed one, and a delivery
// takes over a claim whose holder died. Each is an attempt; the record is their merge, so a
// retry adds to what the earlier attempts did and never erases it. Pure: no SDK here.
//
//   attempt 1: detach ok (group web-asg, replacement i-new), deregister tg-b throttled -> failed
//   attempt 2: deregister tg-b ok, detach skipped (the instance is in no group any more)
//   merged   : detached true, group web-asg, replacement i-new, deregistered from tg-a and tg-b,
//              outcome handled, attempts [1 failed, 2 handled]
import type { ActionResult, AttemptSummary, ResponseRecord, TimelineEntry } from './model';
import { decideOutcome } from './plan';

/** One attempt as stored: the record that attempt closed, numbered, with its claim's token. */
export type AttemptRecord = Omit<ResponseRecord, 'attempts'> & { attempt: number; claimToken?: string };

/** How good a result is, when two attempts made the same call: the best one stands. */
const RESULT_RANK: Readonly<Record<ActionResult['result'], number>> = {
  ok: 4,
  'not-registered': 3,
  planned: 2,
  failed: 1,
  skipped: 0,
};

/** One call's identity across attempts: the same action on the same target. */
function actionKey(a: ActionResult): string {
  // A detach and a terminate-in-group both replace the instance: one slot, whichever ran.
  const action = a.action === 'terminate-in-group' ? 'detach' : a.action;
  return a.action === 'lookup' ? `lookup|${a.target}` : `${action}|${a.action === 'deregister' ? a.target : ''}|${a.targetId ?? ''}|${a.port ?? ''}`;
}

/**
 * The actions of the merged record: per call (actionKey), the best result any attempt got (a
 * success is never undone by a later attempt that found nothing left to do); among equals, the
 * latest. A failed lookup of an earlier attempt is dropped once a later attempt got past it.
 */
export function mergeActions(attempts: readonly AttemptRecord[]): ActionResult[] {
  const best = new Map<string, ActionResult>();
  for (const attempt of attempts) {
    for (const action of attempt.actions) {
      const key = actionKey(action);
      const held = best.get(key);
      if (!held || RESULT_RANK[action.result] >= RESULT_RANK[held.result]) best.set(key, action);
    }
  }
  const last = attempts[attempts.length - 1];
  const lastLookups = new Set((last?.actions ?? []).filter((a) => a.action === 'lookup').map(actionKey));
  return [...best.values()].filter((a) => a.action !== 'lookup' || lastLookups.has(actionKey(a)));
}

/** Milestones of every attempt, each once, the earliest time kept. */
function mergeTimeline(attempts: readonly AttemptRecord[]): TimelineEntry[] | undefined {
  const byEvent = new Map<string, TimelineEntry>();
  for (const entry of attempts.flatMap((a) => a.timeline ?? [])) {
    const held = byEvent.get(entry.event);
    if (!held || Date.parse(entry.at) < Date.parse(held.at)) byEvent.set(entry.event, entry);
  }
  return byEvent.size > 0 ? [...byEvent.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)) : undefined;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/** The summary of one attempt the merged record lists. */
export function attemptSummary(a: AttemptRecord): AttemptSummary {
  return {
    attempt: a.attempt,
    at: a.receivedAt,
    finishedAt: a.finishedAt,
    ...(a.claimToken ? { claimToken: a.claimToken } : {}),
    outcome: a.outcome,
    ...(a.reason ? { reason: a.reason } : {}),
    actions: a.actions,
  };
}

/**
 * The record of every attempt at one event, oldest first (at least one). With one attempt it is
 * that attempt's record (plus `attempts`). With more:
 * - actions: mergeActions; deregisteredFrom and targetGroups: the union;
 * - detached, autoScalingGroup, lifecycleState: from the attempt that detached (else the latest
 *   that named a group); replacement: the latest attempt that saw one; instanceType and
 *   availabilityZone: the latest attempt that read them; timeline: every milestone;
 * - outcome: decided over the merged actions when any attempt acted (handled, observed or failed), else
 *   the latest attempt's; reason, skipKind and duplicateOf follow the outcome;
 * - receivedAt from the first attempt, finishedAt and msLeftAtFinish from the latest.
 * Throws RangeError when given no attempt.
 */
export function mergeAttempts(attempts: readonly AttemptRecord[]): ResponseRecord {
  const first = attempts[0];
  const last = attempts[attempts.length - 1];
  if (!first || !last) throw new RangeError('mergeAttempts: no attempt to merge');
  const summaries = attempts.map(attemptSummary);
  const { attempt: _n, claimToken: _t, ...lastRecord } = last;
  if (attempts.length === 1) return { ...lastRecord, attempts: summaries };

  const acting = attempts.filter((a) => a.outcome === 'handled' || a.outcome === 'observed' || a.outcome === 'failed');
  const actions = mergeActions(acting.length > 0 ? acting : attempts);
  const detacher = [...attempts].reverse().find((a) => a.detached);
  const grouped = detacher ?? [...attempts].reverse().find((a) => a.autoScalingGroup);
  const replacement = [...attempts].reverse().find((a) => a.replacement)?.replacement;
  const pooled = [...attempts].reverse().find((a) => a.instanceType || a.availabilityZone);
  const timeline = mergeTimeline(attempts);
  const notes = unique(attempts.flatMap((a) => a.notes ?? []));
  const decided =
    acting.length > 0
      ? decideOutcome(actions)
      : { outcome: last.outcome, reason: last.reason, skipKind: last.skipKind };
  const merged: ResponseRecord = {
    ...lastRecord,
    receivedAt: first.receivedAt,
    autoScalingGroup: grouped?.autoScalingGroup ?? null,
    ...(grouped?.lifecycleState !== undefined ? { lifecycleState: grouped.lifecycleState } : {}),
    ...(pooled?.instanceType ? { instanceType: pooled.instanceType } : {}),
    ...(pooled?.availabilityZone ? { availabilityZone: pooled.availabilityZone } : {}),
    targetGroups: unique(attempts.flatMap((a) => a.targetGroups)),
    deregisteredFrom: unique(attempts.flatMap((a) => a.deregisteredFrom)),
    detached: detacher !== undefined,
    actions,
    ...(replacement ? { replacement } : {}),
    ...(timeline ? { timeline } : {}),
    notes: [...notes, `merged from ${attempts.length} attempts: ${summaries.map((s) => `${s.attempt} ${s.outcome}`).join(', ')}`],
    attempts: summaries,
    outcome: decided.outcome,
  };
  delete merged.reason;
  delete merged.skipKind;
  if (decided.reason) merged.reason = decided.reason;
  if (decided.skipKind) merged.skipKind = decided.skipKind;
  if (merged.outcome !== 'duplicate') delete merged.duplicateOf;
  return merged;
}
