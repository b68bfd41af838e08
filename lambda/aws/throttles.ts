// Counts throttled AWS call attempts, retried ones included, for the Throttles metric. The
// SDK's retry strategy absorbs throttles silently (the output's $metadata.attempts says that a
// call was retried, not why), so the count comes from a middleware placed inside the retry loop:
// it sees every attempt's error and classifies it with the SDK's own isThrottlingError (429,
// the throttling error codes, the service's throttling trait), the same test the retry
// strategy uses to pick its backoff. No library counts this; the middleware is a dozen lines.
import { isThrottlingError } from '@smithy/service-error-classification';
import type { FinalizeRequestMiddleware, RelativeMiddlewareOptions } from '@smithy/types';
import type { AwsClients } from './clients';

/** A running count of throttled attempts; `take` returns it and starts again from zero. */
export interface ThrottleCounter {
  /** Throttled attempts since the last take, by service (the client's serviceId, e.g. "EC2"). */
  take(): Map<string, number>;
}

/** What countThrottles needs of a client: its middleware stack (every SDK v3 client has one). */
export interface ClientWithStack {
  // `never`: each client's stack is typed by its own commands; the middleware only looks at
  // errors, so it fits every one of them.
  middlewareStack: { addRelativeTo(middleware: never, options: RelativeMiddlewareOptions): void };
}

export const THROTTLE_MIDDLEWARE_NAME = 'spotResponderThrottleCounter';

/**
 * Adds the counting middleware to each client (once per container: clients are created once)
 * and returns the counter all of them feed. `clients` maps a label (the metric's service) to a
 * client. Errors pass through unchanged; the middleware only looks.
 */
export function countThrottles(clients: Record<string, ClientWithStack>): ThrottleCounter {
  let counts = new Map<string, number>();
  for (const [service, client] of Object.entries(clients)) {
    const middleware: FinalizeRequestMiddleware<object, object> = (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        if (isThrottlingError(err as Parameters<typeof isThrottlingError>[0])) {
          counts.set(service, (counts.get(service) ?? 0) + 1);
        }
        throw err;
      }
    };
    client.middlewareStack.addRelativeTo(middleware as never, {
      name: THROTTLE_MIDDLEWARE_NAME,
      relation: 'after',
      toMiddleware: 'retryMiddleware',
      override: true,
    });
  }
  return {
    take() {
      const taken = counts;
      counts = new Map();
      return taken;
    },
  };
}

/**
 * countThrottles over every client of createAwsClients, labelled by service. The document client
 * sends through `dynamoRaw`'s middleware stack, so DynamoDB is counted once, there.
 */
export function countClientThrottles(clients: AwsClients): ThrottleCounter {
  return countThrottles({
    EC2: clients.ec2,
    AutoScaling: clients.autoScaling,
    ELBv2: clients.elbv2,
    ECS: clients.ecs,
    DynamoDB: clients.dynamoRaw,
  });
}
