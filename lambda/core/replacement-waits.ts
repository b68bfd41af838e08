// Which waiting response a newly seen instance of an Auto Scaling group replaces. Pure: the
// store keeps the waits as strings in a DynamoDB string set (atomic add and delete, no read-
// modify-write), and these rules pick among them.
import type { ReplacementWait } from './ports';

/**
 * A wait older than this (ms) is ignored: Auto Scaling launches a replacement within minutes
 * unless it cannot (Launch suspended, no capacity), and an instance launched an hour later is
 * more likely a scale-out than the replacement.
 */
export const REPLACEMENT_WAIT_MS = 60 * 60_000;

const SEPARATOR = '|';

/**
 * A wait as one string that sorts by signal time: `<UTC ISO time>|<instance id>|<detail-type>|<event id>`.
 * Instance ids, ISO times and detail-types hold no `|`; the event id comes last, so it may.
 */
export function encodeWait(wait: ReplacementWait): string {
  return [new Date(wait.signalTime).toISOString(), wait.instanceId, wait.signalDetailType, wait.eventId].join(SEPARATOR);
}

/** The wait an encoded string holds; undefined for a string this module did not write. */
export function decodeWait(encoded: string): ReplacementWait | undefined {
  const parts = encoded.split(SEPARATOR);
  if (parts.length < 4) return undefined;
  const [signalTime, instanceId, signalDetailType] = parts as [string, string, string];
  const eventId = parts.slice(3).join(SEPARATOR);
  if (Number.isNaN(Date.parse(signalTime)) || !instanceId || !eventId) return undefined;
  return { signalTime, instanceId, signalDetailType, eventId };
}

/**
 * The wait a new instance seen at `seenAt` (ISO) answers: the earliest signal at or before it
 * and no more than REPLACEMENT_WAIT_MS older (the first detach is the first replaced, as Auto
 * Scaling launches in order). Returns the encoded string to remove with it; undefined when none
 * qualifies.
 */
export function earliestWait(encoded: Iterable<string>, seenAt: string): { encoded: string; wait: ReplacementWait } | undefined {
  const seen = Date.parse(seenAt);
  let best: { encoded: string; wait: ReplacementWait; at: number } | undefined;
  for (const e of encoded) {
    const wait = decodeWait(e);
    if (!wait) continue;
    const at = Date.parse(wait.signalTime);
    if (at > seen || seen - at > REPLACEMENT_WAIT_MS) continue;
    if (!best || at < best.at || (at === best.at && e < best.encoded)) best = { encoded: e, wait, at };
  }
  return best ? { encoded: best.encoded, wait: best.wait } : undefined;
}
