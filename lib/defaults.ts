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
  /**
   * Observe until told to act: with the opt-out tag mode and every group in scope, a responder
   * that acted from its first deployment would change every Spot group of the region before
   * anyone has seen what it does. Synth warns while `mode` is unset, so an upgrade from a
   * version that always acted cannot go quiet unnoticed.
   */
  mode: DEFAULTS.mode,
  /** Any group of the stack's account and region: the tag mode, not IAM, decides which are managed. */
  autoScalingGroupNames: ['*'],
  /** Any target group of the stack's account and region, for the same reason. */
  targetGroupNames: ['*'],
  rebalanceAction: DEFAULTS.rebalanceAction,
  tagMode: DEFAULTS.tagMode,
  tagKey: DEFAULTS.tagKey,
  /** By name: tag conditions would refuse instances opted in by their own tag in an untagged group. */
  permissionScope: 'names' as const,
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
 * How long EventBridge keeps retrying delivery of each kind of event to its buffer queue (it
 * backs off exponentially, so the retry counts are sized to roughly fill each window).
 * - A warning is a race against the notice: late is useless, so it goes to the DLQ instead.
 * - A rebalance recommendation has no deadline, but its worth is being early; ten minutes
 *   on, the warning has usually overtaken it (or the risk has passed).
 * - A state change only adds to the history of an interruption, which is no race: it may
 *   wait out an hour of delivery trouble.
 * Once SQS holds the event, the queue's redrive policy (WARNING_BUFFER, STATE_CHANGE_BUFFER)
 * takes over; what the function still fails to handle lands in that queue's own DLQ.
 */
export const DELIVERY = {
  interruptionWarning: { retryAttempts: 4, maxEventAge: NOTICE },
  rebalanceRecommendation: { retryAttempts: 8, maxEventAge: Duration.minutes(10) },
  instanceStateChange: { retryAttempts: 24, maxEventAge: Duration.hours(1) },
} as const;

/** The handler gives up at the 120 s deadline; the margin lets it still write its record. */
export const RESPONDER_TIMEOUT = Duration.seconds(150);

/**
 * The queue that turns a wave of warnings (and rebalance recommendations) into batches, and
 * its event source mapping. The numbers, for the 120 s notice:
 * - batchSize 1,000: one batch merges the calls of its events (one DeregisterTargets per target
 *   group and chunk of 200, DetachInstances by 20), so the ELBv2 register/deregister bucket,
 *   20 per account refilling at 4 per second, is spent per target group and batch, not per
 *   instance. With batches of 100, a wave of 1,000 across 10 target groups is 10 batches and
 *   100 DeregisterTargets: the last one cannot go before (100 - 20) / 4 = 20 s, and the 5
 *   invocations of the second round wait for the first five to end (BENCHMARKS.md section 5:
 *   p99 to traffic stopped 26-86 s). With batches of 1,000 the same wave is one batch and 14
 *   DeregisterTargets, all within the burst (p99 under 4 s). The price: one invocation holds
 *   up to 1,000 events (its memory is measured in BENCHMARKS.md; its claims and heartbeat are
 *   merged writes, so its DynamoDB calls do not grow per event on the hot path), and a crashed
 *   invocation returns all of them to the queue. A smaller wave is not held back by it: the
 *   batch goes when the window closes. 1,000 SQS records are about 2 MB, within Lambda's 6 MB
 *   payload.
 * - maxBatchingWindow 1 s: a wave arrives over seconds, so one second gathers most of what is
 *   coming at the price of at most one second of the 120; Lambda also requires at least 1 s for
 *   a batch size above 10. Never more: every second waited is a second of traffic to a dying
 *   instance.
 * - maxConcurrency 5: up to 5 batches at a time. More invocations at once would only share the
 *   same per-account ELBv2 and Auto Scaling buckets (each container paces itself to the
 *   documented bucket, so N containers can spend up to N times the refill rate; the SDK's
 *   throttle retries absorb the rest, within the deadline): five batches spend at most about
 *   5 × 14 DeregisterTargets, which the bucket serves in about 12 s. Lambda's SQS pollers start
 *   at five concurrent batches anyway. The minimum Lambda accepts is 2.
 * - visibilityTimeout 180 s: Lambda requires it to be at least the function timeout (150 s);
 *   the 30 s above it cover the poller's delete of a batch that finished near the timeout. A
 *   retry after 180 s would be past a terminate warning's notice, so the handler shortens a
 *   failed message's visibility to 21 s (lambda/make-handler.ts): the full timeout applies only
 *   when the invocation itself dies.
 * - maxReceiveCount 3: the first attempt and two retries inside the notice; then the DLQ,
 *   replayable by hand (a too-late retry of a failed response answers failed again, so it
 *   still gets there).
 * - retentionPeriod 1 day: a warning not received in a day is history; the DLQ keeps 14 days.
 */
export const WARNING_BUFFER = {
  batchSize: 1_000,
  maxBatchingWindow: Duration.seconds(1),
  maxConcurrency: 5,
  visibilityTimeout: Duration.seconds(180),
  maxReceiveCount: 3,
  retentionPeriod: Duration.days(1),
} as const;

/**
 * The state changes' own queue. A scale-in of hundreds of instances makes hundreds of state
 * changes in a minute, none of which acts; on their own queue with a concurrency of 2 they can
 * never hold up a warning nor take the function's concurrency from one. They wait longer and
 * retry more than warnings: they only complete histories, which is no race.
 */
export const STATE_CHANGE_BUFFER = {
  batchSize: 100,
  maxBatchingWindow: Duration.seconds(1),
  maxConcurrency: 2,
  visibilityTimeout: Duration.seconds(180),
  maxReceiveCount: 5,
  retentionPeriod: Duration.days(1),
} as const;

/**
 * When a buffer's oldest message is this old, events are waiting instead of being handled.
 * Warnings: 30 s is a quarter of the notice gone before the handling even starts. State
 * changes: 10 minutes, since they may wait (a sustained backlog still needs a look).
 */
export const BUFFER_AGE_ALARM = {
  warnings: Duration.seconds(30),
  stateChanges: Duration.minutes(10),
} as const;

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

// The drill (lib/drill.ts): an FIS experiment template, opt-in.
/** FIS's default quota of Spot instances one experiment may target (L-F3F4B54A). */
export const FIS_SPOT_TARGETS_PER_EXPERIMENT = 5;

export const DRILL_DEFAULTS = {
  /** A key of its own, so the drill never picks instances by the responder's opt-out tag. */
  tagKey: 'spot-responder:drill',
  tagValue: 'true',
  /** EC2's real notice is two minutes; FIS accepts 2 to 15. */
  durationBeforeInterruption: Duration.minutes(2),
  instancesPerExperiment: FIS_SPOT_TARGETS_PER_EXPERIMENT,
} as const;
