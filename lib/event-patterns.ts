// The EventBridge events the responder subscribes to. Plain data with no CDK import, so the
// stack, its tests, the Lambda code and the docs can all share one spelling of each string.

/** The `source` EC2 stamps on its instance events. */
export const EC2_EVENT_SOURCE = 'aws.ec2';

/** Sent two minutes before EC2 interrupts a Spot Instance (stop, hibernate or terminate). */
export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';

/** Every detail-type the responder rule routes to the responder function. */
export const RESPONDER_DETAIL_TYPES = [SPOT_INTERRUPTION_WARNING] as const;

/** The responder rule's event pattern, exactly as EventBridge stores it. */
export const RESPONDER_EVENT_PATTERN = {
  source: [EC2_EVENT_SOURCE],
  'detail-type': [...RESPONDER_DETAIL_TYPES],
} as const;
