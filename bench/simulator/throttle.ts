// AWS's side of the token buckets: a request finds a token or is refused at once with the
// service's own throttling error. (The client side, lambda/aws/pacing.ts, waits instead.)
// Buckets per account and Region, as documented:
// - ELBv2: RegisterTargets/DeregisterTargets 20 / 4 per s, Describe* 40 / 10 per s, error
//   `Throttling` "Rate exceeded" (the Query API's code; the guide names it ThrottlingException).
//   https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html
// - EC2: non-mutating 100 / 20 per s, mutating 200 / 10 per s (terminations aside), error
//   `RequestLimitExceeded`. https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html
// - Auto Scaling: one shared bucket, size unpublished: configurable here, error `Throttling`.
// - ECS: per-action buckets; we model its documented default for the calls we make, 20 / 20.
// - DynamoDB: throttles on capacity, not requests: on-demand tables take what a wave sends
//   (ThrottlingException / ProvisionedThroughputExceededException are modelled only on demand).

/** A bucket: `capacity` tokens, refilled at `refillPerSecond`; never waits. */
export interface ServerBucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** The API families AWS meters, named as on the simulator's side. */
export type ServerFamily =
  | 'elbv2-targets'
  | 'elbv2-describe'
  | 'ec2-describe'
  | 'ec2-mutate'
  | 'auto-scaling'
  | 'ecs'
  | 'dynamodb';

export type ServerBuckets = Record<ServerFamily, ServerBucketSpec | 'unlimited'>;

/** The documented buckets (see the header); Auto Scaling's is our assumption, like the client's. */
export const DOCUMENTED_BUCKETS: ServerBuckets = {
  'elbv2-targets': { capacity: 20, refillPerSecond: 4 },
  'elbv2-describe': { capacity: 40, refillPerSecond: 10 },
  'ec2-describe': { capacity: 100, refillPerSecond: 20 },
  'ec2-mutate': { capacity: 200, refillPerSecond: 10 },
  'auto-scaling': { capacity: 20, refillPerSecond: 5 },
  ecs: { capacity: 20, refillPerSecond: 20 },
  dynamodb: 'unlimited',
};

/** The throttling error each service answers with: its code, HTTP status and message. */
export const THROTTLE_ERRORS: Record<ServerFamily, { code: string; status: number; message: string }> = {
  'elbv2-targets': { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  'elbv2-describe': { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  'ec2-describe': { code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' },
  'ec2-mutate': { code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' },
  'auto-scaling': { code: 'Throttling', status: 400, message: 'Rate exceeded' },
  ecs: { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' },
  dynamodb: { code: 'ThrottlingException', status: 400, message: 'Throughput exceeds the current capacity for one or more global secondary indexes.' },
};

/** An AWS-side bucket: take() answers whether a token was there, and takes it if so. */
export class ServerBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly spec: ServerBucketSpec,
    private readonly now: () => number,
  ) {
    this.tokens = spec.capacity;
    this.updatedAt = now();
  }

  take(): boolean {
    const at = this.now();
    this.tokens = Math.min(this.spec.capacity, this.tokens + ((at - this.updatedAt) / 1000) * this.spec.refillPerSecond);
    this.updatedAt = at;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The error the SDK would have deserialized from a throttled response. */
export class SimulatedServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId: string; attempts?: number };
  readonly Code: string;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, requestId: `sim-${Math.random().toString(16).slice(2, 10)}` };
  }
}

/** Refusals and admissions per family. */
export class Throttler {
  private readonly buckets = new Map<ServerFamily, ServerBucket>();
  readonly throttled: Partial<Record<ServerFamily, number>> = {};
  readonly admitted: Partial<Record<ServerFamily, number>> = {};

  constructor(specs: ServerBuckets, now: () => number) {
    for (const [family, spec] of Object.entries(specs) as [ServerFamily, ServerBucketSpec | 'unlimited'][]) {
      if (spec !== 'unlimited') this.buckets.set(family, new ServerBucket(spec, now));
    }
  }

  /** Forgets the counts (not the buckets' tokens): a benchmark counts from its start. */
  reset(): void {
    for (const counts of [this.throttled, this.admitted]) for (const key of Object.keys(counts)) delete counts[key as ServerFamily];
  }

  /** Throws the family's throttling error if its bucket is empty. */
  admit(family: ServerFamily): void {
    const bucket = this.buckets.get(family);
    if (bucket && !bucket.take()) {
      this.throttled[family] = (this.throttled[family] ?? 0) + 1;
      const { code, status, message } = THROTTLE_ERRORS[family];
      throw new SimulatedServiceError(code, status, message);
    }
    this.admitted[family] = (this.admitted[family] ?? 0) + 1;
  }
}
