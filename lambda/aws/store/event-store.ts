// The records table as the responder and the index refresher use it: the claim store, the
// record store, the timeline store, the replacement waits and the history reader over one
// table, behind the EventStorePort port.
import type {  } from '@aws-sdk/lib-dynamodb';
import type { ResponseRecord, TimelineEntry } from '../../core/model';
import type {
  AssignedReplacement,
  CallOptions,
  ClaimKeys,
  ClaimResult,
  EventStorePort,
  FinishOptions,
  HeldClaim,
  HistoryQuery,
  InstancePointer,
  ItemResult,
  Renewal,
  ReplacementWait,
  TimelineAddition,
  UnclaimedWrite,
} from '../../core/ports';
import type {  } from '../clients';
import { DynamoClaimStore } from './claim-store';
import { DynamoHistoryReader } from './history-reader';
import { DynamoRecordStore } from './record-store';
import { DynamoReplacementStore } from './replacement-store';
import type { StoredRecord } from './items';
import type { DynamoTableStoreOptions } from './table-store';
import { DynamoTimelineStore } from './timeline-store';

export interface DynamoEventStoreOptions extends DynamoTableStoreOptions {
  /** Claim attempts when DynamoDB cancels the transaction for a conflict, not a condition. */
  claimAttempts?: number;
  /** Attempts per BatchGet of pointers while DynamoDB returns UnprocessedKeys (off the hot path). */
  pointerReadAttempts?: number;
}

export class DynamoEventStore implements EventStorePort {
  private readonly claims: DynamoClaimStore;
  private readonly responses: DynamoRecordStore;
  private readonly timelines: DynamoTimelineStore;
  private readonly records: DynamoHistoryReader;
  private readonly replacements: DynamoReplacementStore;

  constructor(opts: DynamoEventStoreOptions) {
    this.claims = new DynamoClaimStore(opts);
    this.responses = new DynamoRecordStore(opts);
    this.timelines = new DynamoTimelineStore(opts);
    this.records = new DynamoHistoryReader(opts);
    this.replacements = new DynamoReplacementStore(opts);
  }

  claim(keys: ClaimKeys, leaseUntil: Date, opts?: CallOptions): Promise<ClaimResult> {
    return this.claims.claim(keys, leaseUntil, opts);
  }

  claimAll(keys: readonly ClaimKeys[], leaseUntil: Date, opts?: CallOptions): Promise<Array<ItemResult<ClaimResult>>> {
    return this.claims.claimAll(keys, leaseUntil, opts);
  }

  renewAll(claims: readonly HeldClaim[], leaseUntil: Date, opts?: CallOptions): Promise<Renewal[]> {
    return this.claims.renewAll(claims, leaseUntil, opts);
  }

  finish(keys: ClaimKeys, record: ResponseRecord, opts?: FinishOptions): Promise<ResponseRecord> {
    return this.responses.finish(keys, record, opts);
  }

  noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void> {
    return this.responses.noteDuplicate(originalEventId, duplicateEventId, at);
  }

  recordUnclaimed(record: ResponseRecord): Promise<UnclaimedWrite> {
    return this.responses.recordUnclaimed(record);
  }

  appendTimeline(
    instanceId: string,
    build: (pointer: InstancePointer) => TimelineAddition | null,
  ): Promise<{ eventId: string; entry: TimelineEntry } | null> {
    return this.timelines.appendTimeline(instanceId, build);
  }

  instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>> {
    return this.timelines.instancePointers(instanceIds);
  }

  awaitReplacements(groupName: string, waits: readonly ReplacementWait[], known: readonly string[]): Promise<void> {
    return this.replacements.awaitReplacements(groupName, waits, known);
  }

  groupsAwaitingReplacement(): Promise<Set<string>> {
    return this.replacements.groupsAwaitingReplacement();
  }

  unknownMembers(groupName: string, instanceIds: readonly string[]): Promise<string[]> {
    return this.replacements.unknownMembers(groupName, instanceIds);
  }

  assignReplacement(groupName: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null> {
    return this.replacements.assignReplacement(groupName, instanceId, seenAt);
  }

  history(query: HistoryQuery): Promise<StoredRecord[]> {
    return this.records.history(query);
  }
}
