// Unwrapping the per-item answers of the batch-shaped ports in adapter tests.
import type { ItemResult } from '../../lambda/core/ports';

/** The value of `key`'s answer; rejects with the error of the call that carried it. */
export async function only<T>(answers: Promise<Map<string, ItemResult<T>>>, key: string): Promise<T> {
  const answer = (await answers).get(key);
  if (!answer) throw new Error(`no answer for ${key}`);
  if (!answer.ok) throw answer.error;
  return answer.value;
}

/** The value of the first (only) answer of an input-ordered list; rejects with its call's error. */
export async function first<T>(answers: Promise<Array<ItemResult<T>>>): Promise<T> {
  const [answer] = await answers;
  if (!answer) throw new Error('no answer');
  if (!answer.ok) throw answer.error;
  return answer.value;
}
