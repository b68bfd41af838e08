// The response to one event: validate -> claim -> look up -> plan -> execute -> verify -> record.
// The Lambda handler, `spot-responder replay` and the dry run all call `respond`; they differ
// only in the adapters they pass in. Every decision is the plan's (core/response-plan.ts).
import { errorInfo } from './aws/clients';
import { DEFAULT_BEHAVIOUR } from './core/behaviour';
import type { InterruptionNotice, ResponseRecord } from './core/model';
import { responseWindow, timerMs, type ResponseWindow } from './core/plan';
import type { CallOptions, ClaimKeys, ClaimResult } from './core/ports';
import { planBeforeLookups, planResponse, type SkipPlan } from './core/response-plan';
import { parseEvent } from './events';
import type { Log } from './log';
import { LEASE_MS, type ResponderDeps } from './response/deps';
import { execute } from './response/execute';
import { startHeartbeat } from './response/heartbeat';
import { settleLookups, startLookups, type PendingLookups } from './response/lookups';
import { actedFields, baseRecord, closeRecord, rejectedRecord, signalEntry, skippedFields } from './response/records';
import { extendTimeline } from './response/timeline';
import { reported } from './response/report';
import { findReplacement } from './response/verify';

/** Thrown after a failed response has been recorded, so AWS retries it and then dead-letters it. */
export class ResponseFailedError extends Error {
  override name = 'ResponseFailedError';
  constructor(readonly record: ResponseRecord) {
    super(`response to event ${record.eventId} failed: ${record.reason ?? 'unknown reason'}`);
  }
}

/**
 * Answers one raw EventBridge event and returns its record. A rejected event is recorded and
 * returned, never thrown (a throw makes AWS retry). Throws ResponseFailedError after recording
 * a failed response, so Lambda retries it; errors of the store itself propagate.
 */
export async function respond(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  return reported(deps, answer(raw, deps));
}

async function answer(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const receivedAt = now();
  const parsed = parseEvent(raw, deps.policy);
  if (!parsed.ok) {
    const record = rejectedRecord(parsed.rejection, receivedAt, now());
    deps.log.warn('event rejected', { eventId: record.eventId, reason: record.reason, kind: parsed.rejection.kind });
    await deps.store.recordUnclaimed(record);
    return record;
  }
  const signal = parsed.signal;
  const log = deps.log.child({ eventId: signal.eventId, instanceId: signal.instanceId, signal: signal.kind });
  switch (signal.kind) {
    case 'instance-state-change':
      return extendTimeline(signal, deps, receivedAt, log);
    case 'spot-interruption-warning':
    case 'rebalance-recommendation':
      return respondToInterruption(signal, deps, receivedAt, log);
  }
}

/** The two-minute warning, or the earlier rebalance recommendation. */
async function respondToInterruption(
  signal: InterruptionNotice,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const behaviour = deps.behaviour ?? DEFAULT_BEHAVIOUR;
  const window = responseWindow(signal, receivedAt);
  const base = baseRecord(signal, receivedAt, window.deadline);
  // Every call shares the time left before the deadline; none may run past it.
  const budget = (): CallOptions => ({ abortSignal: AbortSignal.timeout(timerMs(window.deadline, now())) });

  const early = planBeforeLookups(signal, behaviour, window);
  if (early && !early.underClaim) {
    const record = closeRecord(base, now, window.deadline, skippedFields(signal, early));
    log.warn('signal arrived too late to act on', { reason: record.reason, skipKind: record.skipKind });
    await deps.store.recordUnclaimed(record);
    return record;
  }

  const keys: ClaimKeys = {
    eventId: signal.eventId,
    signal: signal.kind,
    instanceId: signal.instanceId,
    eventTime: signal.eventTime,
    actsOnInstance: !early,
  };
  // Reads are harmless, so they run beside the claim; nothing mutating starts before it.
  const next: { skip: SkipPlan } | { lookups: PendingLookups } = early
    ? { skip: early }
    : { lookups: startLookups(signal.instanceId, deps, budget) };
  const claim = await deps.store.claim(keys, new Date(now() + LEASE_MS), budget());
  if (!claim.claimed) return duplicate(base, claim, signal, deps, window.deadline, log);

  // The lease is short; renewed while this invocation lives, it runs out soon after it dies.
  const heartbeat = startHeartbeat(deps.store, keys, claim.token, now, log);
  let record: ResponseRecord;
  try {
    const fields =
      'skip' in next ? skippedFields(signal, next.skip) : await lookUpPlanAct(signal, next.lookups, deps, budget, window);
    record = closeRecord(base, now, window.deadline, fields);
  } catch (err) {
    // A bug or an unexpected error: still release the claim as failed so a retry can run.
    const info = errorInfo(err);
    record = closeRecord(base, now, window.deadline, { outcome: 'failed', reason: `${info.name}: ${info.message}` });
  }
  try {
    // Merged with any earlier attempt at this event; retried until the deadline, then thrown.
    record = await deps.store.finish(keys, record, { token: claim.token, until: new Date(window.deadline) });
  } finally {
    heartbeat.stop();
  }
  log.info('response finished', {
    outcome: record.outcome,
    reason: record.reason,
    skipKind: record.skipKind,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
    attempts: record.attempts?.length,
  });
  if (record.outcome === 'failed') throw new ResponseFailedError(record);
  return record;
}

/** After the claim is won: look up, plan, execute, verify; the record's fields. */
async function lookUpPlanAct(
  signal: InterruptionNotice,
  pending: PendingLookups,
  deps: ResponderDeps,
  budget: () => CallOptions,
  window: ResponseWindow,
): Promise<Partial<ResponseRecord>> {
  const now = deps.now ?? Date.now;
  const facts = await settleLookups(pending, deps, budget);
  const plan = planResponse(signal, facts, deps.behaviour ?? DEFAULT_BEHAVIOUR, window);
  if (plan.kind === 'skip') return skippedFields(signal, plan);
  const executed = await execute(plan, signal.instanceId, deps, budget);
  const actedAt = now();
  const replacement = await findReplacement(signal, executed.replaced, plan.group, deps, budget);
  return actedFields(signal, plan, { ...executed, actedAt, replacement });
}

async function duplicate(
  base: ResponseRecord,
  claim: Extract<ClaimResult, { claimed: false }>,
  signal: InterruptionNotice,
  deps: ResponderDeps,
  deadline: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  log.info('duplicate', { duplicateOf: claim.heldBy, claimStatus: claim.status });
  await deps.store.noteDuplicate(claim.heldBy, signal.eventId, new Date(now()).toISOString());
  if (signal.kind === 'spot-interruption-warning' && claim.heldBy !== signal.eventId) {
    // The warning for an instance a rebalance recommendation already handled: its record learns
    // that the warning came, and when.
    await deps.store.appendTimeline(signal.instanceId, () => ({
      entry: signalEntry(signal),
      warningTime: signal.eventTime,
    }));
  }
  return closeRecord(base, now, deadline, {
    outcome: 'duplicate',
    duplicateOf: claim.heldBy,
    reason: `already ${claim.status === 'IN_PROGRESS' ? 'being handled' : 'handled'} as event ${claim.heldBy}`,
  });
}
