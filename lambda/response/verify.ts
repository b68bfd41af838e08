// After the plan ran: did Auto Scaling launch the replacement?
import { sleep as realSleep } from '../aws/clients';
import type { ActionResult, AsgFacts, InterruptionNotice, ResponseRecord } from '../core/model';
import type { CallOptions } from '../core/ports';
import type { ResponderDeps } from './deps';
import { iso } from './records';

/** Looks for the replacement after a detach: Auto Scaling usually shows it within a second or two. */
const REPLACEMENT_LOOKS = 3;
const REPLACEMENT_LOOK_INTERVAL_MS = 1_000;

/**
 * The replacement is the instance that appears in the group after we detached or terminated
 * in it: up to REPLACEMENT_LOOKS DescribeAutoScalingGroups calls (groupInstanceIds), one second
 * apart. null when nothing was replaced, nothing new was seen, or a look failed: verification is
 * best effort and never fails a response that did its job. msFromSignal counts from the
 * signal's eventTime.
 *
 * Its health is not read here: in AWS a new instance is still booting ('initial') for minutes,
 * and DescribeTargetHealth would spend the account's ELBv2 describe budget that a mass
 * reclaim needs. The index refresher, which reads every target's health anyway, records when
 * the replacement becomes healthy.
 */
export async function findReplacement(
  signal: InterruptionNotice,
  replaced: ActionResult | null,
  before: AsgFacts | null,
  deps: ResponderDeps,
  budget: () => CallOptions,
): Promise<NonNullable<ResponseRecord['replacement']> | null> {
  if (replaced?.result !== 'ok' || !before) return null;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  const known = new Set([...before.instanceIds, signal.instanceId]);
  for (let look = 1; look <= REPLACEMENT_LOOKS; look++) {
    try {
      const instanceIds = await deps.autoScaling.groupInstanceIds(before.groupName, budget());
      const fresh = instanceIds?.find((id) => !known.has(id));
      if (fresh) {
        const seenAt = now();
        return { instanceId: fresh, seenAt: iso(seenAt), msFromSignal: seenAt - Date.parse(signal.eventTime) };
      }
    } catch {
      return null;
    }
    if (look < REPLACEMENT_LOOKS) await sleep(REPLACEMENT_LOOK_INTERVAL_MS);
  }
  return null;
}
