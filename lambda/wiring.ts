// Real adapters behind the ports of the responder and of the index refresher. The Lambda and
// the CLI build their dependencies here, from one set of SDK clients, so both run the same
// code path.
import { AutoScalingAdapter } from './aws/auto-scaling';
import type { AwsClients } from './aws/clients';
import { Ec2Adapter } from './aws/ec2';
import { EcsAdapter } from './aws/ecs';
import { DynamoEventStore } from './aws/store/event-store';
import { LoadBalancingAdapter } from './aws/load-balancing';
import { SnsNotifier } from './aws/sns-notifier';
import { DynamoTargetIndex } from './aws/target-index';
import { DEFAULTS } from './contract';
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
}

/** The responder's ports on real AWS: one adapter per service over `clients`, the store and index on `settings.tableName`. */
export function createResponderDeps(
  clients: AwsClients,
  settings: ResponderSettings,
  log: Log,
  now?: () => number,
): ResponderDeps {
  return {
    ec2: new Ec2Adapter(clients.ec2),
    autoScaling: new AutoScalingAdapter(clients.autoScaling),
    loadBalancing: new LoadBalancingAdapter(clients.elbv2),
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
    ...(settings.ecsClusters && settings.ecsClusters.length > 0
      ? { ecs: new EcsAdapter(clients.ecs, settings.ecsClusters) }
      : {}),
    ...(settings.notificationTopicArn ? { notifier: SnsNotifier.forTopic(settings.notificationTopicArn) } : {}),
    policy: settings.policy,
    behaviour: settings.behaviour ?? DEFAULT_BEHAVIOUR,
    log,
    ...(now ? { now } : {}),
  };
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
