// The small interfaces the responder needs from AWS. Adapters in lambda/aws implement
// them with SDK v3 clients; tests and dry runs substitute their own.
import type {
  ContainerInstanceRef,
  TimelineEntry,
  AsgFacts,
  AsgMembership,
  Deregistration,
  InstanceFacts,
  Outcome,
  ResponseRecord,
  TargetIndexLookup,
} from './model';

/** Per-call options: every AWS call is bounded by the time left before the deadline. */
export interface CallOptions {
  abortSignal?: AbortSignal;
}

/**
 * One item of a merged call, settled: its value, or the error of the call that carried it (every
 * item of a failed call gets that call's error, so each event it carried fails, and no other).
 */
export type ItemResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Batch-shaped ports: each method takes every item of a batch, makes as few calls as the API's
 * limits allow (the adapter chunks), and answers every item it was given, keyed by the item
 * (instance id, group name) or in input order. A method rejects only on a bug; a failed AWS call
 * is an `ok: false` ItemResult for the items that call carried.
 */
export interface Ec2Port {
  /** DescribeInstances for all ids; value null when EC2 does not know the instance. */
  describeInstances(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<InstanceFacts | null>>>;
}

export interface AutoScalingPort {
  /** DescribeAutoScalingInstances for all ids; value null when the instance is in no group. */
  describeMemberships(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<AsgMembership | null>>>;
  /** DescribeAutoScalingGroups (+ its lifecycle hooks) for all names; value null when the group is gone. */
  describeGroups(groupNames: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<AsgFacts | null>>>;
  /** The group's instances only (no hooks): what verification needs to spot the replacement. */
  groupInstanceIds(groupName: string, opts?: CallOptions): Promise<string[] | null>;
  /**
   * DetachInstances with ShouldDecrementDesiredCapacity=false, up to 20 instances a call: the
   * group launches their replacements. Per instance: 'not-detachable' when Auto Scaling refuses
   * because it left InService/Standby, 'not-in-group' when it is no longer part of the group,
   * both between our describe and the detach; 'ok-on-retry' when that refusal answered the
   * SDK's retry of our own call (the first attempt took effect, its response was lost).
   */
  detachWithReplacement(groupName: string, instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<DetachResult>>>;
  /**
   * TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity=false (the API takes
   * one instance): the group launches a replacement AND runs its EC2_INSTANCE_TERMINATING hooks,
   * which detach bypasses. Rejects with the service's error.
   */
  terminateWithReplacement(instanceId: string, opts?: CallOptions): Promise<DetachResult>;
}

/** ECS on EC2: find the container instances on EC2 instances and set them DRAINING. */
export interface EcsPort {
  /** Searches the configured clusters; value null when the instance is no container instance there. */
  findContainerInstances(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<ContainerInstanceRef | null>>>;
  /** UpdateContainerInstancesState DRAINING for container instances of one cluster, in input order. */
  drain(cluster: string, containerInstanceArns: readonly string[], opts?: CallOptions): Promise<Array<ItemResult<DrainResult>>>;
}

export type DrainResult = 'ok' | 'not-found' | 'planned';

/** planned: a dry run's adapter stood in for the call and made none. */
export type DetachResult = 'ok' | 'ok-on-retry' | 'not-detachable' | 'not-in-group' | 'planned';

export type DeregisterResult = 'ok' | 'not-registered' | 'planned';

/** One registration to remove from a target group (DeregisterTargets' TargetDescription). */
export type DeregisterTarget = Pick<Deregistration, 'targetId' | 'port' | 'availabilityZone'>;

export interface LoadBalancingPort {
  /** DeregisterTargets for every target of one target group, in input order. */
  deregister(targetGroupArn: string, targets: readonly DeregisterTarget[], opts?: CallOptions): Promise<Array<ItemResult<DeregisterResult>>>;
}

/**
 * How SendCommand answered for one instance: `sent` with the command id (its final status comes
 * later, as an EventBridge event); `not-managed` when SSM refused the instance (InvalidInstanceId:
 * no SSM agent, not registered with SSM, or not in a state SSM accepts); `planned` when a dry run
 * or observe mode stood in and sent nothing.
 */
export type ShutdownSendResult = { status: 'sent'; commandId: string } | { status: 'not-managed'; reason: string } | { status: 'planned' };

/** SSM Run Command: the graceful-shutdown document, sent to warned instances. */
export interface ShutdownPort {
  /**
   * SendCommand of `documentName` with `parameters` to every instance (at most 50 per call, the
   * adapter chunks); keyed by instance id. A failed call is `ok: false` for the instances it carried.
   */
  sendShutdown(
    documentName: string,
    instanceIds: readonly string[],
    parameters: Record<string, string[]>,
    opts?: CallOptions,
  ): Promise<Map<string, ItemResult<ShutdownSendResult>>>;
}

/** A message of an SQS batch, as its record names it: the queue's ARN and the receive's handle. */
export interface QueueMessage {
  messageId: string;
  /** arn:aws:sqs:<region>:<account>:<queue name> (the record's eventSourceARN). */
  queueArn: string;
  receiptHandle: string;
}

/** The delivery queue: when a failed message comes back. */
export interface RedeliveryPort {
  /**
   * Make each message visible again `seconds` (0-43200) from now, instead of after the queue's
   * visibility timeout: ChangeMessageVisibilityBatch per queue, at most 10 entries per call.
   * Resolves the message ids whose change failed (their message comes back after the full
   * timeout); rejects only when a queue could not be named (GetQueueUrl failed).
   */
  redeliverIn(messages: readonly QueueMessage[], seconds: number, opts?: CallOptions): Promise<string[]>;
}

/** Where the instances are registered, kept fresh off the hot path (see index-refresher). */
export interface TargetIndexPort {
  /** BatchGetItem for all ids (and the index's meta item); keyed by instance id. */
  lookupMany(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<TargetIndexLookup>>>;
}

/** The keys that make a delivery "the same event". */
export interface ClaimKeys {
  eventId: string;
  /** Which signal: a warning and a rebalance recommendation stamped the same second are different events. */
  signal: 'spot-interruption-warning' | 'rebalance-recommendation';
  instanceId: string;
  eventTime: string;
  /**
   * The response will act on the instance: also claim ACTION#<instanceId>, so that whichever
   * signal acts first (rebalance recommendation or warning) is the only one that does.
   */
  actsOnInstance?: boolean;
}

/**
 * claimed: the token names this claim (renew and finish pass it back); absent from stores that
 * write nothing (the dry run).
 */
export type ClaimResult =
  | { claimed: true; token?: string }
  | { claimed: false; heldBy: string; status: string };

/** A claim this invocation holds: its keys and its token (ClaimResult). */
export interface HeldClaim {
  keys: ClaimKeys;
  token: string;
}

/** What one claim's renewal came to (ClaimPort.renewAll). */
export type Renewal = { outcome: 'held' } | { outcome: 'lost' } | { outcome: 'failed'; error: unknown };

/** How `finish` writes: under which claim, and until when it may keep retrying. */
export interface FinishOptions {
  /** The claim's token (ClaimResult); names the attempt. */
  token?: string;
  /** Stop retrying the record write after this time (the response's deadline). */
  until?: Date;
}

/** INSTANCE#<id>: which response touched the instance, and as what. */
export interface InstancePointer {
  eventId: string;
  role: 'interrupted' | 'replacement';
  /** The detail-type and time of the signal that response acted on. */
  signalDetailType: string | null;
  signalTime: string | null;
  /**
   * When the instance's interruption warning came: the signal's time if it was the warning, or
   * the time of a warning that followed a rebalance response. The real notice counts from here.
   */
  warningTime: string | null;
  /** Replacements only: when an index refresh first saw it healthy (its milestone is recorded). */
  healthyAt?: string;
}

export interface TimelineAddition {
  entry: TimelineEntry;
  noticeMs?: number;
  /** Set on the record (first one wins) beside a replacement-healthy milestone. */
  msToHealthy?: number;
  /** Remember on the pointer that the warning came at this time (first one wins). */
  warningTime?: string;
  /**
   * Remember on the pointer, once the milestone is in, that the replacement was seen healthy at
   * this time (first one wins), so later refreshes pass it by without writing.
   */
  healthyAt?: string;
}

export interface HistoryQuery {
  /** ISO time; only records whose event time is at or after it. */
  since: string;
  limit?: number;
}

/**
 * The claim protocol and the records it guards (rules in core/claims.ts). The DynamoDB adapters
 * are lambda/aws/store/claim-store.ts and record-store.ts; the dry run answers from the items
 * as they are.
 */
export interface ClaimPort {
  /**
   * Atomically claim the event under every key (claims.ts: claimTargets). Resolves claimed:
   * false with the holder (claims.ts: the holder order) when any key is already held by a
   * completed response or by one still in progress within its lease. Rejects with the
   * service's error when DynamoDB keeps refusing for any other reason.
   */
  claim(keys: ClaimKeys, leaseUntil: Date, opts?: CallOptions): Promise<ClaimResult>;
  /**
   * claim() for every event of a batch, in as few writes as the store allows: one ItemResult
   * per claim, in order, each what claim() would have answered (its error as ok: false). Each
   * claim is won or lost on its own: one held key never costs another claim its win.
   */
  claimAll(keys: readonly ClaimKeys[], leaseUntil: Date, opts?: CallOptions): Promise<Array<ItemResult<ClaimResult>>>;
  /**
   * The heartbeat of a batch: move the lease of every key of every claim in `claims` (each still
   * held under its own token) to `leaseUntil`, all claims in as few writes as the store allows.
   * Resolves one Renewal per claim, in order: 'held' (renewed), 'lost' (no longer ours: another
   * delivery took over an expired lease, or the claim is already closed), or 'failed' with the
   * service's error (not renewed this time; the lease still runs). Never rejects.
   */
  renewAll(claims: readonly HeldClaim[], leaseUntil: Date, opts?: CallOptions): Promise<Renewal[]>;
  /**
   * Write the final record and mark the claim completed (or failed, for outcome failed). The
   * record is merged with every earlier attempt at the same event (core/attempts.ts), so a
   * retry never erases what an earlier attempt did. Retries transient failures until
   * `opts.until` (at least a few times), then rejects: the invocation must fail loudly.
   */
  finish(keys: ClaimKeys, record: ResponseRecord, opts?: FinishOptions): Promise<ResponseRecord>;
  /** Note a repeated delivery on the original record (deliveries + 1, its id in duplicateEventIds); never touches the fleet. */
  noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void>;
  /**
   * Record an event that was never claimed (rejected, or skipped before any claim), under
   * EVENT#<record.eventId>; never overwrites an existing record (an abandoned claim of the same
   * event is closed with this record merged into what it did). Resolves what it did: see
   * UnclaimedWrite.
   */
  recordUnclaimed(record: ResponseRecord): Promise<UnclaimedWrite>;
}

/**
 * What recordUnclaimed did: `written`, this record is now the event's; `closed-abandoned`, the
 * event's own claim had been abandoned by a dead holder and is now closed with this record
 * merged in (`outcome`: the merged record's); `exists`, another record of the event stands and
 * was left alone (`outcome`: its outcome, undefined while its claim is still held).
 */
export type UnclaimedWrite =
  | { result: 'written' }
  | { result: 'closed-abandoned'; outcome: Outcome }
  | { result: 'exists'; outcome: Outcome | undefined };

/** The INSTANCE# pointers and the timelines later events extend through them. */
export interface TimelinePort {
  /**
   * Add a milestone to the record of the last response that acted on this instance (as the
   * instance it protected or as its replacement). `build` sees who the instance was to that
   * response and returns the entry, or null for none. Resolves null when we never acted on the
   * instance: state changes of other instances must not fill the table. Redelivery adds
   * nothing twice.
   */
  appendTimeline(
    instanceId: string,
    build: (pointer: InstancePointer) => TimelineAddition | null,
  ): Promise<{ eventId: string; entry: TimelineEntry } | null>;
  /**
   * The INSTANCE# pointers of these instances, keyed by instance id; instances without one are
   * absent. Off the hot path (the index refresher): eventually consistent reads.
   */
  instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>>;
}

/** A response that took its instance out of its Auto Scaling group and waits for the replacement. */
export interface ReplacementWait {
  eventId: string;
  /** The instance it replaced. */
  instanceId: string;
  /** The signal the response acted on: its detail-type and ISO time (msFromSignal counts from it). */
  signalDetailType: string;
  signalTime: string;
}

/**
 * Replacements, off the hot path (issue 8, item 4): the response records, per Auto Scaling group,
 * that it waits for one; the replacement's own state change (or, failing that, the next index
 * refresh) names it. REPLACING#<group> holds the waiting responses and the group's instances
 * that are no replacement; REPLACING says which groups wait, so that a state change of an
 * unrelated instance costs no Auto Scaling call.
 */
export interface ReplacementPort {
  /**
   * Responses of `groupName` now waiting, and `known`: the group's instances before they acted
   * (the store keeps, per round of waits, only the instances every response saw: the intersection)
   * plus the instances they replaced (a later instance of the group not in it is a replacement).
   * Idempotent (set additions). Waits older than REPLACEMENT_WAIT_MS are ignored.
   */
  awaitReplacements(groupName: string, waits: readonly ReplacementWait[], known: readonly string[]): Promise<void>;
  /** The groups with a response waiting for its replacement (at most REPLACEMENT_WAIT_MS old). */
  groupsAwaitingReplacement(): Promise<Set<string>>;
  /**
   * Of `instanceIds`, members of `groupName` now, those that may be a replacement: not known to
   * the group's waits. Empty when no response of the group waits. One GetItem.
   */
  unknownMembers(groupName: string, instanceIds: readonly string[]): Promise<string[]>;
  /**
   * Name `instanceId`, a member of `groupName` seen at `seenAt` (ISO: its state change's time, or
   * the index refresh's snapshot time), the replacement of the earliest waiting response of that
   * group whose signal came before it: one transaction sets the record's `replacement` and its
   * `replacement-launched` milestone, the instance's pointer (role replacement), and takes the
   * wait off the group's list and the instance onto its replaced ones. Resolves null when the
   * instance is known (no replacement) or no response waits. Rejects with DynamoDB's error.
   */
  assignReplacement(groupName: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null>;
}

/** A replacement named: the record it was added to and how long after that response's signal it was seen. */
export interface AssignedReplacement {
  eventId: string;
  entry: TimelineEntry;
  /** ms from the signal's time to `seenAt`. */
  msFromSignal: number;
}

/** Recorded events, read back; needs no retention or any other write setting. */
export interface HistoryPort {
  /** Records whose event time is at or after `query.since`, newest first, at most `query.limit`. */
  history(query: HistoryQuery): Promise<ResponseRecord[]>;
}

/** Everything the responder asks of its records table. */
export type EventStorePort = ClaimPort & TimelinePort & ReplacementPort & HistoryPort;
