// After the plan ran: did Auto Scaling launch the replacement?
import { sleep as realSleep } from '../aws/clients';
import type { ActionResult, AsgFacts, InterruptionNotice, ResponseRecord } from '../core/model';
import type { CallOptions } from '../core/ports';
import type { ResponderDeps } from './deps';
import { iso } from './records';

/** Looks for the replacement after a detach: Auto Scaling usually shows it within a second or two. */
const REPLACEMENT_LOOKS = 3;
const REPLACEMENT_LOOK_INTERVAL_MS = 1_000;

/** One response waiting for its replacement: what it replaced, in which group, known members. */
export interface ReplacementWait {
  signal: InterruptionNotice;
  /** The detach or terminate-in-group; only an `ok` one is followed by a replacement. */
  replaced: ActionResult | null;
  /** The group as read before acting, with its members; null when its members are unknown. */
  before: AsgFacts | null;
  budget: () => CallOptions;
}

/**
 * The replacements of a batch: per Auto Scaling group, up to REPLACEMENT_LOOKS
 * DescribeAutoScalingGroups calls (groupInstanceIds), one second apart, shared by every
 * response of the batch in that group (a wave of 100 in 5 groups costs at most 15 calls, not
 * 300). A look stops early once every response in the group has one. A new member (in no
 * response's `before` and none of the replaced instances) is assigned to the waiting responses
 * in the order of their warnings. Answers in the order of `waits`: null when nothing was
 * replaced, the members before were unknown, nothing new was seen, or a look failed:
 * verification is best effort and never fails a response that did its job. msFromSignal
 * counts from each signal's eventTime.
 *
 * Its health is not read here: in AWS a new instance is still booting ('initial') for minutes,
 * and DescribeTargetHealth would spend the account's ELBv2 describe budget that a mass
 * reclaim needs. The index refresher, which reads every target's health anyway, records when
 * the replacement becomes healthy.
 */
export async function findReplacements(
  waits: readonly ReplacementWait[],
  deps: ResponderDeps,
): Promise<Array<NonNullable<ResponseRecord['replacement']> | null>> {
  const found: Array<NonNullable<ResponseRecord['replacement']> | null> = waits.map(() => null);
  const byGroup = new Map<string, number[]>();
  waits.forEach((w, i) => {
    if (w.replaced?.result !== 'ok' || !w.before) return;
    byGroup.set(w.before.groupName, [...(byGroup.get(w.before.groupName) ?? []), i]);
  });
  await Promise.all(
    [...byGroup.entries()].map(([groupName, members]) => lookInGroup(groupName, members, waits, found, deps)),
  );
  return found;
}

async function lookInGroup(
  groupName: string,
  waiting: number[],
  waits: readonly ReplacementWait[],
  found: Array<NonNullable<ResponseRecord['replacement']> | null>,
  deps: ResponderDeps,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const known = new Set(waiting.flatMap((i) => [...(waits[i]?.before?.instanceIds ?? []), waits[i]!.signal.instanceId]));
  // Earliest warning first: its replacement is the first to be launched.
  const queue = [...waiting].sort((a, b) => waits[a]!.signal.eventTime.localeCompare(waits[b]!.signal.eventTime));
  // The latest deadline among them bounds the looks.
  const budget = waits[queue[queue.length - 1]!]!.budget;
  for (let look = 1; look <= REPLACEMENT_LOOKS && queue.length > 0; look++) {
    let instanceIds: string[] | null;
    try {
      instanceIds = await deps.autoScaling.groupInstanceIds(groupName, budget());
    } catch {
      return;
    }
    const seenAt = now();
    for (const fresh of (instanceIds ?? []).filter((id) => !known.has(id))) {
      const i = queue.shift();
      if (i === undefined) break;
      known.add(fresh);
      found[i] = { instanceId: fresh, seenAt: iso(seenAt), msFromSignal: seenAt - Date.parse(waits[i]!.signal.eventTime) };
    }
    if (queue.length > 0 && look < REPLACEMENT_LOOKS) await sleep(REPLACEMENT_LOOK_INTERVAL_MS);
  }
}
