// SDK clients for the responder and the index refresher, built once per container by the
// caller and injected into the adapters. Retries and timeouts are set on purpose: the whole
// response has 120 seconds, so a call must fail fast and retry briefly rather than sit in the
// SDK's default backoff (up to 20 s between attempts) or on a socket with no timeout.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import type { RetryErrorInfo, StandardRetryToken } from '@smithy/types';
import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import { DEFAULT_PACING, Pacer, type PacingConfig, pacingPlugin } from './pacing';

/**
 * - 5 attempts (1 call + 4 retries) with full-jitter exponential backoff from 100 ms: the
 *   retries wait at most 100 + 200 + 400 + 800 ms = 1.5 s in total; the 2 s cap only matters
 *   if someone raises the attempt count.
 * - connect within 1 s (same-region endpoints connect in milliseconds; a stuck SYN is better
 *   retried on a fresh socket) and finish each request within 5 s (throwOnRequestTimeout),
 *   so one hung call costs at most 5 s, not the rest of the deadline. Worst case, every
 *   attempt timing out: 5 x 5 s + 1.5 s = 26.5 s, still well inside 120 s; the responder's
 *   per-call abort signal cuts it shorter when the deadline is nearer.
 * - keep-alive sockets, so warm invocations skip the TCP and TLS handshakes.
 * Throttling is different (ThrottleRetryStrategy): a throttle says "not now", not "broken", so
 * a throttled call keeps trying, with the same backoff capped at 2 s, up to maxThrottledAttempts,
 * and the call's deadline (its abort signal) ends it first. Five attempts in 1.5 s give up while
 * the account's bucket still refills: in a wave, several containers pace themselves to the same
 * per-account bucket, and the wave benchmark (BENCHMARKS.md, section 5) saw a third of the
 * events fail with "Rate exceeded" on DeregisterTargets and DetachInstances, never retried
 * within their window. Retries still pass the client-side pacing first (pacing.ts), so a
 * container never sends faster than the bucket refills.
 */
export const AWS_CALL_POLICY = {
  maxAttempts: 5,
  maxThrottledAttempts: 60,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  connectionTimeoutMs: 1_000,
  requestTimeoutMs: 5_000,
  maxSockets: 50,
} as const;

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, ceiling). */
export function fullJitterDelay(
  attempt: number,
  random: () => number = Math.random,
  base: number = AWS_CALL_POLICY.baseDelayMs,
  cap: number = AWS_CALL_POLICY.maxDelayMs,
): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

export type Sleep = (ms: number) => Promise<void>;

export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The SDK's standard strategy with AWS_CALL_POLICY's attempts and full-jitter backoff, except for
 * throttling errors (as the SDK classifies them): those are retried up to maxThrottledAttempts
 * with the same backoff (capped at maxDelayMs), and draw nothing from the client's retry quota,
 * which exists to stop retry storms against a failing service, not against a bucket that
 * refills at a known rate (the client-side pacing already spaces the attempts). The SDK races
 * the wait with the call's abort signal, so the deadline ends a throttled call, not the count.
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 */
export class ThrottleRetryStrategy extends ConfiguredRetryStrategy {
  constructor(
    private readonly random: () => number = Math.random,
    private readonly wait: Sleep = sleep,
  ) {
    super(AWS_CALL_POLICY.maxAttempts, (attempt) => fullJitterDelay(attempt, random));
  }

  override async refreshRetryTokenForRetry(token: StandardRetryToken, errorInfo: RetryErrorInfo): Promise<StandardRetryToken> {
    if (errorInfo.errorType !== 'THROTTLING') return super.refreshRetryTokenForRetry(token, errorInfo);
    const retries = token.getRetryCount() + 1;
    if (retries >= AWS_CALL_POLICY.maxThrottledAttempts) throw new Error('No retry token available: throttled on every attempt');
    const delay = fullJitterDelay(retries, this.random);
    await this.wait(delay);
    const next: StandardRetryToken = { getRetryCount: () => retries, getRetryDelay: () => 0, getRetryCost: () => undefined };
    return Object.assign(next, { $retryLog: { acquisitionDelay: delay } });
  }
}

type Credentials = NonNullable<DynamoDBClientConfig['credentials']>;

export interface AwsClientOptions {
  region?: string;
  /** A local emulator (moto); every client talks to it. */
  endpoint?: string;
  credentials?: Credentials;
  /**
   * The client-side token buckets (pacing.ts), shared by every client built here: a Pacer to
   * read its stats or share it across createAwsClients calls, or a config to build one.
   * @default DEFAULT_PACING, AWS's documented buckets
   */
  pacing?: PacingConfig | Pacer;
  /**
   * Replaces the HTTP handler of every client: the wave simulator plugs in here.
   * @default a NodeHttpHandler with AWS_CALL_POLICY's timeouts and keep-alive sockets
   */
  requestHandler?: DynamoDBClientConfig['requestHandler'];
}

export interface AwsClients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  elbv2: ElasticLoadBalancingV2Client;
  ecs: ECSClient;
  /** SSM Run Command (graceful shutdown) and the doctor's DescribeInstanceInformation; not paced (aws/ssm.ts). */
  ssm: SSMClient;
  /** Document client: plain JS values, undefined attributes dropped. */
  dynamo: DynamoDBDocumentClient;
  /** The low-level client under `dynamo`, for table administration (the CLI's emulator setup). */
  dynamoRaw: DynamoDBClient;
}

/** What commonConfig gives every client (declared, so the package's .d.ts can name it). */
export interface CommonClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: Credentials;
  retryStrategy: ConfiguredRetryStrategy;
  requestHandler: NonNullable<DynamoDBClientConfig['requestHandler']>;
}

/** The retry, timeout and socket settings above, for a client of any service. */
export function commonConfig(opts: AwsClientOptions): CommonClientConfig {
  return {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Each client gets its own strategy: the retry quota it keeps is per client.
    retryStrategy: new ThrottleRetryStrategy(),
    requestHandler: opts.requestHandler ?? new NodeHttpHandler({
      connectionTimeout: AWS_CALL_POLICY.connectionTimeoutMs,
      requestTimeout: AWS_CALL_POLICY.requestTimeoutMs,
      throwOnRequestTimeout: true,
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: AWS_CALL_POLICY.maxSockets }),
      // Plain HTTP is only ever a local emulator endpoint.
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: AWS_CALL_POLICY.maxSockets }),
    }),
  };
}

/**
 * The clients of one container, built once (at cold start) and shared by every invocation,
 * as are their pacing buckets: the account's buckets do not reset per invocation either.
 */
export function createAwsClients(opts: AwsClientOptions = {}): AwsClients {
  const pacer = opts.pacing instanceof Pacer ? opts.pacing : new Pacer(opts.pacing ?? DEFAULT_PACING);
  const dynamoRaw = new DynamoDBClient(commonConfig(opts));
  const ec2 = new EC2Client(commonConfig(opts));
  ec2.middlewareStack.use(pacingPlugin(pacer, 'ec2'));
  const autoScaling = new AutoScalingClient(commonConfig(opts));
  autoScaling.middlewareStack.use(pacingPlugin(pacer, 'auto-scaling'));
  const elbv2 = new ElasticLoadBalancingV2Client(commonConfig(opts));
  elbv2.middlewareStack.use(pacingPlugin(pacer, 'elbv2'));
  return {
    ec2,
    autoScaling,
    elbv2,
    ecs: new ECSClient(commonConfig(opts)),
    ssm: new SSMClient(commonConfig(opts)),
    dynamo: DynamoDBDocumentClient.from(dynamoRaw, { marshallOptions: { removeUndefinedValues: true } }),
    dynamoRaw,
  };
}

export interface ErrorInfo {
  name: string;
  message: string;
  /** Worth trying again later: throttling, a 5xx, a timeout or a dropped connection. */
  retryable: boolean;
}

/** CancellationReason codes that say "not now" rather than "no": DynamoDB's own retryable set. */
export const TRANSIENT_CANCELLATION_CODES: ReadonlySet<string> = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
]);

/**
 * A write that collided with a running transaction: DynamoDB's error-handling guide lists it as
 * safe to retry, but the SDK's classification (shared by every service) does not know it.
 */
const TRANSACTION_CONFLICT = 'TransactionConflictException';

type SdkError = Parameters<typeof isTransientError>[0];

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  CancellationReasons?: Array<{ Code?: unknown }>;
}

/** What a record keeps of an error: its name, its message and whether a retry could help. */
export function errorInfo(err: unknown): ErrorInfo {
  if (typeof err !== 'object' || err === null) {
    return { name: 'UnknownError', message: String(err), retryable: false };
  }
  const e = err as SdkErrorShape;
  const name = typeof e.name === 'string' && e.name ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(err);
  return { name, message, retryable: isRetryable(name, e) };
}

/**
 * The SDK's own retry decision (@smithy/service-error-classification: throttling, transient
 * or a 5xx; whatever is not a client error), plus what only DynamoDB knows: a transaction
 * conflict, and a transaction cancelled for "not now" reasons alone.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
 */
function isRetryable(name: string, e: SdkErrorShape): boolean {
  // Our own deadline abort, or no token before it: trying again cannot beat a deadline that has passed.
  if (name === 'AbortError' || name === 'PacingDeadlineError') return false;
  const sdkError = e as SdkError;
  if (isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError)) return true;
  if (name === TRANSACTION_CONFLICT) return true;
  // A transaction cancelled only by conflicts or throttling (no failed condition) can succeed on retry.
  if (name === 'TransactionCanceledException' && Array.isArray(e.CancellationReasons)) {
    const codes = e.CancellationReasons.map((r) => r.Code).filter((c) => c !== undefined && c !== null && c !== 'None');
    return codes.length > 0 && codes.every((c) => typeof c === 'string' && TRANSIENT_CANCELLATION_CODES.has(c));
  }
  return false;
}
