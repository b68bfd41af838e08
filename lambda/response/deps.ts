// What a response needs from outside: the ports, the policy, the behaviour and a clock. Every
// step of the response imports it from here; nothing imports the orchestrator back.
import type { ResponderBehaviour } from '../core/behaviour';
import type {
  AutoScalingPort,
  Ec2Port,
  EcsPort,
  EventStorePort,
  LoadBalancingPort,
  TargetIndexPort,
} from '../core/ports';
import type { AcceptPolicy } from '../events';
import type { Log } from '../log';
import type { MetricsSink } from './metrics';
import type { NotifierPort } from './notifications';

/**
 * How long a claim outlives the deadline (ms). A crashed invocation's claim becomes claimable
 * again after it, so Lambda's retry can finish the job; a live one is never overtaken.
 */
export const LEASE_MARGIN_MS = 60_000;

export interface ResponderDeps {
  ec2: Ec2Port;
  autoScaling: AutoScalingPort;
  loadBalancing: LoadBalancingPort;
  targetIndex: TargetIndexPort;
  store: EventStorePort;
  /** Absent when no ECS cluster is configured. */
  ecs?: EcsPort;
  policy: AcceptPolicy;
  /** DEFAULT_BEHAVIOUR when absent. */
  behaviour?: ResponderBehaviour;
  log: Log;
  /** Milliseconds since the epoch; replay runs on the event's own clock. */
  now?: () => number;
  /** How to wait between looks for the replacement; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
  /** Told of every closed record (response/report.ts); none: no metrics (CLI, tests). */
  metrics?: MetricsSink;
  /** Told of handled interruptions and failures; none: no notifications. */
  notifier?: NotifierPort;
}
