// One spelling of each EventBridge string the responder handles: the parser, the records, the
// sample events and the stack's rules (lib/event-patterns.ts) all take them from here.

/** The `source` EC2 stamps on its instance events. */
export const EC2_EVENT_SOURCE = 'aws.ec2';

/** Sent two minutes before EC2 interrupts a Spot Instance (stop, hibernate or terminate). */
export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';

/** Sent when a Spot Instance is at elevated risk of interruption; often before the warning. */
export const REBALANCE_RECOMMENDATION = 'EC2 Instance Rebalance Recommendation';

/** Sent on every instance state transition, for every instance in the account and region. */
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';

/** The `source` SSM stamps on its Run Command events. */
export const SSM_EVENT_SOURCE = 'aws.ssm';

/** Sent by SSM on every status change of a command on one instance (one invocation). */
export const COMMAND_INVOCATION_STATUS_CHANGE = 'EC2 Command Invocation Status-change Notification';
