// The construct's public props, and the one function that applies their defaults and checks
// them. Every default comes from lib/defaults.ts; the rest of the construct reads only the
// resolved, validated values.
import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { PERMISSION_SCOPES, type PermissionScope } from './permissions';
import {
  REBALANCE_ACTIONS,
  RESPONSE_MODES,
  TAG_MODES,
  type LogLevel,
  type RebalanceAction,
  type ResponseMode,
  type TagMode,
} from '../lambda/contract';
import { MIN_NODE_MAJOR, SPOT_RESPONDER_DEFAULTS, WARNING_BUFFER } from './defaults';
import type { SpotDrillProps } from './drill';
import type { GracefulShutdownProps } from './graceful-shutdown';
import { parseShutdownCommand, type ShutdownCommand } from '../lambda/core/shutdown';
import {
  SpotResponderConfigError,
  checkAccounts,
  checkAutoScalingGroupNames,
  checkEcsClusters,
  checkIntegerInRange,
  checkLogLevel,
  checkMemorySize,
  checkNodeRuntime,
  checkOneOf,
  checkRegions,
  checkTagKey,
  checkTargetGroupNames,
  isClusterArn,
} from './validation';

export interface SpotResponderProps {
  /**
   * `'observe'`: on every warning the responder claims, looks up, plans and records what it
   * would do (`spot-responder history` shows it: outcome `observed`, actions `planned`) and
   * changes nothing; its role has no permission to deregister, detach, terminate or drain.
   * `'act'`: it does it. Start with `'observe'`, read the history, then narrow with `tagMode`
   * `'opt-in'` and switch to `'act'` (README: Deploy).
   * @default 'observe' - and synth warns (`spot-responder:mode-defaulted`) until it is set
   */
  readonly mode?: ResponseMode;

  /**
   * Accounts whose interruption warnings the responder acts on; `'*'` accepts any account.
   * Events from other accounts are rejected by the handler. The function's role can act only
   * in the stack's own account and region, whatever this says.
   * @default - the stack's own account
   */
  readonly acceptedAccounts?: string[] | '*';

  /**
   * Regions whose interruption warnings the responder acts on; `'*'` accepts any region.
   * @default - the stack's own region
   */
  readonly acceptedRegions?: string[] | '*';

  /**
   * Names of the Auto Scaling groups the responder may detach instances from, in this account
   * and region. IAM wildcards (`*`, `?`) are allowed; each name becomes one group ARN in the
   * policy, so `['*']` still means "groups of this account and region", never any resource.
   * @default ['*']
   */
  readonly autoScalingGroupNames?: string[];

  /**
   * Names of the ELBv2 target groups the responder may deregister instances from, in this
   * account and region. IAM wildcards (`*`, `?`) are allowed.
   * @default ['*']
   */
  readonly targetGroupNames?: string[];

  /**
   * What the responder does on an EC2 Instance Rebalance Recommendation: `'record'` only
   * records it; `'replace'` treats it like an early interruption warning (drain, then detach
   * or terminate in the Auto Scaling group, which launches a replacement).
   * @default 'record'
   */
  readonly rebalanceAction?: RebalanceAction;

  /**
   * Which instances the responder may act on, decided by the `tagKey` tag on the instance or
   * its Auto Scaling group. `'opt-out'`: every instance except those tagged off/false/disabled;
   * `'opt-in'`: only instances tagged on/true/enabled.
   * @default 'opt-out'
   */
  readonly tagMode?: TagMode;

  /**
   * The tag key `tagMode` reads. 1 to 128 characters, not starting with `aws:`.
   * @default 'spot-responder'
   */
  readonly tagKey?: string;

  /**
   * How far the responder's mutating permissions (DetachInstances,
   * TerminateInstanceInAutoScalingGroup, DeregisterTargets) reach. `'names'`: the groups and
   * target groups `autoScalingGroupNames` / `targetGroupNames` name. `'tagged'`: those, and only
   * if the group or target group itself carries `tagKey` = on/true/enabled/yes (an IAM
   * `aws:ResourceTag` condition, any case), so IAM refuses what was not opted in whatever an
   * event says. Pair it with `tagMode: 'opt-in'` and tag groups AND their target groups: an
   * instance opted in by its own tag inside an untagged group is refused (AccessDenied, a failed
   * response). ECS draining stays limited by `ecsClusters`.
   * @default 'names'
   */
  readonly permissionScope?: PermissionScope;

  /**
   * ECS clusters (names, or full cluster ARNs in the stack's account and region) in which the
   * responder looks for the interrupted instance and sets its container instance to DRAINING.
   * The function's role gets ECS permissions on these clusters only, and none when empty.
   * A token (such as `cluster.clusterName`) is taken as a cluster name, not an ARN.
   * @default [] - ECS draining off
   */
  readonly ecsClusters?: string[];

  /**
   * Days an event record stays in the table before DynamoDB's TTL removes it.
   * @default 90
   */
  readonly recordRetentionDays?: number;

  /**
   * How often the index refresher rebuilds the instance-to-target-group index.
   * Whole minutes, from 1 to 60.
   * @default Duration.minutes(5)
   */
  readonly indexRefreshInterval?: Duration;

  /**
   * ELBv2 Describe* calls per second the index refresher allows itself. The account's
   * Describe bucket refills at about 10 per second and is shared with everything else
   * that reads ELBv2 (consoles, controllers, Terraform), so leave headroom. 1 to 10.
   * @default 4
   */
  readonly indexDescribeCallsPerSecond?: number;

  /**
   * Run the index refresher once at the end of every deployment that creates or changes it,
   * so the index is complete from the start instead of after the first scheduled refresh.
   * @default true
   */
  readonly refreshIndexOnDeploy?: boolean;

  /**
   * Log level of both functions (POWERTOOLS_LOG_LEVEL).
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * How long the functions' log groups keep their logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The bus the responder rules listen on. EC2 delivers its instance events to the default
   * bus of the instance's account and region only; a custom bus sees them only if something
   * forwards them there.
   * @default - the default event bus
   */
  readonly eventBus?: events.IEventBus;

  /**
   * Customer managed KMS key for the table.
   * @default - the AWS managed key for DynamoDB (aws/dynamodb)
   */
  readonly tableEncryptionKey?: kms.IKey;

  /**
   * What happens to the table and the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Topic that every alarm notifies when it goes into ALARM.
   * @default - the alarms have no actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * An SNS topic that gets one message per handled interruption and per failed or rejected
   * event (instance, group, outcome, time to traffic stopped, reason), for e-mail, chat or
   * HTTPS subscribers. `true` creates one (encrypted with the AWS managed key alias/aws/sns,
   * TLS-only); a topic of yours is used as is (the responder is granted sns:Publish, and
   * kms:GenerateDataKey/Decrypt on its key when the topic object carries one).
   * @default - no notifications
   */
  readonly notificationTopic?: true | sns.ITopic;

  /**
   * A CloudWatch dashboard of the responder's metrics, alarms and functions.
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * An AWS FIS experiment template that sends real Spot interruption notices to running Spot
   * instances carrying the drill tag (lib/drill.ts), for `spot-responder drill`. `true` takes
   * every default: tag `spot-responder:drill=true`, 5 instances per experiment (FIS's quota),
   * two minutes' notice, no stop condition.
   * @default - no drill
   */
  readonly drill?: true | SpotDrillProps;

  /**
   * Graceful shutdown on the instance: an SSM Run Command document the responder sends to each
   * warned instance (terminate and stop warnings; SSM-managed instances only) in the same round
   * as its deregistrations: stop a systemd unit (SIGTERM) or run your script with the seconds
   * left. `{ systemdUnit }` / `{ script }` is the command for every instance; `true` sends only
   * to instances (or groups) tagged `<tagKey>:shutdown` = `unit:<name>` / `script:<path>`; that
   * tag overrides the default, and `off` opts an instance out. The record gets the command id and
   * `shutdown-command-sent`, then `shutdown-command-finished` with SSM's final status.
   * @default - off: no document, no permission, nothing sent
   */
  readonly gracefulShutdown?: true | GracefulShutdownProps;

  /**
   * The Lambda runtime of both functions: a Node.js runtime, 22 or later (`lambda.Runtime.NODEJS_22_X`,
   * `NODEJS_24_X` ...). The bundle is built for the same Node.js version. Move on after testing,
   * before Lambda deprecates the current one (Node.js 22: announced for 2027).
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;

  /**
   * Memory of both functions, in MB (128 to 10240). Lambda gives CPU and network in proportion,
   * so it also sets how fast the cold start and the hot path are.
   * @default 512
   */
  readonly memorySize?: number;

  // --- The warning queue's event source mapping (lib/delivery.ts; defaults and reasons in
  // --- lib/defaults.ts WARNING_BUFFER).

  /**
   * Warnings and rebalance recommendations per invocation, 1 to 10,000. One batch merges its
   * events' AWS calls; a larger batch saves calls (above all the per-account DeregisterTargets
   * bucket's) but holds more events per invocation. Above 10, `maxBatchingWindow` must be 1
   * second (a Lambda rule). See WARNING_BUFFER in lib/defaults.ts for the numbers.
   * @default 1000
   */
  readonly batchSize?: number;

  /**
   * How long the queue's poller gathers a batch before invoking: 0 or 1 second (Lambda counts
   * whole seconds, and every second waited is a second of the two-minute notice).
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Invocations handling warnings at once, 2 to 1,000 (the event source mapping's
   * MaximumConcurrency). Each invocation paces its calls to the account's documented API
   * buckets, so more concurrency mostly means more throttling, not more speed.
   * @default 5
   */
  readonly maxConcurrency?: number;
}

/** SpotResponderProps with every default applied and every value checked. */
export interface ResolvedSpotResponderProps {
  readonly mode: ResponseMode;
  /** The deployer left `mode` unset (the construct warns at synth). */
  readonly modeDefaulted: boolean;
  readonly acceptedAccounts: string[] | '*';
  readonly acceptedRegions: string[] | '*';
  readonly autoScalingGroupNames: string[];
  readonly targetGroupNames: string[];
  readonly rebalanceAction: RebalanceAction;
  readonly tagMode: TagMode;
  readonly tagKey: string;
  readonly permissionScope: PermissionScope;
  readonly ecsClusters: string[];
  readonly recordRetentionDays: number;
  /** Whole minutes, 1 to 60. */
  readonly indexRefreshMinutes: number;
  readonly indexDescribeCallsPerSecond: number;
  readonly refreshIndexOnDeploy: boolean;
  readonly logLevel: LogLevel;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly eventBus?: events.IEventBus;
  readonly tableEncryptionKey?: kms.IKey;
  readonly alarmTopic?: sns.ITopic;
  readonly notificationTopic?: true | sns.ITopic;
  readonly dashboard: boolean;
  /** Absent: off; else the default command (none: tagged instances only). */
  readonly gracefulShutdown?: { readonly defaultCommand?: ShutdownCommand };
  readonly runtime: lambda.Runtime;
  /** MB, 128 to 10240. */
  readonly memorySize: number;
  readonly warningBatching: { batchSize: number; maxBatchingWindow: Duration; maxConcurrency: number };
}

/**
 * Apply the defaults to `props` and check every value for `stack`. Throws
 * SpotResponderConfigError, naming the prop, on the first bad one.
 */
export function resolveSpotResponderProps(stack: Stack, props: SpotResponderProps): ResolvedSpotResponderProps {
  const defaults = SPOT_RESPONDER_DEFAULTS;
  const resolved = {
    mode: props.mode ?? defaults.mode,
    modeDefaulted: props.mode === undefined,
    acceptedAccounts: props.acceptedAccounts ?? [stack.account],
    acceptedRegions: props.acceptedRegions ?? [stack.region],
    autoScalingGroupNames: props.autoScalingGroupNames ?? [...defaults.autoScalingGroupNames],
    targetGroupNames: props.targetGroupNames ?? [...defaults.targetGroupNames],
    recordRetentionDays: props.recordRetentionDays ?? defaults.recordRetentionDays,
    indexDescribeCallsPerSecond: props.indexDescribeCallsPerSecond ?? defaults.indexDescribeCallsPerSecond,
    refreshIndexOnDeploy: props.refreshIndexOnDeploy ?? defaults.refreshIndexOnDeploy,
    logLevel: props.logLevel ?? defaults.logLevel,
    logRetention: props.logRetention ?? defaults.logRetention,
    removalPolicy: props.removalPolicy ?? defaults.removalPolicy,
    rebalanceAction: props.rebalanceAction ?? defaults.rebalanceAction,
    tagMode: props.tagMode ?? defaults.tagMode,
    tagKey: props.tagKey ?? defaults.tagKey,
    permissionScope: props.permissionScope ?? defaults.permissionScope,
    ecsClusters: props.ecsClusters ?? [],
    eventBus: props.eventBus,
    tableEncryptionKey: props.tableEncryptionKey,
    alarmTopic: props.alarmTopic,
    notificationTopic: props.notificationTopic,
    dashboard: props.dashboard ?? defaults.dashboard,
    runtime: props.runtime ?? defaults.runtime,
    memorySize: props.memorySize ?? defaults.memorySize,
  };
  checkAccounts('SpotResponderProps.acceptedAccounts', resolved.acceptedAccounts);
  checkRegions('SpotResponderProps.acceptedRegions', resolved.acceptedRegions);
  checkAutoScalingGroupNames('SpotResponderProps.autoScalingGroupNames', resolved.autoScalingGroupNames);
  checkTargetGroupNames('SpotResponderProps.targetGroupNames', resolved.targetGroupNames);
  checkIntegerInRange('SpotResponderProps.recordRetentionDays', resolved.recordRetentionDays, 1, 3650);
  checkIntegerInRange('SpotResponderProps.indexDescribeCallsPerSecond', resolved.indexDescribeCallsPerSecond, 1, 10);
  checkLogLevel('SpotResponderProps.logLevel', resolved.logLevel);
  checkOneOf('SpotResponderProps.mode', resolved.mode, RESPONSE_MODES);
  checkOneOf('SpotResponderProps.rebalanceAction', resolved.rebalanceAction, REBALANCE_ACTIONS);
  checkOneOf('SpotResponderProps.tagMode', resolved.tagMode, TAG_MODES);
  checkOneOf('SpotResponderProps.permissionScope', resolved.permissionScope, PERMISSION_SCOPES);
  checkTagKey('SpotResponderProps.tagKey', resolved.tagKey);
  checkEcsClusters('SpotResponderProps.ecsClusters', resolved.ecsClusters);
  checkClustersInStackEnv('SpotResponderProps.ecsClusters', stack, resolved.ecsClusters);
  checkNodeRuntime('SpotResponderProps.runtime', resolved.runtime.name, MIN_NODE_MAJOR);
  checkMemorySize('SpotResponderProps.memorySize', resolved.memorySize);
  const indexRefreshInterval = props.indexRefreshInterval ?? defaults.indexRefreshInterval;
  return {
    ...resolved,
    ...resolveGracefulShutdown(props.gracefulShutdown),
    warningBatching: resolveWarningBatching(props),
    indexRefreshMinutes: wholeMinutes('SpotResponderProps.indexRefreshInterval', indexRefreshInterval),
  };
}

/**
 * The role can act only in its own account and region, and the function calls ECS in its own
 * region: a cluster ARN elsewhere would fail on every interruption. Checked when the stack's
 * environment is known at synth; an environment-agnostic stack can only document it.
 */
function checkClustersInStackEnv(label: string, stack: Stack, clusters: readonly string[]): void {
  for (const cluster of clusters.filter(isClusterArn)) {
    const { account, region } = Arn.split(cluster, ArnFormat.SLASH_RESOURCE_NAME);
    const foreignAccount = !Token.isUnresolved(stack.account) && account !== stack.account;
    const foreignRegion = !Token.isUnresolved(stack.region) && region !== stack.region;
    if (foreignAccount || foreignRegion) {
      throw new SpotResponderConfigError(
        `${label}: ${JSON.stringify(cluster)} is not in the stack's account and region (${stack.account}, ${stack.region})`,
      );
    }
  }
}

/** The default command of `gracefulShutdown`, checked against the document's own patterns. */
function resolveGracefulShutdown(value: SpotResponderProps['gracefulShutdown']): Pick<ResolvedSpotResponderProps, 'gracefulShutdown'> {
  if (value === undefined) return {};
  if (value === true) return { gracefulShutdown: {} };
  const label = 'SpotResponderProps.gracefulShutdown';
  const { systemdUnit, script } = value;
  if (systemdUnit !== undefined && script !== undefined) {
    throw new SpotResponderConfigError(`${label}: set systemdUnit or script, not both`);
  }
  const text = systemdUnit !== undefined ? `unit:${systemdUnit}` : script !== undefined ? `script:${script}` : undefined;
  if (text === undefined) return { gracefulShutdown: {} };
  const parsed = parseShutdownCommand(text);
  if ('problem' in parsed) throw new SpotResponderConfigError(`${label}: ${parsed.problem}`);
  return { gracefulShutdown: { defaultCommand: parsed.command } };
}

function resolveWarningBatching(props: SpotResponderProps): ResolvedSpotResponderProps['warningBatching'] {
  const batching = {
    batchSize: props.batchSize ?? WARNING_BUFFER.batchSize,
    maxBatchingWindow: props.maxBatchingWindow ?? WARNING_BUFFER.maxBatchingWindow,
    maxConcurrency: props.maxConcurrency ?? WARNING_BUFFER.maxConcurrency,
  };
  checkIntegerInRange('SpotResponderProps.batchSize', batching.batchSize, 1, 10_000);
  checkIntegerInRange('SpotResponderProps.maxConcurrency', batching.maxConcurrency, 2, 1_000);
  const windowMs = batching.maxBatchingWindow.toMilliseconds();
  if (windowMs !== 0 && windowMs !== 1_000) {
    throw new SpotResponderConfigError(
      `SpotResponderProps.maxBatchingWindow must be 0 or 1 second (Lambda counts it in whole seconds, ` +
        `and more would eat the notice), got ${batching.maxBatchingWindow.toHumanString()}`,
    );
  }
  if (batching.batchSize > 10 && windowMs === 0) {
    throw new SpotResponderConfigError(
      `SpotResponderProps.maxBatchingWindow must be 1 second when batchSize is above 10 (a Lambda rule), got 0 with batchSize ${batching.batchSize}`,
    );
  }
  return batching;
}

function wholeMinutes(label: string, interval: Duration): number {
  const minutes = interval.toSeconds() / 60;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new SpotResponderConfigError(
      `${label} must be a whole number of minutes from 1 to 60, got ${interval.toHumanString()}`,
    );
  }
  return minutes;
}
