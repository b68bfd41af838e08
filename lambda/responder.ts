// The response to a batch of events: validate -> claim -> look up -> plan -> execute -> record ->
// wait for the replacement (named later by its state change: response/timeline.ts). Each event
// keeps its own parse, window, claim, plan and record; the AWS calls are merged per phase across
// the batch. This file splits the batch into waves, claims and records; the acting round between
// (plans, merged execution, the fresh group check) is response/act-round.ts. The Lambda handler
// (one SQS batch, or one EventBridge event), `spot-responder replay` and the dry run all come
// here; they differ only in the adapters they pass in. Every decision is the plan's (core/response-plan.ts); which calls carry which
// actions is response/merge.ts's.
//
// One warning, with the group's facts in the index, reaches traffic stopped in two rounds:
//   round 1: claim | DescribeInstances | DescribeAutoScalingInstances | BatchGetItem | ECS reads
//   round 2: DeregisterTargets | DetachInstances | ECS drain | DescribeAutoScalingGroups (check)
// and a third round only when the check finds a target group the index did not know. Without
// indexed group facts the group is read first (today's path: three rounds).
import { limiter } from './aws/batching';
import { errorInfo } from './aws/clients';
import { DEFAULT_BEHAVIOUR } from './core/behaviour';
import type { EventIdentity, InterruptionNotice, ResponseRecord } from './core/model';
import { responseWindow, timerMs, type ResponseWindow } from './core/plan';
import type { CallOptions, ClaimKeys, ClaimResult, ItemResult, UnclaimedWrite } from './core/ports';
import { planBeforeLookups, type SkipPlan } from './core/response-plan';
import { parseEvent } from './events';
import type { Log } from './log';
import { latestBudget, lookUpPlanAct } from './response/act-round';
import { LEASE_MS, type ResponderDeps } from './response/deps';
import { startBatchHeartbeat, type BatchHeartbeat } from './response/heartbeat';
import { startLookups } from './response/lookups';
import { baseRecord, closeRecord, rejectedRecord, signalEntry, skippedFields, unansweredRecord } from './response/records';
import { awaitReplacements, type GroupWait } from './response/replacement-waits';
import { recordTimelineSignals, type TimelineSignal } from './response/timeline';
import { reported } from './response/report';

/**
 * How many events of a batch write their record at once (each a GetItem, then a
 * TransactWriteItems): half the client's sockets (AWS_CALL_POLICY.maxSockets), leaving the other
 * half to the heartbeat and to a later wave of the same batch.
 */
const RECORDS_IN_FLIGHT = 25;

/** Thrown after a failed response has been recorded, so AWS retries it and then dead-letters it. */
export class ResponseFailedError extends Error {
  override name = 'ResponseFailedError';
  constructor(readonly record: ResponseRecord) {
    super(`response to event ${record.eventId} failed: ${record.reason ?? 'unknown reason'}`);
  }
}

/**
 * Answers one raw EventBridge event and returns its record: `respondBatch([raw])`. A rejected
 * event is recorded and returned, never thrown (a throw makes AWS retry). Throws
 * ResponseFailedError after recording a failed response, so Lambda retries it; errors of the
 * store itself propagate.
 */
export async function respond(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  return reported(deps, respondOne(raw, deps));
}

async function respondOne(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  const [answer] = await answerBatch([raw], deps);
  if (!answer) throw new Error('respond: the batch gave no answer');
  if ('error' in answer) throw answer.error;
  if (answer.record.outcome === 'failed') throw new ResponseFailedError(answer.record);
  return answer.record;
}

/**
 * Answers a batch of raw EventBridge events, as one SQS batch delivers them: one record per
 * input, in input order. A record with outcome 'failed' is the one to retry (its claim was
 * released as failed, or the store itself failed); every other outcome is final. Never rejects
 * for one event's sake. Each event keeps its own parse, window, claim, plan and record; the
 * AWS calls are merged across the batch (response/lookups.ts, response/execute.ts). The same
 * event twice, or two notices for one instance, are answered one after the other, so the
 * second finds the first's claim and is recorded as its duplicate.
 */
export async function respondBatch(raws: readonly unknown[], deps: ResponderDeps): Promise<ResponseRecord[]> {
  const now = deps.now ?? Date.now;
  const answers = await answerBatch(raws, deps);
  const records = answers.map((answer) => {
    if ('record' in answer) return answer.record;
    const info = errorInfo(answer.error);
    return unansweredRecord(answer.identity, 'failed', `${info.name}: ${info.message}`, answer.receivedAt, now());
  });
  // Metrics and notifications, once per record (never changing it).
  return Promise.all(records.map((record) => reported(deps, Promise.resolve(record))));
}

/** An event's answer: its record, or the error that kept it from being recorded. */
type Answer = { record: ResponseRecord } | { error: unknown; identity: EventIdentity; receivedAt: number };

interface Notice {
  index: number;
  signal: InterruptionNotice;
  log: Log;
}

async function answerBatch(raws: readonly unknown[], deps: ResponderDeps): Promise<Answer[]> {
  const now = deps.now ?? Date.now;
  const receivedAt = now();
  const answers: Answer[] = new Array(raws.length);
  const settle = async (index: number, identity: EventIdentity, work: () => Promise<ResponseRecord>): Promise<void> => {
    try {
      answers[index] = { record: await work() };
    } catch (error) {
      answers[index] = { error, identity, receivedAt };
    }
  };

  const rejected: Array<Promise<void>> = [];
  const waves: Notice[][] = [];
  const stateChanges: Array<TimelineSignal & { index: number; identity: EventIdentity }> = [];
  const lastWave = new Map<string, number>();
  raws.forEach((raw, index) => {
    const parsed = parseEvent(raw, deps.policy);
    if (!parsed.ok) {
      const record = inMode(rejectedRecord(parsed.rejection, receivedAt, now()), deps);
      deps.log.warn('event rejected', { eventId: record.eventId, reason: record.reason, kind: parsed.rejection.kind });
      rejected.push(settle(index, record, async () => (await deps.store.recordUnclaimed(record), record)));
      return;
    }
    const signal = parsed.signal;
    const log = deps.log.child({ eventId: signal.eventId, instanceId: signal.instanceId, signal: signal.kind });
    const identity = baseRecord(signal, receivedAt, null);
    if (signal.kind === 'instance-state-change' || signal.kind === 'shutdown-command-status') {
      // Bookkeeping comes last: a state change may extend the record a notice of this batch writes.
      stateChanges.push({ index, identity, signal, log });
      return;
    }
    // A later wave for the same event or instance: it must meet the earlier one's claim.
    const keys = [`event:${signal.eventId}`, `instance:${signal.instanceId}`];
    const wave = Math.max(...keys.map((k) => (lastWave.get(k) ?? -1) + 1));
    keys.forEach((k) => lastWave.set(k, wave));
    (waves[wave] ??= []).push({ index, signal, log });
  });

  await Promise.all(rejected);
  for (const wave of waves) {
    const records = await respondToNotices(wave, deps, receivedAt);
    wave.forEach((notice, i) => (answers[notice.index] = records[i] as Answer));
  }
  if (stateChanges.length > 0) {
    const recorded = await recordTimelineSignals(stateChanges, deps, receivedAt);
    stateChanges.forEach(({ index, identity }, n) => {
      const result = recorded[n] as ItemResult<ResponseRecord>;
      answers[index] = result.ok ? { record: result.value } : { error: result.error, identity, receivedAt };
    });
  }
  return answers;
}

/** One notice on its way through a wave. */
interface InFlight extends Notice {
  window: ResponseWindow;
  base: ResponseRecord;
  keys: ClaimKeys;
  early: SkipPlan | null;
  budget: () => CallOptions;
  /** Set once the claim is won: its token (finish passes it back). */
  token?: string;
  /** The batch's heartbeat, renewing the claim from the moment it is won until its record is written. */
  heartbeat?: BatchHeartbeat;
}


/**
 * The notices of one wave (no two share an event id or an instance): the claims beside the
 * merged reads, the plans, one merged execution round, the records, under one heartbeat.
 * Answers in wave order.
 */
async function respondToNotices(notices: readonly Notice[], deps: ResponderDeps, receivedAt: number): Promise<Answer[]> {
  const now = deps.now ?? Date.now;
  const behaviour = deps.behaviour ?? DEFAULT_BEHAVIOUR;
  const flights: InFlight[] = notices.map((notice) => {
    const window = responseWindow(notice.signal, receivedAt);
    const early = planBeforeLookups(notice.signal, behaviour, window);
    return {
      ...notice,
      window,
      base: inMode(baseRecord(notice.signal, receivedAt, window.deadline), deps),
      early,
      keys: {
        eventId: notice.signal.eventId,
        signal: notice.signal.kind,
        instanceId: notice.signal.instanceId,
        eventTime: notice.signal.eventTime,
        actsOnInstance: !early,
      },
      // Every call for the event shares the time left before its deadline; none may run past it.
      budget: () => ({ abortSignal: AbortSignal.timeout(timerMs(window.deadline, now())) }),
    };
  });
  // One heartbeat renews every claim of the batch together; stopped once every record is written.
  const heartbeat = startBatchHeartbeat(deps.store, now, deps.log);
  try {
    return await claimLookUpActFinish(flights, deps, receivedAt, heartbeat);
  } finally {
    heartbeat.stop();
  }
}

/** respondToNotices' work, with the flights built and the batch's heartbeat running. */
async function claimLookUpActFinish(
  flights: InFlight[],
  deps: ResponderDeps,
  receivedAt: number,
  heartbeat: BatchHeartbeat,
): Promise<Answer[]> {
  const now = deps.now ?? Date.now;
  const answers: Answer[] = new Array(flights.length);
  const finishing: Array<Promise<void>> = [];
  // The records are written RECORDS_IN_FLIGHT at a time: a batch of 1,000 finishing at once
  // would queue 2,000 requests on the client's 50 sockets, past its 1 s connection timeout.
  const recording = limiter(RECORDS_IN_FLIGHT);
  const settle = (i: number, work: () => Promise<ResponseRecord>) =>
    finishing.push(
      recording(work).then(
        (record) => void (answers[i] = { record }),
        (error: unknown) => void (answers[i] = { error, identity: (flights[i] as InFlight).base, receivedAt }),
      ),
    );

  const claiming: number[] = [];
  flights.forEach((flight, i) => {
    if (flight.early && !flight.early.underClaim) {
      const record = closeRecord(flight.base, now, flight.window.deadline, skippedFields(flight.signal, flight.early));
      flight.log.warn('signal arrived too late to act on', { reason: record.reason, skipKind: record.skipKind });
      settle(i, async () => tooLateAnswer(record, await deps.store.recordUnclaimed(record), deps, flight.log));
    } else {
      claiming.push(i);
    }
  });

  // Reads are harmless, so they run beside the claims; nothing mutating starts before them.
  const looking = claiming.filter((i) => !(flights[i] as InFlight).early);
  const pending =
    looking.length > 0
      ? startLookups(
          looking.map((i) => (flights[i] as InFlight).signal.instanceId),
          deps,
          latestBudget(looking.map((i) => flights[i] as InFlight), now),
        )
      : null;
  // Every claim of the batch in a few merged writes, each event won or lost on its own; a short
  // lease, renewed by the batch's heartbeat while this invocation works on the event.
  const claimed =
    claiming.length > 0
      ? await deps.store.claimAll(
          claiming.map((i) => (flights[i] as InFlight).keys),
          new Date(now() + LEASE_MS),
          latestBudget(claiming.map((i) => flights[i] as InFlight), now),
        )
      : [];
  const claims = claiming.map((i, n) => {
    const flight = flights[i] as InFlight;
    const result = claimed[n] ?? { ok: false, error: new Error('claimAll gave no answer') };
    if (!result.ok) {
      answers[i] = { error: result.error, identity: flight.base, receivedAt };
      return null;
    }
    const claim = result.value;
    if (claim.claimed) {
      flight.token = claim.token;
      flight.heartbeat = heartbeat;
      heartbeat.hold({ keys: flight.keys, token: claim.token }, flight.log);
    }
    return { i, claim };
  });

  const won: InFlight[] = [];
  for (const entry of claims) {
    if (!entry) continue;
    const flight = flights[entry.i] as InFlight;
    if (!entry.claim.claimed) {
      const claim = entry.claim;
      settle(entry.i, () => duplicate(flight.base, claim, flight.signal, deps, flight.window.deadline, flight.log));
    } else if (flight.early) {
      const skip = flight.early;
      settle(entry.i, () => finish(flight, skippedFields(flight.signal, skip), deps));
    } else {
      won.push(flight);
    }
  }

  const waiting: Array<{ i: number; wait: GroupWait }> = [];
  if (won.length > 0 && pending) {
    const acted = await lookUpPlanAct(won, pending, deps);
    won.forEach((flight, k) => {
      const fields = acted.fields[k] as Partial<ResponseRecord>;
      const i = flights.indexOf(flight);
      settle(i, () => finish(flight, fields, deps));
      const wait = acted.waits[k];
      if (wait) waiting.push({ i, wait });
    });
  }
  await Promise.all(finishing);
  // After the records: the replacement's state change writes into a record that must exist.
  const recorded = waiting.filter(({ i }) => answers[i] && 'record' in (answers[i] as Answer)).map(({ wait }) => wait);
  if (recorded.length > 0) await awaitReplacements(recorded, deps);
  return answers;
}

/** In observe mode every record says so, whatever its outcome (a skip would have been one in act mode too). */
function inMode(record: ResponseRecord, deps: ResponderDeps): ResponseRecord {
  return deps.mode === 'observe' ? { ...record, mode: 'observe' } : record;
}




/** Closes the record, writes it and releases the claim (failed, for outcome failed). */
async function finish(flight: InFlight, fields: Partial<ResponseRecord>, deps: ResponderDeps): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const lost = flight.heartbeat?.lost(flight.signal.eventId) ?? false;
  flight.heartbeat?.closing(flight.signal.eventId);
  const noted = lost
    ? {
        ...fields,
        notes: [
          ...(fields.notes ?? []),
          "the claim's lease renewal found it taken over by another delivery while this one worked (this one was presumed dead): both attempts are merged in this record",
        ],
      }
    : fields;
  let record = closeRecord(flight.base, now, flight.window.deadline, noted);
  try {
    // Merged with any earlier attempt at this event; retried until the deadline, then thrown.
    record = await deps.store.finish(flight.keys, record, {
      ...(flight.token ? { token: flight.token } : {}),
      until: new Date(flight.window.deadline),
    });
  } finally {
    flight.heartbeat?.release(flight.signal.eventId);
  }
  flight.log.info('response finished', {
    outcome: record.outcome,
    reason: record.reason,
    skipKind: record.skipKind,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
    attempts: record.attempts?.length,
  });
  return record;
}

/**
 * The answer to a delivery too late to act on, given what recording it found. A redelivery of
 * an event whose own response failed, or whose holder died without recording anything (the
 * store closes that claim failed), stays failed: the queue redelivers it up to maxReceiveCount
 * and then dead-letters it, so the DLQ alarm fires; answering it skipped would delete the message and leave the failure only in
 * `history`. A redelivery of an event already answered otherwise is its duplicate, counted on
 * the original record like any other.
 */
async function tooLateAnswer(record: ResponseRecord, write: UnclaimedWrite, deps: ResponderDeps, log: Log): Promise<ResponseRecord> {
  if (write.result === 'written') return record;
  const stored = write.outcome;
  if (stored === 'failed') {
    const reason =
      write.result === 'closed-abandoned'
        ? `the invocation that claimed this event died before completing its record, and this delivery is too late to act (${record.reason ?? 'past its deadline'}); left for the dead-letter queue`
        : `the response to this event failed earlier and this delivery is too late to retry it (${record.reason ?? 'past its deadline'}); left for the dead-letter queue`;
    log.error('failed response not retried: too late', { reason });
    return { ...record, outcome: 'failed', reason };
  }
  // It closed the abandoned claim with what the dead holder did: that record stands.
  if (write.result === 'closed-abandoned') return record;
  const now = deps.now ?? Date.now;
  await deps.store.noteDuplicate(record.eventId, record.eventId, new Date(now()).toISOString());
  return {
    ...record,
    outcome: 'duplicate',
    duplicateOf: record.eventId,
    reason: `already ${stored === undefined ? 'being handled' : 'recorded'} as event ${record.eventId} (this delivery came too late to act on: ${record.reason ?? 'past its deadline'})`,
  };
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
