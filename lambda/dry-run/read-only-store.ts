// The dry run's records table: read but never written. Claims are answered from the items as
// they are, by core/claims.ts's rules (the very ones the real claim's conditions are built
// from), so an event that was already handled shows as the duplicate it would be. Each write
// the real store would make goes into the plan as a summary of what it would write (keys,
// statuses, leases), not its full input.
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoHistoryReader } from '../aws/store/history-reader';
import { pointerFrom, type Item, type StoredRecord } from '../aws/store/items';
import { DynamoTimelineStore } from '../aws/store/timeline-store';
import { awaitingGroupsOf, replacementChoice, unknownMembersOf } from '../aws/store/replacement-store';
import { itemKey } from '../aws/table-schema';
import {
  CLAIM_STATUS,
  actedOnInstance,
  actionLeaseUntil,
  actionStatus,
  claimTargets,
  finishedStatus,
  firstHolder,
  signalKey,
  unclaimedStatus,
} from '../core/claims';
import type { Outcome, ResponseRecord, TimelineEntry } from '../core/model';
import type {
  AssignedReplacement,
  CallOptions,
  ClaimKeys,
  ClaimResult,
  EventStorePort,
  HeldClaim,
  HistoryQuery,
  InstancePointer,
  ItemResult,
  Renewal,
  ReplacementWait,
  TimelineAddition,
  UnclaimedWrite,
} from '../core/ports';
import { SERVICE, type PlanJournal } from './guard';

export interface ReadOnlyEventStoreOptions {
  /** A guarded client: the store only reads through it. */
  client: DynamoDBDocumentClient;
  tableName: string;
  journal: PlanJournal;
  now?: () => Date;
}

export class ReadOnlyEventStore implements EventStorePort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly journal: PlanJournal;
  private readonly now: () => Date;
  private readonly records: DynamoHistoryReader;
  private readonly pointers: DynamoTimelineStore;
  /** Per group, the waits this dry run planned to take and the instances it named (nothing is written). */
  private readonly plannedAssignments = new Map<string, { taken: Set<string>; named: Set<string> }>();
  /** Set once a read found no table: nothing is created in a dry run. */
  tableMissing = false;

  constructor(opts: ReadOnlyEventStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.journal = opts.journal;
    this.now = opts.now ?? (() => new Date());
    this.records = new DynamoHistoryReader({ client: opts.client, tableName: opts.tableName, now: this.now });
    this.pointers = new DynamoTimelineStore({ client: opts.client, tableName: opts.tableName });
  }

  /** Reads the keys the real claim transaction would put and names the holder by the same rules. */
  async claim(keys: ClaimKeys, leaseUntil: Date, opts: CallOptions = {}): Promise<ClaimResult> {
    const targets = claimTargets(keys);
    const items = await Promise.all(targets.map(({ pk }) => this.read(pk, opts)));
    const holder = firstHolder(keys, items, this.now().toISOString());
    const put = (pk: string) => ({ Put: pk, status: CLAIM_STATUS.inProgress, leaseUntil: leaseUntil.toISOString() });
    const note = this.tableMissing
      ? 'claim; the table does not exist, so the real claim would fail'
      : holder
        ? `claim; would be cancelled: held by ${holder.heldBy} (${holder.status})`
        : 'claim';
    this.journal.write(
      SERVICE.dynamo,
      'TransactWriteItems',
      { TableName: this.tableName, items: targets.map(({ pk }) => put(pk)) },
      note,
    );
    return holder ? { claimed: false, ...holder } : { claimed: true };
  }

  /**
   * The heartbeat renews a lease the dry run never took: nothing to write (and a dry run is
   * over long before its first renewal would be due).
   */
  /** claim() for each, side by side, as the responder made them before claims were merged. */
  async claimAll(all: readonly ClaimKeys[], leaseUntil: Date, opts: CallOptions = {}): Promise<Array<ItemResult<ClaimResult>>> {
    return Promise.all(
      all.map((keys) =>
        this.claim(keys, leaseUntil, opts).then(
          (value): ItemResult<ClaimResult> => ({ ok: true, value }),
          (error: unknown): ItemResult<ClaimResult> => ({ ok: false, error }),
        ),
      ),
    );
  }

  async renewAll(claims: readonly HeldClaim[]): Promise<Renewal[]> {
    return claims.map(() => ({ outcome: 'held' }));
  }

  /**
   * As DynamoClaimStore.finish (less the merge with earlier attempts, which a dry run cannot
   * have made); the planned actions count as done (claims.ts: actedOnInstance).
   */
  async finish(keys: ClaimKeys, record: ResponseRecord): Promise<ResponseRecord> {
    const status = finishedStatus(record.outcome);
    const acted = actedOnInstance(record.actions);
    const pointer = (instanceId: string, role: InstancePointer['role']) => ({
      Put: itemKey.instance(instanceId),
      eventId: keys.eventId,
      role,
    });
    this.journal.write(
      SERVICE.dynamo,
      'TransactWriteItems',
      {
        TableName: this.tableName,
        items: [
          { Update: itemKey.event(keys.eventId), status, outcome: actingOutcome(record.outcome), set: 'every field of the record' },
          { Update: signalKey(keys), status },
          ...(keys.actsOnInstance
            ? [
                {
                  Update: itemKey.action(keys.instanceId),
                  status: actionStatus(record.outcome, acted),
                  leaseUntil: actionLeaseUntil(record.finishedAt, this.now()).toISOString(),
                },
              ]
            : []),
          ...(acted && record.instanceId ? [pointer(record.instanceId, 'interrupted')] : []),
          ...(record.replacement ? [pointer(record.replacement.instanceId, 'replacement')] : []),
          { Update: itemKey.attempts(keys.eventId), set: 'the attempts list, this one appended' },
        ],
      },
      'record the response and release the claims',
    );
    return record;
  }

  async noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void> {
    this.journal.write(
      SERVICE.dynamo,
      'UpdateItem',
      {
        TableName: this.tableName,
        Update: itemKey.event(originalEventId),
        add: { deliveries: 1, duplicateEventIds: [duplicateEventId] },
        set: { lastDuplicateAt: at },
        condition: 'attribute_exists(pk)',
      },
      'note the repeated delivery on the original record',
    );
  }

  /** Plans the write; answers as if it went through (a dry run reads no stored outcome for it). */
  async recordUnclaimed(record: ResponseRecord): Promise<UnclaimedWrite> {
    this.journal.write(
      SERVICE.dynamo,
      'PutItem',
      {
        TableName: this.tableName,
        Put: itemKey.event(record.eventId),
        status: unclaimedStatus(record.outcome),
        outcome: record.outcome,
        condition: 'attribute_not_exists(pk)',
      },
      'record the event; never overwrites an existing record',
    );
    return { result: 'written' };
  }

  history(query: HistoryQuery): Promise<StoredRecord[]> {
    return this.records.history(query);
  }

  instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>> {
    return this.pointers.instancePointers(instanceIds);
  }

  /** Reads the pointer as the real store does; the timeline update it would make goes into the plan. */
  async awaitReplacements(groupName: string, waits: readonly ReplacementWait[], known: readonly string[]): Promise<void> {
    if (waits.length === 0) return;
    this.journal.write(
      SERVICE.dynamo,
      'UpdateItem',
      { TableName: this.tableName, Update: itemKey.replacing(groupName), add: { waiting: waits.map((w) => w.eventId), replaced: waits.map((w) => w.instanceId) }, members: `${known.length} seen before acting` },
      `wait for ${waits.length} replacement(s) in group ${groupName}; its next new instance is named by its state change`,
    );
  }

  async groupsAwaitingReplacement(): Promise<Set<string>> {
    return awaitingGroupsOf(await this.read(itemKey.replacingGroups, {}), this.now());
  }

  async unknownMembers(groupName: string, instanceIds: readonly string[]): Promise<string[]> {
    return unknownMembersOf(await this.read(itemKey.replacing(groupName), {}), instanceIds);
  }

  /**
   * Reads the group's waits as the real store does and plans its transaction. Nothing is written,
   * so the waits this dry run already planned to take, and the instances it named, are taken off
   * what was read: a second sighting gets the next wait, as it would for real.
   */
  async assignReplacement(groupName: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null> {
    const read = await this.read(itemKey.replacing(groupName), {});
    const planned = this.plannedAssignments.get(groupName) ?? { taken: new Set<string>(), named: new Set<string>() };
    const asIfWritten = read && {
      ...read,
      waiting: new Set([...asStrings(read.waiting)].filter((w) => !planned.taken.has(w))),
      replaced: new Set([...asStrings(read.replaced), ...planned.named]),
    };
    const chosen = replacementChoice(asIfWritten, instanceId, seenAt);
    if (!chosen) return null;
    planned.taken.add(chosen.encoded);
    planned.named.add(instanceId);
    this.plannedAssignments.set(groupName, planned);
    this.journal.write(
      SERVICE.dynamo,
      'TransactWriteItems',
      {
        TableName: this.tableName,
        items: [
          { Update: itemKey.replacing(groupName), delete: { waiting: chosen.wait.eventId }, add: { replaced: instanceId } },
          { Update: itemKey.event(chosen.wait.eventId), set: { replacement: instanceId } },
          { Update: itemKey.attempts(chosen.wait.eventId), set: { replacement: instanceId } },
          { Put: itemKey.instance(instanceId), role: 'replacement' },
        ],
      },
      `name ${instanceId} the replacement of event ${chosen.wait.eventId}`,
    );
    return { eventId: chosen.wait.eventId, entry: chosen.entry, msFromSignal: chosen.msFromSignal };
  }

  async appendTimeline(
    instanceId: string,
    build: (pointer: InstancePointer) => TimelineAddition | null,
  ): Promise<{ eventId: string; entry: TimelineEntry } | null> {
    const pointerKey = itemKey.instance(instanceId);
    const found = await this.read(pointerKey, {});
    const pointer = found ? pointerFrom(found) : undefined;
    if (!pointer) return null;
    const eventId = pointer.eventId;
    const built = build(pointer);
    if (!built) return null;
    const { entry, noticeMs, msToHealthy, warningTime, healthyAt } = built;
    if (warningTime) {
      this.journal.write(
        SERVICE.dynamo,
        'UpdateItem',
        { TableName: this.tableName, Update: pointerKey, set: { warningTime }, condition: 'unless already set' },
        'remember on the pointer when the warning came',
      );
    }
    this.journal.write(
      SERVICE.dynamo,
      'UpdateItem',
      {
        TableName: this.tableName,
        Update: itemKey.event(eventId),
        set: {
          [`timeline.${entry.event}`]: { at: entry.at, ...(entry.detail !== undefined ? { detail: entry.detail } : {}) },
          ...(noticeMs !== undefined ? { noticeMs } : {}),
          ...(msToHealthy !== undefined ? { msToHealthy } : {}),
        },
        condition: 'attribute_exists(timeline)',
      },
      'add the milestone to the timeline unless it is there already',
    );
    if (healthyAt) {
      this.journal.write(
        SERVICE.dynamo,
        'UpdateItem',
        {
          TableName: this.tableName,
          Update: pointerKey,
          set: { healthyAt },
          condition: 'unless already set; only if the pointer exists',
        },
        'remember on the pointer that the replacement was seen healthy',
      );
    }
    return { eventId, entry };
  }

  /** One item, strongly consistent; a missing table reads as no item (and is remembered). */
  private async read(pk: string, opts: CallOptions): Promise<Item | undefined> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }),
        opts,
      );
      return out.Item;
    } catch (err) {
      if (err instanceof Error && err.name === 'ResourceNotFoundException') {
        this.tableMissing = true;
        return undefined;
      }
      throw err;
    }
  }
}

/**
 * The outcome an acting responder would record. In a dry run every mutation is only planned, so
 * decideOutcome says 'observed' (what observe mode records); the dry run shows what acting
 * would write instead, and says separately that nothing was sent.
 */
export function actingOutcome(outcome: Outcome): Outcome {
  return outcome === 'observed' ? 'handled' : outcome;
}

/** The strings of a string set as the document client reads it (a Set); none otherwise. */
function asStrings(value: unknown): string[] {
  return value instanceof Set ? [...value].filter((v): v is string => typeof v === 'string') : [];
}
