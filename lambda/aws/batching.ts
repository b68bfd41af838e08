// Splitting a batch into the calls an API allows and answering every item of it. Written by
// hand: the SDK's paginators page through one call's results, they do not split an input list
// across calls, and no library we use attributes a failed call to the items it carried.
import type { ItemResult } from '../core/ports';

/** `items` in runs of at most `size` (size >= 1), in order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new RangeError(`chunk size must be at least 1, got ${size}`);
  const runs: T[][] = [];
  for (let i = 0; i < items.length; i += size) runs.push(items.slice(i, i + size));
  return runs;
}

/**
 * Calls `call` once per chunk of the distinct `keys`, all chunks at once, and answers every key:
 * the value the chunk's call gave it (`missing` when the call did not mention it), or that
 * call's error for every key it carried. Never rejects.
 */
export async function settleByKey<T>(
  keys: readonly string[],
  size: number,
  call: (chunk: string[]) => Promise<Map<string, T>>,
  missing: T,
): Promise<Map<string, ItemResult<T>>> {
  const answers = new Map<string, ItemResult<T>>();
  await Promise.all(
    chunk([...new Set(keys)], size).map(async (run) => {
      try {
        const found = await call(run);
        for (const key of run) answers.set(key, { ok: true, value: found.has(key) ? (found.get(key) as T) : missing });
      } catch (error) {
        for (const key of run) answers.set(key, { ok: false, error });
      }
    }),
  );
  return answers;
}
