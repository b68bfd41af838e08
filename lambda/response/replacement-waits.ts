// After a batch's records are written: the responses that detached with replacement wait in
// their group (store.awaitReplacements), and the replacement's own `pending` state change names
// it later (response/timeline.ts). ADR 0002 says why the replacement is not looked for inline.
import { errorInfo } from '../aws/clients';
import type { ReplacementWait } from '../core/ports';
import type { ResponderDeps } from './deps';

/** A response waiting for its replacement in a group whose instances (before it acted) are known. */
export interface GroupWait {
  groupName: string;
  known: readonly string[];
  wait: ReplacementWait;
}

/**
 * After the records are written: one pair of writes per group for every response of the batch
 * waiting there (store.awaitReplacements). Bookkeeping: a failure is logged, never fails a
 * response that did its job (its record simply names no replacement).
 */
export async function awaitReplacements(waits: readonly GroupWait[], deps: ResponderDeps): Promise<void> {
  const byGroup = new Map<string, GroupWait[]>();
  for (const w of waits) byGroup.set(w.groupName, [...(byGroup.get(w.groupName) ?? []), w]);
  await Promise.all(
    [...byGroup].map(async ([groupName, group]) => {
      try {
        await deps.store.awaitReplacements(
          groupName,
          group.map((g) => g.wait),
          [...new Set(group.flatMap((g) => g.known))],
        );
      } catch (err) {
        deps.log.error('replacement wait not recorded: these records will name no replacement', {
          groupName,
          eventIds: group.map((g) => g.wait.eventId),
          error: errorInfo(err),
        });
      }
    }),
  );
}
