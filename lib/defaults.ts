// Every default of the construct, and why. The defaults the functions share (retention, refresh
// interval, tag, rebalance action, log level) come from the contract, lambda/contract.ts, so
// the construct and the functions cannot drift apart; the rest are the construct's own.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DEFAULTS } from '../lambda/contract';

/** EC2 warns two minutes ahead; after that there is nothing left to drain or detach. */
export const NOTICE = Duration.minutes(2);

/** The defaults of SpotResponderProps (each documented on its prop). */
export const SPOT_RESPONDER_DEFAULTS = {
  /** Any group of the stack's account and region: the tag mode, not IAM, decides which are managed. */
  autoScalingGroupNames: ['*'],
  /** Any target group of the stack's account and region, for the same reason. */
  targetGroupNames: ['*'],
  rebalanceAction: DEFAULTS.rebalanceAction,
  tagMode: DEFAULTS.tagMode,
  tagKey: DEFAULTS.tagKey,
  recordRetentionDays: DEFAULTS.recordRetentionDays,
  indexRefreshInterval: Duration.minutes(DEFAULTS.indexRefreshMinutes),
  indexDescribeCallsPerSecond: DEFAULTS.indexDescribeCallsPerSecond,
  /** Without a deploy-time run, the index is empty until the first scheduled refresh. */
  refreshIndexOnDeploy: true,
  logLevel: DEFAULTS.logLevel,
  /** A month of logs covers the investigation of any interruption the alarms report. */
  logRetention: logs.RetentionDays.ONE_MONTH,
  /** The records are the history of every interruption: keep them unless told otherwise. */
  removalPolicy: RemovalPolicy.RETAIN,
  /** Operators look at one page first; a dashboard costs little (the first three per account are free). */
  dashboard: true,
  /**
   * Pinned, not NODEJS_LATEST: the runtime moves deliberately, after the tests ran on it, not
   * whenever a CDK upgrade changes what "latest" means. Lambda announced Node.js 22's
   * deprecation for 2027: set `runtime` to NODEJS_24_X (or later) to move on before that.
   */
  runtime: lambda.Runtime.NODEJS_22_X,
  /**
   * 512 MB: Lambda allots CPU in proportion to memory, and the cold start (loading the bundled
   * SDK clients) is CPU-bound; BENCHMARKS.md has the cold-start figures. The functions need far
   * less memory than this for their data.
   */
  memorySize: 512,
} as const;

/** The oldest Node.js major version the bundle and the code support (the runtime prop's floor). */
export const MIN_NODE_MAJOR = 22;

/**
 * How long EventBridge keeps retrying delivery of each kind of event to the responder (it
 * backs off exponentially, so the retry counts are sized to roughly fill each window).
 * - A warning is a race against the notice: late is useless, so it goes to the DLQ instead.
 * - A rebalance recommendation has no deadline, but its worth is being early; ten minutes
 *   on, the warning has usually overtaken it (or the risk has passed).
 * - A state change only adds to the history of an interruption, which is no race: it may
 *   wait out an hour of delivery trouble.
 * Once Lambda has accepted an event, the function's own async settings (RESPONDER_ASYNC)
 * take over; what still fails lands in the DLQ, replayable.
 */
export const DELIVERY = {
  interruptionWarning: { retryAttempts: 4, maxEventAge: NOTICE },
  rebalanceRecommendation: { retryAttempts: 8, maxEventAge: Duration.minutes(10) },
  instanceStateChange: { retryAttempts: 24, maxEventAge: Duration.hours(1) },
} as const;

/**
 * The responder's async invocation settings, for every kind of event. A handler error is
 * Lambda's to retry, not EventBridge's. Lambda retries an async event about a minute after a
 * failure, so one retry can still land inside the notice (the handler is idempotent per event
 * and per warning); later ones cannot. Events that still fail, or outlive the notice in the
 * queue, go to the DLQ for the record.
 */
export const RESPONDER_ASYNC = { retryAttempts: 1, maxEventAge: NOTICE } as const;

/** The handler gives up at the 120 s deadline; the margin lets it still write its record. */
export const RESPONDER_TIMEOUT = Duration.seconds(150);

/** Finish (or be stopped) before the next scheduled run is due: 80% of the interval, at most 15 minutes. */
export function indexRefresherTimeout(refreshMinutes: number): Duration {
  return Duration.seconds(Math.min(900, Math.floor(refreshMinutes * 60 * 0.8)));
}

/** EventBridge's retries of a scheduled refresh; a refresh older than one interval is superseded anyway. */
export const INDEX_REFRESH_SCHEDULE_RETRY_ATTEMPTS = 2;

/** SQS's longest retention, so a dead-lettered event can still be replayed after a long weekend and more. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/**
 * The operator alarms' thresholds (lib/alarms.ts).
 * - The index is stale once no refresh completed for three intervals: its entries expire then
 *   (lambda/aws/target-index.ts), so warnings lose every registration outside the groups' own.
 * - Throttled AWS call attempts (retried ones included) in five minutes: a few are absorbed by
 *   the retries; ten in five minutes means the account's buckets are running dry (a mass
 *   reclaim, or another tool sharing the ELBv2 describe bucket) and responses slow down.
 */
export const OPERATOR_ALARMS = {
  staleIndexRefreshIntervals: 3,
  throttledAttempts: 10,
  throttlePeriod: Duration.minutes(5),
} as const;
