// The EventBridge events the responder subscribes to. Plain data with no CDK import, so the
// stack, its tests, the Lambda code and the docs can all share one spelling of each string.

import {
  EC2_EVENT_SOURCE,
  INSTANCE_STATE_CHANGE,
  REBALANCE_RECOMMENDATION,
  SPOT_INTERRUPTION_WARNING,
} from '../lambda/events/detail-types';

export { EC2_EVENT_SOURCE, INSTANCE_STATE_CHANGE, REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING };

/**
 * The states the responder records. `pending` and `running` show a new instance coming up (the
 * replacement a response waits for is named by the first of them to arrive); the others show an
 * interrupted instance going away.
 */
export const HANDLED_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const;

/** Every detail-type routed to the responder function, one rule each. */
export const RESPONDER_DETAIL_TYPES = [SPOT_INTERRUPTION_WARNING, REBALANCE_RECOMMENDATION, INSTANCE_STATE_CHANGE] as const;

/** The interruption warning rule's pattern, exactly as EventBridge stores it. */
export const INTERRUPTION_WARNING_PATTERN = {
  source: [EC2_EVENT_SOURCE],
  'detail-type': [SPOT_INTERRUPTION_WARNING],
} as const;

/** The rebalance recommendation rule's pattern. Always on: the default action only records it. */
export const REBALANCE_RECOMMENDATION_PATTERN = {
  source: [EC2_EVENT_SOURCE],
  'detail-type': [REBALANCE_RECOMMENDATION],
} as const;

/**
 * The state-change rule's pattern. It still matches every instance of the account in those
 * states; the function drops the ones it never acted on without writing anything.
 */
export const INSTANCE_STATE_CHANGE_PATTERN = {
  source: [EC2_EVENT_SOURCE],
  'detail-type': [INSTANCE_STATE_CHANGE],
  detail: { state: [...HANDLED_INSTANCE_STATES] },
} as const;
