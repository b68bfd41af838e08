// What the user chose about acting: which rebalance recommendations act and which instances
// the responder may touch. The plan reads it; wiring and the CLI fill it from configuration.
import type { RebalanceAction, TagPolicy } from '../config';
import type { ResourceScope } from './scope';
import type { ShutdownSettings } from './shutdown';

/**
 * rebalanceAction: 'record' only records a rebalance recommendation, 'replace' acts on it as on
 * a warning. tagPolicy: opt-out acts unless the instance or its group is tagged `key`=off,
 * opt-in acts only where it is tagged `key`=on (the instance's tag wins over its group's).
 */
export interface ResponderBehaviour {
  rebalanceAction: RebalanceAction;
  tagPolicy: TagPolicy;
  /**
   * The groups and target groups the deployment's IAM policy lets it mutate; what lies outside
   * is planned as skipped (no call). Absent: everything (UNSCOPED).
   */
  scope?: ResourceScope;
  /** Graceful shutdown (SSM Run Command on the warned instance); absent: off. */
  shutdown?: ShutdownSettings;
}

export const DEFAULT_BEHAVIOUR: ResponderBehaviour = {
  rebalanceAction: 'record',
  tagPolicy: { mode: 'opt-out', key: 'spot-responder' },
};
