// The small interfaces the responder needs from AWS. Adapters in lambda/aws implement
// them with SDK v3 clients; tests and dry runs substitute their own.
import type {
  AsgFacts,
  AsgMembership,
  Deregistration,
  IndexedTarget,
  InstanceFacts,
  ResponseRecord,
  TargetIndexLookup,
} from './model';

/** Per-call options: every AWS call is bounded by the time left before the deadline. */
export interface CallOptions {
  abortSignal?: AbortSignal;
}

export interface Ec2Reader {
  /** null when EC2 does not know the instance. */
  describeInstance(instanceId: string, opts?: CallOptions): Promise<InstanceFacts | null>;
}

export interface AutoScalingPort {
  /** null when the instance belongs to no Auto Scaling group. */
  describeMembership(instanceId: string, opts?: CallOptions): Promise<AsgMembership | null>;
  describeGroup(groupName: string, opts?: CallOptions): Promise<AsgFacts | null>;
  /**
   * DetachInstances with ShouldDecrementDesiredCapacity=false: the group launches a replacement.
   * 'not-detachable' when Auto Scaling refuses because the instance left InService/Standby
   * (or the group) between our describe and the detach.
   */
  detachWithReplacement(groupName: string, instanceId: string, opts?: CallOptions): Promise<DetachResult>;
}

export type DetachResult = 'ok' | 'not-detachable';

export type DeregisterResult = 'ok' | 'not-registered';

export interface LoadBalancingPort {
  deregister(target: Deregistration, opts?: CallOptions): Promise<DeregisterResult>;
}

/** Where the instance is registered, kept fresh off the hot path (see index-refresher). */
export interface TargetIndexReader {
  lookup(instanceId: string, opts?: CallOptions): Promise<TargetIndexLookup>;
}

export interface TargetIndexWriter {
  /** Replace the index with a complete snapshot whose scan started at `snapshotAt`. */
  writeSnapshot(byInstance: Map<string, IndexedTarget[]>, snapshotAt: string): Promise<void>;
}

/** The keys that make a delivery "the same event". */
export interface ClaimKeys {
  eventId: string;
  instanceId: string;
  eventTime: string;
}

export type ClaimResult =
  | { claimed: true }
  | { claimed: false; heldBy: string; status: string };

export interface HistoryQuery {
  /** ISO time; only records whose event time is at or after it. */
  since: string;
  limit?: number;
}

export interface EventStore {
  /**
   * Atomically claim the event under every key. Fails (claimed: false) when any key is
   * already held by a completed response or by one still in progress within its lease.
   */
  claim(keys: ClaimKeys, leaseUntil: Date, opts?: CallOptions): Promise<ClaimResult>;
  /** Write the final record and mark the claim completed (or failed, for outcome failed). */
  finish(keys: ClaimKeys, record: ResponseRecord): Promise<void>;
  /** Note a repeated delivery on the original record; never touches the fleet. */
  noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void>;
  /**
   * Record an event that was never claimed (rejected, or skipped before any claim), under
   * EVENT#<record.eventId>; never overwrites an existing record.
   */
  recordUnclaimed(record: ResponseRecord): Promise<void>;
  history(query: HistoryQuery): Promise<ResponseRecord[]>;
}
