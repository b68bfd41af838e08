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

/**
 * A gate that runs at most `limit` (>= 1) of the tasks handed to it at once, the others in the
 * order they came, each as soon as a slot is free. Written by hand: p-limit does this, but it is
 * no dependency of ours (only a transitive one, ESM-only from v4), and this is all we need of it.
 */
export function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (limit < 1) throw new RangeError(`limit must be at least 1, got ${limit}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < limit) active++;
    // A finishing task hands its slot over: `active` stays as it is.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const wake = waiting.shift();
      if (wake) wake();
      else active--;
    }
  };
}
