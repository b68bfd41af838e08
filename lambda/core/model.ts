// The responder's vocabulary. Pure data: no AWS SDK types cross this line, so the
// decision core, the Lambda, the CLI and the tests all speak the same language.

export const INSTANCE_ACTIONS = ['terminate', 'stop', 'hibernate'] as const;
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number];

/** EC2 gives two minutes between the warning and the interruption (none for hibernate). */
export const NOTICE_MS = 120_000;

/** A validated Spot interruption warning, stripped of its envelope. */
export interface SpotWarning {
  kind: 'spot-interruption-warning';
  eventId: string;
  /** ISO-8601 time EC2 stamped on the event; the deadline counts from here. */
  eventTime: string;
  account: string;
  region: string;
  instanceId: string;
  instanceAction: InstanceAction;
}

/** EC2's earlier, weaker signal: capacity is at elevated risk; no deadline attached. */
export interface RebalanceRecommendation {
  kind: 'rebalance-recommendation';
  eventId: string;
  eventTime: string;
  account: string;
  region: string;
  instanceId: string;
}

/** EC2 Instance State-change Notification: only interesting for instances we handled. */
export interface InstanceStateChange {
  kind: 'instance-state-change';
  eventId: string;
  eventTime: string;
  account: string;
  region: string;
  instanceId: string;
  /** pending, running, stopping, stopped, shutting-down, terminated */
  state: string;
}

/**
 * SSM's EC2 Command Invocation Status-change Notification for the graceful-shutdown document:
 * how the command the responder sent to the instance ended (Success, Failed, TimedOut, Cancelled,
 * Undeliverable, Terminated ...). Like a state change, it only extends a timeline.
 */
export interface ShutdownCommandStatus {
  kind: 'shutdown-command-status';
  eventId: string;
  eventTime: string;
  account: string;
  region: string;
  instanceId: string;
  commandId: string;
  documentName: string;
  status: string;
}

/**
 * Every signal the responder accepts, after validation. Not all of them announce an
 * interruption: a state change or a shutdown command's status only extends the timeline of an
 * earlier response.
 */
export type Ec2Signal = SpotWarning | RebalanceRecommendation | InstanceStateChange | ShutdownCommandStatus;

/** The signals that announce an interruption and may be acted on. */
export type InterruptionNotice = SpotWarning | RebalanceRecommendation;

/**
 * What became of an event. 'observed': a response in observe mode that would have acted; every
 * mutating call it planned is recorded with result 'planned', none was sent. 'in-progress' and 'abandoned' are never written as an outcome: history
 * reads them off an open claim (core/claims.ts: claimState), one whose holder still works and one
 * whose holder died before recording (the next delivery takes over).
 */
export type Outcome = 'handled' | 'observed' | 'duplicate' | 'skipped' | 'rejected' | 'failed' | 'in-progress' | 'abandoned';

/**
 * Why a response did nothing, as a closed set beside the free-text reason (as RejectionKind is
 * for rejected events), so a reader can count and filter skips:
 * - too-late: a terminate warning that arrived after its deadline;
 * - record-only: a rebalance recommendation under rebalanceAction 'record';
 * - unknown-instance: EC2 does not know the instance (DescribeInstances);
 * - already-terminated: the instance is terminated already;
 * - excluded-by-tag: opt-out mode, and the instance or its group is tagged off;
 * - not-opted-in: opt-in mode, and neither the instance nor its group is tagged on;
 * - no-group: a rebalance recommendation for an instance in no Auto Scaling group;
 * - capacity-rebalancing: the group's Capacity Rebalancing replaces the instance itself;
 * - out-of-scope: the instance's group and every target group holding it are outside the
 *   deployment's autoScalingGroupNames / targetGroupNames (IAM would refuse every call);
 * - launch-suspended: a rebalance recommendation for a group whose Launch process is suspended
 *   (nothing can be launched early);
 * - nothing-to-do: the plan ran and every action was skipped;
 * - not-acted-on: a state change of an instance no response acted on (not recorded).
 */
export type SkipKind =
  | 'too-late'
  | 'record-only'
  | 'unknown-instance'
  | 'already-terminated'
  | 'excluded-by-tag'
  | 'not-opted-in'
  | 'no-group'
  | 'capacity-rebalancing'
  | 'out-of-scope'
  | 'launch-suspended'
  | 'nothing-to-do'
  | 'not-acted-on';

/** The story of one interruption, one entry per milestone (each recorded at most once). */
export type TimelineEvent =
  | 'rebalance-recommended'
  | 'warning-received'
  | 'traffic-stopped'
  | 'ecs-draining'
  | 'detached'
  | 'terminated-in-group'
  | 'replacement-launched'
  | 'replacement-running'
  | 'replacement-healthy'
  | 'shutdown-command-sent'
  | 'shutdown-command-finished'
  | 'instance-restarted'
  | 'instance-stopping'
  | 'instance-stopped'
  | 'instance-shutting-down'
  | 'instance-terminated';

export interface TimelineEntry {
  event: TimelineEvent;
  at: string;
  detail?: string;
}

/** An ECS container instance backed by the EC2 instance. */
export interface ContainerInstanceRef {
  cluster: string;
  containerInstanceArn: string;
  status: string;
}

/** What EC2 says about the instance right now. */
export interface InstanceFacts {
  instanceId: string;
  /** running, stopping, stopped, shutting-down, terminated, pending */
  state: string;
  privateIpAddresses: string[];
  tags: Record<string, string>;
  /** InstanceType (m5.large): with the zone, the Spot capacity pool the instance ran in. */
  instanceType?: string;
  /** Placement.AvailabilityZone (us-east-1a). */
  availabilityZone?: string;
}

/** The instance's Auto Scaling membership (DescribeAutoScalingInstances). */
export interface AsgMembership {
  groupName: string;
  lifecycleState: string;
}

/** The group itself (DescribeAutoScalingGroups). */
export interface AsgFacts {
  groupName: string;
  targetGroupArns: string[];
  /** Instances in the group now, to tell a replacement from the instances already there. */
  instanceIds: string[];
  /** Names of EC2_INSTANCE_TERMINATING lifecycle hooks: detaching would bypass them. */
  terminatingHooks: string[];
  desiredCapacity: number;
  capacityRebalance: boolean;
  /**
   * Names of the group's suspended processes (DescribeAutoScalingGroups SuspendedProcesses:
   * Launch, Terminate, AddToLoadBalancer, HealthCheck, ReplaceUnhealthy ...); empty when none.
   */
  suspendedProcesses: string[];
  tags: Record<string, string>;
}

/** One registration of the instance in a target group, as the target index last saw it. */
export interface IndexedTarget {
  targetGroupArn: string;
  /** The instance id for instance targets, a private IP for ip targets. */
  targetId: string;
  targetType: 'instance' | 'ip';
  port?: number;
  availabilityZone?: string;
  /**
   * TargetHealth.State when the refresher scanned (healthy, initial, unhealthy, unused ...).
   * Only the refresher's own verification of replacements reads it: the index does not store
   * it, and the responder never sees it.
   */
  state?: string;
}

export interface TargetIndexLookup {
  targets: IndexedTarget[];
  /** When the last full refresh of the index finished; undefined when it never ran. */
  refreshedAt?: string;
  /**
   * The instance's Auto Scaling group as the last complete refresh saw it (tags, target groups,
   * terminating hooks, Capacity Rebalancing, suspended processes; no member list: instanceIds is
   * empty); absent when the instance was in no group then, or the index is older than the group
   * facts. With it, a response plans in its first round and checks the group fresh while it acts.
   */
  group?: AsgFacts;
}

/** One deregistration the responder will make: DeregisterTargets for a single target. */
export interface Deregistration {
  targetGroupArn: string;
  targetId: string;
  port?: number;
  availabilityZone?: string;
  /** Why we believe the instance is registered there. */
  source: 'target-index' | 'auto-scaling-group';
}

export type DetachDecision =
  | { detach: true; groupName: string }
  | { detach: false; groupName: string | null; reason: string };

/**
 * lookup: a read the response depended on (recorded only when it failed or decided a skip).
 * terminate-in-group: the path taken instead of detach when the group has a terminating
 * lifecycle hook, so the user's hook still runs. ecs-drain: UpdateContainerInstancesState.
 */
/** shutdown: SendCommand of the graceful-shutdown document to the instance (SSM Run Command). */
export type ActionKind = 'lookup' | 'deregister' | 'detach' | 'terminate-in-group' | 'ecs-drain' | 'shutdown';
/** planned: a mutation planned and not made (observe mode, or a dry run's stand-in). */
export type ActionResultKind = 'ok' | 'not-registered' | 'skipped' | 'failed' | 'planned';

export interface ActionResult {
  action: ActionKind;
  /** Target group ARN for deregister, Auto Scaling group name for detach, the API for lookup. */
  target: string;
  targetId?: string;
  port?: number;
  result: ActionResultKind;
  latencyMs: number;
  reason?: string;
  error?: { name: string; message: string; retryable: boolean };
  /** shutdown only: the SSM command id SendCommand returned (its final status arrives as an event). */
  commandId?: string;
}

/** The durable record of one event: what we found, what we did, how long it took. */
export interface ResponseRecord {
  eventId: string;
  eventTime: string | null;
  detailType: string | null;
  instanceId: string | null;
  instanceAction: InstanceAction | null;
  account: string | null;
  region: string | null;
  outcome: Outcome;
  reason?: string;
  /** Set with outcome 'skipped': the kind of skip `reason` describes. */
  skipKind?: SkipKind;
  duplicateOf?: string;
  autoScalingGroup: string | null;
  lifecycleState?: string | null;
  /**
   * The instance's Spot capacity pool, instance type x Availability Zone, as DescribeInstances
   * saw it; absent when the lookup failed or did not run (and in records written before it).
   */
  instanceType?: string | null;
  availabilityZone?: string | null;
  /** Every target group we found holding the instance. */
  targetGroups: string[];
  /** Target groups the instance was actually deregistered from. */
  deregisteredFrom: string[];
  detached: boolean;
  actions: ActionResult[];
  /** eventTime + 120 s, or null when the event had no usable time. */
  deadline: string | null;
  /** Milliseconds left before the deadline when the response finished (negative = late). */
  msLeftAtFinish: number | null;
  indexRefreshedAt?: string | null;
  /** Things a reader of the record should know: degraded lookups, stale index ... */
  notes?: string[];
  receivedAt: string;
  finishedAt: string;
  dryRun?: boolean;
  /**
   * 'observe' on every record a responder in observe mode wrote: it changed nothing in the
   * fleet, its actions say what it would have done ('planned'). Absent: the responder acted.
   */
  mode?: 'observe';
  /** The replacement instance Auto Scaling launched, once seen. */
  replacement?: {
    instanceId: string;
    seenAt: string;
    /** From the signal's time to the replacement first seen in the group: time-to-replace. */
    msFromSignal: number;
  } | null;
  timeline?: TimelineEntry[];
  /** Real notice: from the warning's time to the instance stopping or shutting down. */
  noticeMs?: number | null;
  /**
   * Time-to-healthy: from the signal's time to the index refresh that first saw the replacement
   * healthy in all its target groups. Late by up to one refresh interval.
   */
  msToHealthy?: number | null;
  /**
   * Every attempt at this response (one per claiming invocation: Lambda's retries, takeovers of
   * an abandoned claim), oldest first. The record's other fields are their merge
   * (core/attempts.ts). Absent from records of one attempt written before attempts existed.
   */
  attempts?: AttemptSummary[];
}

/** One attempt as the merged record lists it. */
export interface AttemptSummary {
  /** 1-based, in the order the attempts were recorded. */
  attempt: number;
  /** When the attempt received the event (ISO). */
  at: string;
  finishedAt: string;
  /** The claim token of the invocation that made it: tells attempts apart in the logs. */
  claimToken?: string;
  outcome: Outcome;
  reason?: string;
  actions: ActionResult[];
}

/** Who an event is about, as far as it could be read: what every record starts with. */
export type EventIdentity = Pick<
  ResponseRecord,
  'eventId' | 'eventTime' | 'detailType' | 'instanceId' | 'instanceAction' | 'account' | 'region'
>;
