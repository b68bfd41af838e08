// Real adapters behind the responder's ports. The Lambda and the CLI build their
// dependencies here, from one set of SDK clients, so both run the same code path.
import { AutoScalingAdapter } from './aws/auto-scaling';
import type { AwsClients } from './aws/clients';
import { Ec2Adapter } from './aws/ec2';
import { EcsAdapter } from './aws/ecs';
import { DynamoEventStore } from './aws/event-store';
import { LoadBalancingAdapter } from './aws/load-balancing';
import { DynamoTargetIndex } from './aws/target-index';
import type { AcceptPolicy } from './events';
import type { Log } from './log';
import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from './core/behaviour';
import type { ResponderDeps } from './response/deps';

export interface ResponderSettings {
  tableName: string;
  recordRetentionDays: number;
  policy: AcceptPolicy;
  /** Used only to judge index entries' expiry; matches the refresher's schedule. */
  indexRefreshMinutes?: number;
  behaviour?: ResponderBehaviour;
  /** ECS clusters to drain container instances in; none turns ECS draining off. */
  ecsClusters?: string[];
}

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
      refreshIntervalMinutes: settings.indexRefreshMinutes ?? 5,
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
    policy: settings.policy,
    behaviour: settings.behaviour ?? DEFAULT_BEHAVIOUR,
    log,
    ...(now ? { now } : {}),
  };
}
