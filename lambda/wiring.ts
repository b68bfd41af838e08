// Real adapters behind the responder's ports. The Lambda and the CLI build their
// dependencies here, from one set of SDK clients, so both run the same code path.
import { AutoScalingAdapter } from './aws/auto-scaling';
import type { AwsClients } from './aws/clients';
import { Ec2Adapter } from './aws/ec2';
import { DynamoEventStore } from './aws/event-store';
import { LoadBalancingAdapter } from './aws/load-balancing';
import { DynamoTargetIndex } from './aws/target-index';
import type { AcceptPolicy } from './events';
import type { Log } from './log';
import type { ResponderDeps } from './responder';

export interface ResponderSettings {
  tableName: string;
  recordRetentionDays: number;
  policy: AcceptPolicy;
  /** Used only to judge index entries' expiry; matches the refresher's schedule. */
  indexRefreshMinutes?: number;
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
    policy: settings.policy,
    log,
    ...(now ? { now } : {}),
  };
}
