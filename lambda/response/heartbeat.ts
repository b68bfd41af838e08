// The holder's heartbeat: while a response works, its claim's short lease (LEASE_MS) is renewed
// every LEASE_HEARTBEAT_MS, so a live response is never overtaken and a dead one's claim runs
// out soon after it died (see core/claims.ts). Written by hand: Powertools' idempotency renews
// nothing (its in-progress expiry is the invocation's remaining time, one key per record).
import type { ClaimKeys, EventStorePort } from '../core/ports';
import type { Log } from '../log';
import { LEASE_HEARTBEAT_MS, LEASE_MS } from './deps';

export interface Heartbeat {
  /** Stops renewing (idempotent); the lease then runs out LEASE_MS after the last renewal. */
  stop(): void;
}

/**
 * Starts renewing the claim under `token` to `now() + LEASE_MS` every LEASE_HEARTBEAT_MS (ms).
 * A renewal that fails (DynamoDB briefly unavailable) is logged and tried again at the next
 * beat: the lease is three beats long. One that finds the claim taken over is logged and
 * stops the beat. The timer never keeps the process alive. Without a token (a dry run), a
 * no-op.
 */
export function startHeartbeat(
  store: Pick<EventStorePort, 'renew'>,
  keys: ClaimKeys,
  token: string | undefined,
  now: () => number,
  log: Log,
  every: number = LEASE_HEARTBEAT_MS,
): Heartbeat {
  if (!token) return { stop: () => undefined };
  let stopped = false;
  let inFlight = false;
  const timer = setInterval(() => {
    if (stopped || inFlight) return;
    inFlight = true;
    store
      .renew(keys, token, new Date(now() + LEASE_MS), { abortSignal: AbortSignal.timeout(every) })
      .then((held) => {
        if (!held && !stopped) {
          log.warn('claim taken over by another delivery while this one worked', { lostClaim: true });
          stop();
        }
      })
      .catch((err: unknown) => {
        log.warn('lease renewal failed; trying again at the next beat', {
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
      })
      .finally(() => {
        inFlight = false;
      });
  }, every);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop };
}
