// Real adapters behind the ports of the responder and of the index refresher. The Lambda and
// the CLI build their dependencies here, from one set of SDK clients, so both run the same
// code path. Observe mode is wired here too: the same adapters for every read and for the
// records table, the dry run's planned stand-ins for every fleet mutation.
import { AutoScalingAdapter } from './aws/auto-scaling';
import type { AwsClients } from './aws/clients';
import { Ec2Adapter } from './aws/ec2';
import { EcsAdapter } from './aws/ecs';
import { DynamoEventStore } from './aws/store/event-store';
import { LoadBalancingAdapter } from './aws/load-balancing';
import { SnsNotifier } from './aws/sns-notifier';
import { SsmShutdownAdapter } from './aws/ssm';
import { DynamoTargetIndex } from './aws/target-index';
import { DEFAULTS, type ResponseMode } from './contract';
import { SERVICE, installGuard } from './dry-run/guard';
import { PlannedAutoScaling, PlannedEcs, PlannedLoadBalancing, PlannedShutdown, type PlanSink } from './dry-run/planned-adapters';
import type { AcceptPolicy } from './events';
import type { IndexRefresherDeps } from './index-refresher';
import type { Log } from './log';
import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from './core/behaviour';
import type { ResponderDeps } from './response/deps';

export interface ResponderSettings {
  tableName: string;
  recordRetentionDays: number;
  policy: AcceptPolicy;
  /**
   * Minutes between index refreshes, used only to judge index entries' expiry; matches the
   * refresher's schedule. Default DEFAULTS.indexRefreshMinutes.
   */
  indexRefreshMinutes?: number;
  behaviour?: ResponderBehaviour;
  /** ECS clusters to drain container instances in; none turns ECS draining off. */
  ecsClusters?: string[];
  /** SNS topic for handled interruptions and failures; none: no notifications. */
  notificationTopicArn?: string;
  /**
   * observe: claim, look up, plan and record, and change nothing in the fleet. Default act: the
   * CLI's replay against an emulator, tests; the Lambda passes its configured RESPONSE_MODE.
   */
  mode?: ResponseMode;
}

/**
 * The responder's ports on real AWS: one adapter per service over `clients`, the store and index
 * on `settings.tableName`. In observe mode (`settings.mode`) the fleet's mutating methods are the
 * dry run's planned stand-ins (each call not sent is logged with its input, and answered
 * 'planned'), and the EC2, Auto Scaling, ELBv2, ECS and SSM clients are made to refuse any
 * mutation for good (the dry run's guard middleware), so not even a bug can change the fleet;
 * the store and index write the table as in act mode: the claims and records are the history.
 */
export function createResponderDeps(
  clients: AwsClients,
  settings: ResponderSettings,
  log: Log,
  now?: () => number,
): ResponderDeps {
  const observe = settings.mode === 'observe';
  if (observe) {
    for (const key of ['ec2', 'autoScaling', 'elbv2', 'ecs', 'ssm'] as const) installGuard(clients[key], SERVICE[key]);
  }
  const ecs =
    settings.ecsClusters && settings.ecsClusters.length > 0 ? new EcsAdapter(clients.ecs, settings.ecsClusters) : undefined;
  const autoScaling = new AutoScalingAdapter(clients.autoScaling);
  const notSent = observeLog(log);
  return {
    ec2: new Ec2Adapter(clients.ec2),
    autoScaling: observe ? new PlannedAutoScaling(autoScaling, notSent) : autoScaling,
    loadBalancing: observe ? new PlannedLoadBalancing(notSent) : new LoadBalancingAdapter(clients.elbv2),
    targetIndex: new DynamoTargetIndex({
      client: clients.dynamo,
      tableName: settings.tableName,
      refreshIntervalMinutes: settings.indexRefreshMinutes ?? DEFAULTS.indexRefreshMinutes,
    }),
    // Claim leases count from the event's deadline, so the store shares the responder's clock.
    store: new DynamoEventStore({
      client: clients.dynamo,
      tableName: settings.tableName,
      retentionDays: settings.recordRetentionDays,
      ...(now ? { now: () => new Date(now()) } : {}),
    }),
    ...(ecs ? { ecs: observe ? new PlannedEcs(ecs, notSent) : ecs } : {}),
    // Graceful shutdown only when the construct deployed its document (behaviour.shutdown).
    ...(settings.behaviour?.shutdown
      ? { shutdown: observe ? new PlannedShutdown(notSent) : new SsmShutdownAdapter(clients.ssm) }
      : {}),
    ...(settings.notificationTopicArn ? { notifier: SnsNotifier.forTopic(settings.notificationTopicArn) } : {}),
    policy: settings.policy,
    behaviour: settings.behaviour ?? DEFAULT_BEHAVIOUR,
    log,
    ...(now ? { now } : {}),
    ...(observe ? { mode: 'observe' as const } : {}),
  };
}

/** Observe mode's sink: one INFO line per call that was not sent, with the input it would have had. */
function observeLog(log: Log): PlanSink {
  return { write: (service, command, input) => log.info('observe mode: not sent', { service, command, input }) };
}

export interface IndexRefresherSettings {
  tableName: string;
  /** Minutes between scheduled refreshes; index entries written now expire after three. */
  refreshIntervalMinutes: number;
  /** ELBv2 Describe* calls per second the scan allows itself. */
  describeCallsPerSecond: number;
}

/** The index refresher's ports on real AWS: ELBv2 and EC2 to scan, the index and records table to write. */
export function createIndexRefresherDeps(
  clients: AwsClients,
  settings: IndexRefresherSettings,
  log: Log,
): IndexRefresherDeps {
  return {
    elbv2: clients.elbv2,
    ec2: clients.ec2,
    autoScaling: clients.autoScaling,
    index: new DynamoTargetIndex({
      client: clients.dynamo,
      tableName: settings.tableName,
      refreshIntervalMinutes: settings.refreshIntervalMinutes,
    }),
    store: new DynamoEventStore({
      client: clients.dynamo,
      tableName: settings.tableName,
      // Sets the TTL of the records and claims the store writes; the refresher writes neither
      // (it only reads pointers and extends timelines), so the value is never used here.
      retentionDays: DEFAULTS.recordRetentionDays,
    }),
    callsPerSecond: settings.describeCallsPerSecond,
    log,
  };
}
