// Client-side pacing of AWS calls: one token bucket per API family, shared by every call of
// the container, applied as SDK middleware on the clients of clients.ts. AWS meters these APIs
// with per-account token buckets; a wave of warnings that fires 800 DeregisterTargets at once
// gets most of them throttled and retried blindly, so we spend our tokens at the rate AWS
// refills them instead, and start the calls that can still make the deadline.
//
// Written by hand: the token bucket libraries on npm (limiter, bottleneck, p-throttle) take no
// AbortSignal for a wait, and none can say *when* a token will come, which is what lets a
// call fail at once, with a named error, instead of waiting for a token that would come after
// its deadline.
//
// Documented buckets (per account and Region):
// - ELBv2: RegisterTargets/DeregisterTargets 20 burst, 4 per second; Describe* 40 burst, 10 per
//   second. https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
// - EC2: non-mutating actions (Describe*) 100 burst, 20 per second.
//   https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
// - Auto Scaling: one shared bucket whose size AWS does not publish; ours is configurable
//   (API_PACING), default 20 burst / 5 per second, a guess on the safe side that the wave
//   benchmark shows is not the bottleneck (Auto Scaling calls are merged per group).
// ECS and DynamoDB are not paced: ECS's UpdateContainerInstancesState is one call per cluster
// and batch, and DynamoDB throttles on capacity, not on request count.
import type {
  FinalizeHandler,
  FinalizeHandlerArguments,
  FinalizeHandlerOutput,
  FinalizeRequestMiddleware,
  HandlerExecutionContext,
  MetadataBearer,
  Pluggable,
} from '@smithy/types';

/** The API families we pace, each metered by AWS with one bucket. */
export const PACED_FAMILIES = ['elbv2-targets', 'elbv2-describe', 'ec2-describe', 'auto-scaling'] as const;
export type PacedFamily = (typeof PACED_FAMILIES)[number];

/** A token bucket: `capacity` tokens at most (the burst), refilled at `refillPerSecond`. */
export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** Per family: a bucket, or `off` to send that family's calls unpaced. */
export type PacingConfig = Readonly<Record<PacedFamily, BucketSpec | 'off'>>;

/** AWS's documented buckets (see the file header), and our guess for Auto Scaling. */
export const DEFAULT_PACING: PacingConfig = {
  'elbv2-targets': { capacity: 20, refillPerSecond: 4 },
  'elbv2-describe': { capacity: 40, refillPerSecond: 10 },
  'ec2-describe': { capacity: 100, refillPerSecond: 20 },
  'auto-scaling': { capacity: 20, refillPerSecond: 5 },
};

/** The services whose commands we know how to sort into families. */
export type PacedService = 'elbv2' | 'ec2' | 'auto-scaling';

/**
 * The family of `commandName` (the SDK's name, e.g. `DeregisterTargetsCommand`) on `service`,
 * or undefined for a call AWS does not meter with one of our buckets.
 */
export function familyOf(service: PacedService, commandName: string): PacedFamily | undefined {
  const action = commandName.replace(/Command$/, '');
  switch (service) {
    case 'elbv2':
      if (action === 'RegisterTargets' || action === 'DeregisterTargets') return 'elbv2-targets';
      return action.startsWith('Describe') ? 'elbv2-describe' : undefined;
    case 'ec2':
      return action.startsWith('Describe') ? 'ec2-describe' : undefined;
    case 'auto-scaling':
      return 'auto-scaling';
  }
}

/**
 * Thrown instead of waiting for a token that cannot come before the call's deadline (or when
 * the deadline passes during the wait). Not retryable: the deadline has, or will have, passed.
 */
export class PacingDeadlineError extends Error {
  override readonly name = 'PacingDeadlineError';
  constructor(
    readonly family: PacedFamily,
    /** How long the token was (or still was) away, ms. */
    readonly waitMs: number,
    /** How long was left until the deadline, ms (0 or less: already passed). */
    readonly remainingMs: number,
  ) {
    super(
      `no ${family} token before the deadline: the next one is ${Math.ceil(waitMs)} ms away, ` +
        `${Math.max(0, Math.floor(remainingMs))} ms are left`,
    );
  }
}

const deadlines = new WeakMap<AbortSignal, number>();

/**
 * An AbortSignal that aborts at `deadlineAt` (epoch ms) and tells the pacing when that is, so a
 * call whose token would come later fails at once instead of waiting. Pass it as the SDK's
 * `abortSignal`. A plain AbortSignal works too: the wait then ends when it aborts.
 */
export function deadlineSignal(deadlineAt: number, now: () => number = Date.now): AbortSignal {
  const signal = AbortSignal.timeout(Math.max(1, deadlineAt - now()));
  deadlines.set(signal, deadlineAt);
  return signal;
}

/** The deadline (epoch ms) `deadlineSignal` registered for `signal`, if any. */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal ? deadlines.get(signal) : undefined;
}

/**
 * A token bucket with reservations: a caller that finds no token takes the next one to come
 * and waits for it, so waiters are served in arrival order and the bucket never lends a token
 * twice. Time is `now()` (ms) and `setTimeout`, so fake timers drive it in tests.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly family: PacedFamily,
    readonly spec: BucketSpec,
    private readonly now: () => number = Date.now,
  ) {
    if (!(spec.capacity >= 1) || !(spec.refillPerSecond > 0)) {
      throw new RangeError(`${family}: a bucket needs a capacity of at least 1 and a positive refill rate`);
    }
    this.tokens = spec.capacity;
    this.updatedAt = now();
  }

  /** Tokens available now (negative: that many are reserved by waiting callers). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Take one token, waiting for it if need be. Resolves with the wait in ms. Rejects with
   * PacingDeadlineError, without taking a token, if `signal` has aborted or its deadline
   * (deadlineSignal) comes before the token; and, giving the token back, if `signal` aborts
   * during the wait.
   */
  async take(signal?: AbortSignal): Promise<number> {
    this.refill();
    const deadline = deadlineOf(signal);
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.spec.refillPerSecond) * 1000;
    if (signal?.aborted) throw new PacingDeadlineError(this.family, waitMs, deadline === undefined ? 0 : deadline - this.now());
    if (deadline !== undefined && this.now() + waitMs > deadline) {
      throw new PacingDeadlineError(this.family, waitMs, deadline - this.now());
    }
    this.tokens -= 1;
    if (waitMs === 0) return 0;
    try {
      await abortableSleep(waitMs, signal);
    } catch {
      this.tokens += 1;
      throw new PacingDeadlineError(this.family, waitMs, deadline === undefined ? 0 : deadline - this.now());
    }
    return waitMs;
  }

  private refill(): void {
    const at = this.now();
    const refilled = ((at - this.updatedAt) / 1000) * this.spec.refillPerSecond;
    this.tokens = Math.min(this.spec.capacity, this.tokens + refilled);
    this.updatedAt = at;
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** What one container's pacing has done, per family: for logs and the benchmark. */
export interface PacingStats {
  readonly calls: number;
  readonly waited: number;
  readonly totalWaitMs: number;
  readonly refused: number;
}

/** The buckets of one container, one per family that is not `off`. */
export class Pacer {
  private readonly buckets = new Map<PacedFamily, TokenBucket>();
  private readonly counts = new Map<PacedFamily, { calls: number; waited: number; totalWaitMs: number; refused: number }>();

  constructor(config: PacingConfig = DEFAULT_PACING, now: () => number = Date.now) {
    for (const family of PACED_FAMILIES) {
      const spec = config[family];
      if (spec !== 'off') this.buckets.set(family, new TokenBucket(family, spec, now));
    }
  }

  /** Wait for a token of `family` (no-op for an unpaced family); see TokenBucket.take. */
  async take(family: PacedFamily | undefined, signal?: AbortSignal): Promise<void> {
    const bucket = family && this.buckets.get(family);
    if (!family || !bucket) return;
    const count = this.counts.get(family) ?? { calls: 0, waited: 0, totalWaitMs: 0, refused: 0 };
    this.counts.set(family, count);
    count.calls += 1;
    try {
      const waited = await bucket.take(signal);
      if (waited > 0) {
        count.waited += 1;
        count.totalWaitMs += waited;
      }
    } catch (err) {
      count.refused += 1;
      throw err;
    }
  }

  stats(): Partial<Record<PacedFamily, PacingStats>> {
    return Object.fromEntries([...this.counts].map(([family, count]) => [family, { ...count }]));
  }
}

/** The abort signal the caller passed to `client.send(command, { abortSignal })`. */
function abortSignalOf(context: HandlerExecutionContext): AbortSignal | undefined {
  const smithy = (context as Record<string, unknown>)['__smithy_context'] as { abortSignal?: unknown } | undefined;
  const signal = smithy?.abortSignal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * The middleware that takes a token before every attempt of a paced call. It sits right after
 * the SDK's retry middleware, so each retry of a throttled call waits for a token of its own,
 * and before signing, so a long wait never sends a stale signature.
 */
export function pacingPlugin(pacer: Pacer, service: PacedService): Pluggable<object, MetadataBearer> {
  const middleware: FinalizeRequestMiddleware<object, MetadataBearer> =
    (next: FinalizeHandler<object, MetadataBearer>, context: HandlerExecutionContext) =>
    async (args: FinalizeHandlerArguments<object>): Promise<FinalizeHandlerOutput<MetadataBearer>> => {
      await pacer.take(familyOf(service, context.commandName ?? ''), abortSignalOf(context));
      return next(args);
    };
  return {
    applyToStack: (stack) => {
      stack.addRelativeTo(middleware, {
        name: 'spotResponderPacing',
        relation: 'after',
        toMiddleware: 'retryMiddleware',
        override: true,
      });
    },
  };
}

/**
 * Parse API_PACING: comma-separated `family=burst/perSecond` or `family=off`, e.g.
 * `elbv2-targets=20/4,auto-scaling=off`. Families left out keep DEFAULT_PACING's bucket.
 * Throws an Error naming the bad entry.
 */
export function parsePacing(text: string | undefined, defaults: PacingConfig = DEFAULT_PACING): PacingConfig {
  const config: Record<PacedFamily, BucketSpec | 'off'> = { ...defaults };
  if (!text || !text.trim()) return config;
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^([a-z0-9-]+)=(?:(off)|(\d+)\/(\d+(?:\.\d+)?))$/.exec(entry);
    const family = match?.[1] as PacedFamily | undefined;
    if (!match || !family || !(PACED_FAMILIES as readonly string[]).includes(family)) {
      throw new Error(
        `API pacing entry ${JSON.stringify(entry)} is not <family>=<burst>/<perSecond> or <family>=off ` +
          `with a family among ${PACED_FAMILIES.join(', ')}`,
      );
    }
    if (match[2]) {
      config[family] = 'off';
      continue;
    }
    const spec = { capacity: Number(match[3]), refillPerSecond: Number(match[4]) };
    if (spec.capacity < 1 || spec.refillPerSecond <= 0) {
      throw new Error(`API pacing entry ${JSON.stringify(entry)}: burst must be at least 1 and the rate above 0`);
    }
    config[family] = spec;
  }
  return config;
}

/** The inverse of parsePacing, for the construct to write the environment. */
export function formatPacing(config: PacingConfig): string {
  return PACED_FAMILIES.map((family) => {
    const spec = config[family];
    return spec === 'off' ? `${family}=off` : `${family}=${spec.capacity}/${spec.refillPerSecond}`;
  }).join(',');
}
