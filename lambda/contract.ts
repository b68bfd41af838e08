// The contract between the construct, the two functions and the CLI: every environment
// variable name and every default, spelled once. Plain data with no import, so the CDK code,
// the Lambda bundles and the CLI can all share it without pulling in each other's weight.
// The construct sets every variable, defaults included (see lib/functions.ts); the loaders in
// lambda/config.ts fall back on these defaults only when the functions run outside it.

/** What a rebalance recommendation triggers: `record` only records it; `replace` acts on it like a warning. */
export const REBALANCE_ACTIONS = ['record', 'replace'] as const;
export type RebalanceAction = (typeof REBALANCE_ACTIONS)[number];

/** `opt-out`: act unless the tag says off/false/disabled; `opt-in`: act only if it says on/true/enabled. */
export const TAG_MODES = ['opt-out', 'opt-in'] as const;
export type TagMode = (typeof TAG_MODES)[number];

/**
 * `observe`: claim, look up, plan and record what the responder would do, and change nothing in
 * the fleet (every mutating call is answered 'planned', unsent; the role has no permission to
 * make one). `act`: do it.
 */
export const RESPONSE_MODES = ['observe', 'act'] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** The log levels the functions' Powertools logger takes (POWERTOOLS_LOG_LEVEL). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The environment variables of the responder function (the one EventBridge rules invoke). */
export const RESPONDER_ENV = {
  /** Name of the records table. Required. */
  tableName: 'TABLE_NAME',
  /** Accounts whose events are acted on: comma-separated 12-digit ids, or `*`. Required. */
  acceptedAccounts: 'ACCEPTED_ACCOUNTS',
  /** Regions whose events are acted on: comma-separated region names, or `*`. Required. */
  acceptedRegions: 'ACCEPTED_REGIONS',
  /** Days (whole, positive) an event record lives before DynamoDB's TTL removes it. */
  recordRetentionDays: 'RECORD_RETENTION_DAYS',
  /** One of RESPONSE_MODES. */
  mode: 'RESPONSE_MODE',
  /** One of REBALANCE_ACTIONS. */
  rebalanceAction: 'REBALANCE_ACTION',
  /** One of TAG_MODES. */
  tagMode: 'TAG_MODE',
  /** The instance or Auto Scaling group tag key the tag mode reads. */
  tagKey: 'TAG_KEY',
  /** ECS cluster names or ARNs, comma-separated; empty turns ECS draining off. */
  ecsClusters: 'ECS_CLUSTERS',
  /**
   * The Auto Scaling group name patterns IAM lets the function act on (IAM wildcards `*`, `?`),
   * as a JSON array of strings (a group name may hold a comma). Unset: `["*"]`.
   */
  autoScalingGroupNames: 'AUTO_SCALING_GROUP_NAMES',
  /** The target group name patterns IAM lets it deregister from, as a JSON array. Unset: `["*"]`. */
  targetGroupNames: 'TARGET_GROUP_NAMES',
  /**
   * Client-side token buckets per API family (lambda/aws/pacing.ts): comma-separated
   * `family=burst/perSecond` or `family=off`; families left out keep their default.
   */
  apiPacing: 'API_PACING',
  /**
   * Minutes between index refreshes (the refresher's INDEX_REFRESH_MINUTES): the responder judges
   * index entries expired after three, so both functions must hold the same value.
   */
  indexRefreshMinutes: 'INDEX_REFRESH_MINUTES',
  /**
   * The SQS queue ARNs whose records the responder answers (its warning and state-change queues),
   * comma-separated; input from anywhere else, a direct invocation included, is recorded as a
   * rejection and not acted on (lambda/events/delivery.ts). Unset: every source is answered (the
   * function runs outside the construct, which always sets it).
   */
  acceptedQueueArns: 'ACCEPTED_QUEUE_ARNS',
} as const;

/** The environment variables of the index refresher function (run on a schedule). */
export const INDEX_REFRESHER_ENV = {
  /** Name of the records table, which also holds the index. Required. */
  tableName: 'TABLE_NAME',
  /** Minutes (whole, 1 to 60) between scheduled refreshes; index entries expire after three. */
  refreshMinutes: 'INDEX_REFRESH_MINUTES',
  /** ELBv2 Describe* calls per second (whole, 1 to 10) the refresher allows itself. */
  describeCallsPerSecond: 'INDEX_DESCRIBE_CALLS_PER_SECOND',
} as const;

/** Read by Powertools (logger and metrics) in both functions. */
export const POWERTOOLS_ENV = {
  /** The namespace of every metric (always METRICS.namespace: the dashboard and alarms read it there). */
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  /** The `service` field of every log line. */
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** One of LOG_LEVELS. */
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** Read by the `spot-responder` CLI. */
export const CLI_ENV = {
  /** The records table the CLI reads and writes when `--table` is not given. */
  tableName: 'SPOT_RESPONDER_TABLE',
} as const;

/**
 * The defaults shared by the construct's props, the context keys and the functions' loaders.
 * Units are in the names.
 */
export const DEFAULTS = {
  /** An event record lives 90 days: long enough for a quarter's post-mortems, short of a growing bill. */
  recordRetentionDays: 90,
  /** The index is rebuilt every 5 minutes, so a new registration is missed for at most that long. */
  indexRefreshMinutes: 5,
  /** The account's ELBv2 Describe bucket refills at about 10 per second; 4 leaves the rest to others. */
  indexDescribeCallsPerSecond: 4,
  /**
   * A new deployment only observes (records what it would do, changes nothing) until it is told
   * to act: on the first day nobody knows yet which groups it would touch. See the README's Deploy.
   */
  mode: 'observe',
  /** A rebalance recommendation is only recorded: it is often a false alarm, and replacing costs. */
  rebalanceAction: 'record',
  /** Every instance is managed unless tagged off, so installing the responder is enough. */
  tagMode: 'opt-out',
  /** The tag key the tag mode reads, named after the project so it cannot clash with a team's own. */
  tagKey: 'spot-responder',
  /** INFO logs one line per decision and per AWS call that changes something; DEBUG adds every read. */
  logLevel: 'INFO',
  /** The Powertools service name of both functions and of the CLI's logs. */
  serviceName: 'spot-responder',
  /** AWS's documented buckets (ELBv2, EC2) and a cautious guess for Auto Scaling, which publishes none. */
  apiPacing: 'elbv2-targets=20/4,elbv2-describe=40/10,ec2-describe=100/20,auto-scaling=20/5',
  /** The CLI's table when neither `--table` nor SPOT_RESPONDER_TABLE is set (the emulator's table). */
  cliTableName: 'spot-responder',
} as const;

/**
 * The functions' CloudWatch metrics, emitted as EMF log lines by Powertools Metrics
 * (lambda/response/metrics.ts) and read by the construct's dashboard and alarms (lib/dashboard.ts,
 * lib/alarms.ts). Every metric carries the dimension `service` = DEFAULTS.serviceName; units are
 * in the names' descriptions.
 */
export const METRICS = {
  /** The CloudWatch namespace (POWERTOOLS_METRICS_NAMESPACE of both functions). */
  namespace: 'SpotResponder',
  dimensions: {
    service: 'service',
    /** spot-interruption-warning, rebalance-recommendation, instance-state-change, or unidentified. */
    signal: 'signal',
    /** One of OUTCOMES. */
    outcome: 'outcome',
    /** One of SKIP_KINDS. */
    skipKind: 'skipKind',
  },
  names: {
    /** Count, one per closed record, dimensions service + signal + outcome. */
    responses: 'Responses',
    /** Count, one per skipped record, dimensions service + skipKind. */
    skips: 'Skips',
    /** Milliseconds from the signal's time to the last deregistration returning (traffic-stopped). */
    timeToTrafficStopped: 'TimeToTrafficStopped',
    /** Milliseconds left before the deadline when a response finished; negative when late. */
    timeLeftAtFinish: 'TimeLeftAtFinish',
    /** Milliseconds from the warning to the instance stopping or shutting down (real notice). */
    noticeLength: 'NoticeLength',
    /** Milliseconds from the signal to the replacement first seen in the group. */
    replacementLag: 'ReplacementLag',
    /** Count of AWS call attempts answered with a throttling error (retried or not). */
    throttles: 'Throttles',
    /** Seconds: age of the target index a response read (its refreshedAt to the response). */
    indexAgeAtResponse: 'IndexAgeAtResponse',
    /** Seconds: age of a new index snapshot when its write completes (scan start to written). */
    indexAge: 'IndexAge',
    /** Count, one per completed index refresh; the stale-index alarm watches it. */
    indexRefreshes: 'IndexRefreshes',
    /** Count, one per input refused for its source (not the responder's queues), dimension service. */
    rejectedDeliveries: 'RejectedDeliveries',
  },
} as const;

/** Every response outcome, as the metrics' `outcome` dimension spells it. */
export const OUTCOMES = ['handled', 'observed', 'duplicate', 'skipped', 'rejected', 'failed', 'in-progress', 'abandoned'] as const;

/** Every skip kind, as the metrics' `skipKind` dimension spells it (see core/model.ts SkipKind). */
export const SKIP_KINDS = [
  'too-late',
  'record-only',
  'unknown-instance',
  'already-terminated',
  'excluded-by-tag',
  'not-opted-in',
  'out-of-scope',
  'launch-suspended',
  'no-group',
  'capacity-rebalancing',
  'nothing-to-do',
  'not-acted-on',
] as const;

/** Optional environment variables of the responder, set by the construct only when the feature is on. */
export const SIGNALS_ENV = {
  /** ARN of the SNS topic the responder notifies; unset: no notifications. */
  notificationTopicArn: 'NOTIFICATION_TOPIC_ARN',
  /** Name of the graceful-shutdown SSM document; unset: graceful shutdown is off. */
  shutdownDocument: 'SHUTDOWN_DOCUMENT',
  /**
   * The command instances without a `<TAG_KEY>:shutdown` tag get: `unit:<systemd unit>` or
   * `script:<absolute path>`; unset or empty: only tagged instances get one.
   */
  shutdownCommand: 'SHUTDOWN_COMMAND',
} as const;
