// The gate that bounds how many records a batch writes at once (lambda/aws/batching.ts limiter).
import { limiter } from '../../../lambda/aws/batching';

/** A task that runs until released, counting how many run at once. */
function gatedTasks(n: number) {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const release: Array<() => void> = [];
  const tasks = Array.from({ length: n }, (_, i) => async () => {
    running++;
    most = Math.max(most, running);
    started.push(i);
    await new Promise<void>((resolve) => release.push(resolve));
    running--;
    return i;
  });
  return { tasks, release, started, most: () => most };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('limiter', () => {
  it('runs at most `limit` tasks at once, the rest in order as slots free, and answers each', async () => {
    // Prepare
    const gate = limiter(2);
    const { tasks, release, started, most } = gatedTasks(5);

    // Act
    const answers = Promise.all(tasks.map((t) => gate(t)));
    await settle();
    const first = [...started];
    while (release.length > 0 || started.length < 5) {
      release.shift()?.();
      await settle();
    }

    // Assess
    expect(first).toEqual([0, 1]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most()).toBe(2);
    await expect(answers).resolves.toEqual([0, 1, 2, 3, 4]);
  });

  it('frees the slot of a task that fails and passes its error on', async () => {
    const gate = limiter(1);
    await expect(gate(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate(async () => 'next')).resolves.toBe('next');
  });

  it('refuses a limit below 1', () => {
    expect(() => limiter(0)).toThrow(RangeError);
  });
});
