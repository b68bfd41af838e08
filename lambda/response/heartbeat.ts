// The holders' heartbeat: while a batch works, the short lease (LEASE_MS) of every claim it
// holds is renewed every LEASE_HEARTBEAT_MS, so a live response is never overtaken and a dead
// one's claim runs out soon after it died (see core/claims.ts). One heartbeat per batch: each
// beat renews all the batch's claims together (ClaimPort.renewAll: a few transactions, not one
// write per key and event), which is what a wave of hundreds of claims can afford. Written by
// hand: Powertools' idempotency renews nothing (its in-progress expiry is the invocation's
// remaining time, one key per record).
import type { EventStorePort, HeldClaim } from '../core/ports';
import type { Log } from '../log';
import { LEASE_HEARTBEAT_MS, LEASE_MS } from './deps';

export interface BatchHeartbeat {
  /** Renews this claim from the next beat on, until released. Without a token (a dry run), nothing. */
  hold(claim: { keys: HeldClaim['keys']; token: string | undefined }, log: Log): void;
  /**
   * The record of `eventId` is being written: its claim is still renewed (the write may be
   * retried for a while), but a renewal that finds it no longer held is most likely meeting that
   * very write, which closed the claim; it is dropped quietly (the write itself finds out if
   * another delivery really took over, and merges).
   */
  closing(eventId: string): void;
  /** Stops renewing the claim of `eventId` (its record is written); the lease then runs out on its own. */
  release(eventId: string): void;
  /** Whether a renewal found the claim of `eventId` taken over by another delivery (or closed). */
  lost(eventId: string): boolean;
  /** Stops every renewal (idempotent). */
  stop(): void;
}

/**
 * Starts the heartbeat of one batch: every `every` ms (LEASE_HEARTBEAT_MS), one renewAll of
 * every claim held and not released, to `now() + LEASE_MS`, under an abort signal of one beat.
 * A claim found 'lost' is logged on the event's own log, stops being renewed and answers
 * lost(); its response goes on (what it did is done) and its record says so. A claim whose
 * renewal 'failed' (DynamoDB briefly unavailable) is tried again at the next beat: the lease
 * is four beats long; the failures of one beat are logged once, with their count. A beat is
 * skipped while the previous one is still out. The timer never keeps the process alive.
 */
export function startBatchHeartbeat(
  store: Pick<EventStorePort, 'renewAll'>,
  now: () => number,
  log: Log,
  every: number = LEASE_HEARTBEAT_MS,
): BatchHeartbeat {
  const held = new Map<string, { claim: HeldClaim; log: Log }>();
  const lostIds = new Set<string>();
  const closingIds = new Set<string>();
  let stopped = false;
  let inFlight = false;
  const beat = async (): Promise<void> => {
    const claims = [...held.values()];
    const renewals = await store.renewAll(
      claims.map((c) => c.claim),
      new Date(now() + LEASE_MS),
      { abortSignal: AbortSignal.timeout(every) },
    );
    let failed = 0;
    let firstError: unknown;
    renewals.forEach((renewal, i) => {
      const { claim, log: eventLog } = claims[i] as { claim: HeldClaim; log: Log };
      // Released meanwhile: its record is written, whatever the renewal found.
      if (stopped || held.get(claim.keys.eventId)?.claim !== claim) return;
      if (renewal.outcome === 'lost' && closingIds.has(claim.keys.eventId)) {
        held.delete(claim.keys.eventId);
      } else if (renewal.outcome === 'lost') {
        eventLog.warn('claim taken over by another delivery while this one worked', { lostClaim: true });
        lostIds.add(claim.keys.eventId);
        held.delete(claim.keys.eventId);
      } else if (renewal.outcome === 'failed') {
        failed++;
        firstError ??= renewal.error;
      }
    });
    if (failed > 0) {
      log.warn('lease renewal failed; trying again at the next beat', {
        claims: failed,
        error: firstError instanceof Error ? `${firstError.name}: ${firstError.message}` : String(firstError),
      });
    }
  };
  const timer = setInterval(() => {
    if (stopped || inFlight || held.size === 0) return;
    inFlight = true;
    beat()
      .catch((err: unknown) => log.warn('lease renewal failed; trying again at the next beat', { error: String(err) }))
      .finally(() => {
        inFlight = false;
      });
  }, every);
  timer.unref();
  return {
    hold: ({ keys, token }, eventLog) => {
      if (token && !stopped) held.set(keys.eventId, { claim: { keys, token }, log: eventLog });
    },
    closing: (eventId) => void closingIds.add(eventId),
    release: (eventId) => {
      held.delete(eventId);
      closingIds.delete(eventId);
    },
    lost: (eventId) => lostIds.has(eventId),
    stop: () => {
      stopped = true;
      held.clear();
      clearInterval(timer);
    },
  };
}
