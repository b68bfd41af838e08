// The response to one event: validate -> claim -> look up -> decide -> act -> record.
// The Lambda handler, `spot-responder replay` and the dry run all call `respond`; they differ
// only in the adapters they pass in.
import { errorInfo } from './aws/clients';
import type { RebalanceAction, TagPolicy } from './config';
import type { RebalanceRecommendation, ResponseRecord, SpotWarning } from './core/model';
import { decideOutcome, rebalanceSkipReason, responseWindow } from './core/plan';
import type {
  AutoScalingPort,
  CallOptions,
  ClaimKeys,
  Ec2Reader,
  EcsPort,
  EventStore,
  LoadBalancingPort,
  TargetIndexReader,
} from './core/ports';
import { parseEvent, type AcceptPolicy } from './events';
import { act, quiet, type Reads } from './response/act';
import { baseRecord, finalize, rejectedRecord } from './response/records';
import { extendTimeline } from './response/timeline';
import type { Log } from './log';

/**
 * How long a claim outlives the deadline. A crashed invocation's claim becomes claimable
 * again after it, so Lambda's retry can finish the job; a live one is never overtaken.
 */
export const LEASE_MARGIN_MS = 60_000;

export interface ResponderBehaviour {
  rebalanceAction: RebalanceAction;
  tagPolicy: TagPolicy;
}

export const DEFAULT_BEHAVIOUR: ResponderBehaviour = {
  rebalanceAction: 'record',
  tagPolicy: { mode: 'opt-out', key: 'spot-responder' },
};

export interface ResponderDeps {
  ec2: Ec2Reader;
  autoScaling: AutoScalingPort;
  loadBalancing: LoadBalancingPort;
  targetIndex: TargetIndexReader;
  store: EventStore;
  /** Absent when no ECS cluster is configured. */
  ecs?: EcsPort;
  policy: AcceptPolicy;
  behaviour?: ResponderBehaviour;
  log: Log;
  /** Milliseconds since the epoch; replay runs on the event's own clock. */
  now?: () => number;
  /** How to wait between looks for the replacement; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown after a failed response has been recorded, so AWS retries it and then dead-letters it. */
export class ResponseFailedError extends Error {
  override name = 'ResponseFailedError';
  constructor(readonly record: ResponseRecord) {
    super(`response to event ${record.eventId} failed: ${record.reason ?? 'unknown reason'}`);
  }
}

export async function respond(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
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

/** The two-minute warning, or (when configured to act) the earlier rebalance recommendation. */
async function respondToInterruption(
  signal: SpotWarning | RebalanceRecommendation,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const behaviour = deps.behaviour ?? DEFAULT_BEHAVIOUR;
  const window = responseWindow(signal, receivedAt);
  const base = baseRecord(signal, receivedAt, window.deadline);

  if (window.skipReason) {
    const record = finalize(base, now, window.deadline, { outcome: 'skipped', reason: window.skipReason });
    log.warn('signal arrived too late to act on', { reason: window.skipReason });
    await deps.store.recordUnclaimed(record);
    return record;
  }

  // Every call shares the time left before the deadline; none may run past it.
  const budget = (): CallOptions => ({ abortSignal: AbortSignal.timeout(Math.max(1, window.deadline - now())) });
  const recordOnly = signal.kind === 'rebalance-recommendation' && behaviour.rebalanceAction === 'record';
  const keys: ClaimKeys = {
    eventId: signal.eventId,
    signal: signal.kind,
    instanceId: signal.instanceId,
    eventTime: signal.eventTime,
    actsOnInstance: !recordOnly,
  };

  if (recordOnly) {
    const claim = await deps.store.claim(keys, new Date(window.deadline + LEASE_MARGIN_MS), budget());
    if (!claim.claimed) return duplicate(base, claim, signal, deps, window.deadline, log);
    const record = finalize(base, now, window.deadline, {
      outcome: 'skipped',
      reason: rebalanceSkipReason('record', null, null),
      timeline: [{ event: 'rebalance-recommended', at: signal.eventTime }],
    });
    await deps.store.finish(keys, record);
    return record;
  }

  // Reads are harmless, so they run beside the claim; nothing mutating starts before it.
  const reads: Reads = {
    instance: quiet(deps.ec2.describeInstance(signal.instanceId, budget())),
    membership: quiet(deps.autoScaling.describeMembership(signal.instanceId, budget())),
    index: quiet(deps.targetIndex.lookup(signal.instanceId, budget())),
    container: quiet(deps.ecs ? deps.ecs.findContainerInstance(signal.instanceId, budget()) : Promise.resolve(null)),
  };
  const claim = await deps.store.claim(keys, new Date(window.deadline + LEASE_MARGIN_MS), budget());
  if (!claim.claimed) return duplicate(base, claim, signal, deps, window.deadline, log);

  let record: ResponseRecord;
  try {
    const { skipReason, ...fleet } = await act(signal, reads, deps, behaviour, budget);
    const notes = [...(window.note ? [window.note] : []), ...(fleet.notes ?? [])];
    record = finalize(base, now, window.deadline, {
      ...fleet,
      ...(notes.length > 0 ? { notes } : {}),
      ...(skipReason ? { outcome: 'skipped', reason: skipReason } : decideOutcome(fleet.actions)),
    });
  } catch (err) {
    // A bug or an unexpected error: still release the claim as failed so a retry can run.
    const info = errorInfo(err);
    record = finalize(base, now, window.deadline, { outcome: 'failed', reason: `${info.name}: ${info.message}` });
  }
  await deps.store.finish(keys, record);
  log.info('response finished', {
    outcome: record.outcome,
    reason: record.reason,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
  });
  if (record.outcome === 'failed') throw new ResponseFailedError(record);
  return record;
}

async function duplicate(
  base: ResponseRecord,
  claim: { heldBy: string; status: string },
  signal: SpotWarning | RebalanceRecommendation,
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
      entry: { event: 'warning-received', at: signal.eventTime, detail: `instance-action ${signal.instanceAction}` },
      warningTime: signal.eventTime,
    }));
  }
  return finalize(base, now, deadline, {
    outcome: 'duplicate',
    duplicateOf: claim.heldBy,
    reason: `already ${claim.status === 'IN_PROGRESS' ? 'being handled' : 'handled'} as event ${claim.heldBy}`,
  });
}

