// Counts the AWS calls a set of SDK clients make, by "service:Command", for the demo and
// benchmarks ("5 warnings, 1 DeregisterTargets per target group"). A middleware at the
// initialize step sees each command once, however often the SDK retries it.
import type { MiddlewareStack } from '@smithy/types';

/** `service:Command` -> how many times it was sent (retries not counted). */
export type CallCounts = Map<string, number>;

/** Any SDK v3 client: only its middleware stack is used (typed `any`: one counter for every service). */
type AnyClient = { middlewareStack: MiddlewareStack<any, any> };

/**
 * Start counting the commands `clients` send, under `name` (e.g. `elbv2`), into `counts` (a new
 * map unless given: several sets of clients can share one). Returns the live counts and `stop`,
 * which removes the middleware. Counting a client twice counts it once.
 */
export function countCalls(
  clients: Record<string, AnyClient>,
  counts: CallCounts = new Map(),
): { counts: CallCounts; stop: () => void } {
  const name = 'spotResponderCallCounter';
  const entries = Object.entries(clients);
  for (const [service, client] of entries) {
    client.middlewareStack.remove(name);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = `${service}:${String(context.commandName ?? 'unknown').replace(/Command$/, '')}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name },
    );
  }
  return { counts, stop: () => entries.forEach(([, client]) => client.middlewareStack.remove(name)) };
}

/** The counts as "N Command" phrases, sorted by service then command. */
export function describeCounts(counts: CallCounts, services?: readonly string[]): string[] {
  return [...counts.entries()]
    .filter(([key]) => !services || services.includes(key.split(':')[0]!))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${n} ${key.split(':')[1]}`);
}
