// What a response needs from outside: the ports, the policy, the behaviour and a clock. Every
// step of the response imports it from here; nothing imports the orchestrator back.
import type { ResponderBehaviour } from '../core/behaviour';
import type {
  AutoScalingPort,
  Ec2Port,
  EcsPort,
  EventStorePort,
  LoadBalancingPort,
  RedeliveryPort,
  ShutdownPort,
  TargetIndexPort,
} from '../core/ports';
import type { AcceptPolicy } from '../events';
import type { Log } from '../log';
import type { MetricsSink } from './metrics';
import type { NotifierPort } from './notifications';

/**
 * How long an in-progress claim holds without a heartbeat (ms). The holder renews it every
 * LEASE_HEARTBEAT_MS while it works (lambda/response/heartbeat.ts), as Powertools' in-progress
 * expiry does, so a live response is never overtaken, while a claim whose invocation died
 * (crash, timeout, or a throw after its record write failed) is free 20 s later: well before
 * Lambda's first retry of an async invocation (about a minute), which then takes over.
 */
export const LEASE_MS = 20_000;

/** How often the holder renews its lease (ms): three renewals fit in one lease. */
export const LEASE_HEARTBEAT_MS = 5_000;

export interface ResponderDeps {
  ec2: Ec2Port;
  autoScaling: AutoScalingPort;
  loadBalancing: LoadBalancingPort;
  targetIndex: TargetIndexPort;
  store: EventStorePort;
  /** Absent when no ECS cluster is configured. */
  ecs?: EcsPort;
  /** SSM Run Command for graceful shutdown; absent when it is off (behaviour.shutdown unset). */
  shutdown?: ShutdownPort;
  policy: AcceptPolicy;
  /** DEFAULT_BEHAVIOUR when absent. */
  behaviour?: ResponderBehaviour;
  log: Log;
  /** Milliseconds since the epoch; replay runs on the event's own clock. */
  now?: () => number;
  /** Told of every closed record (response/report.ts); none: no metrics (CLI, tests). */
  metrics?: MetricsSink;
  /** The delivery queue, to bring a failed message back soon (make-handler.ts); none: the queue's timeout decides. */
  redelivery?: RedeliveryPort;
  /** Told of handled interruptions and failures; none: no notifications. */
  notifier?: NotifierPort;
  /**
   * 'observe': the fleet ports only plan (lambda/wiring.ts), and every record says mode
   * 'observe'. Absent: the responder acts.
   */
  mode?: 'observe';
}
