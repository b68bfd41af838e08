// The durable memory of the responder: one record per event, and the claims that make the
// fleet-facing work happen once per interruption however often EventBridge delivers it.
//
// Two keys guard each response, claimed together in one transaction:
//   EVENT#<eventId>                       the same event delivered again (at-least-once delivery)
//   WARNING#<instanceId>#<eventTime>      the same warning under another event id
//   (REBALANCE#<instanceId>#<eventTime> for a rebalance recommendation)
//   ACTION#<instanceId>                   acting on the instance at all (only responses that act)
// A key is free when it does not exist, when its last response FAILED (so AWS's retry of a
// failed invocation can run again), or when its IN_PROGRESS lease has passed (the invocation
// that held it crashed or timed out). Otherwise the delivery is a duplicate of its holder.
// ACTION keys are held for ACTION_WINDOW_MS after the response: a persistent Spot instance that
// was stopped comes back and may be interrupted again, hours later, and must be handled then.
//
// INSTANCE#<instanceId> points at the response that acted on the instance, or launched it as a
// replacement, so that later state-change events extend that record's timeline (and the index
// refresher, once it sees a replacement healthy, adds replacement-healthy).
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Outcome, ResponseRecord, TimelineEntry } from '../core/model';
import { withoutUndefined } from '../core/objects';
import { SPOT_INTERRUPTION_WARNING } from '../events/detail-types';
import type {
  CallOptions,
  ClaimKeys,
  ClaimResult,
  EventStore,
  HistoryQuery,
  InstancePointer,
  TimelineAddition,
} from '../core/ports';
import { TRANSIENT_CANCELLATION_CODES, fullJitterDelay, sleep as realSleep, type Sleep } from './clients';
import { TABLE_SCHEMA, historyDay, itemKey, utcTime } from './table-schema';

export const CLAIM_STATUS = {
  inProgress: 'IN_PROGRESS',
  completed: 'COMPLETED',
  failed: 'FAILED',
  rejected: 'REJECTED',
  skipped: 'SKIPPED',
  duplicate: 'DUPLICATE',
  /** An ACTION claim whose response decided not to act (skipped): free for the next signal. */
  released: 'RELEASED',
} as const;

/** A record as history returns it: the response plus what later deliveries added to it. */
export type StoredRecord = ResponseRecord & {
  /** Every delivery of this event or its warning, the first included. */
  deliveries?: number;
  duplicateEventIds?: string[];
  lastDuplicateAt?: string;
};

/** Bookkeeping attributes that are not part of a record. */
const INTERNAL_ATTRIBUTES = ['pk', 'status', 'day', 'eventTimeAndId', 'expiresAt', 'leaseUntil', 'claimedAt'];

const CLAIMABLE = 'attribute_not_exists(pk) OR #status = :failed OR (#status = :inProgress AND #leaseUntil < :now)';
/** An ACTION key's lease covers its whole window, in progress or done. */
const ACTION_CLAIMABLE = 'attribute_not_exists(pk) OR #status IN (:failed, :released) OR #leaseUntil < :now';

/** How long after a response its instance counts as handled (see the header). */
export const ACTION_WINDOW_MS = 30 * 60_000;
/** Pointers outlive any plausible follow-up event of the interruption. */
const POINTER_TTL_SECONDS = 7 * 86_400;
/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_LIMIT = 100;

export class PointerReadError extends Error {
  override name = 'PointerReadError';
  readonly $retryable = {};
}

export interface DynamoEventStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  retentionDays: number;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** Claim attempts when DynamoDB cancels the transaction for a conflict, not a condition. */
  claimAttempts?: number;
  /** Attempts per BatchGet of pointers while DynamoDB returns UnprocessedKeys (off the hot path). */
  pointerReadAttempts?: number;
}

type Item = Record<string, unknown>;
type Holder = { heldBy: string; status: string };

export class DynamoEventStore implements EventStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly claimAttempts: number;
  private readonly pointerReadAttempts: number;

  constructor(opts: DynamoEventStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.retentionSeconds = opts.retentionDays * 86_400;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.claimAttempts = opts.claimAttempts ?? 3;
    this.pointerReadAttempts = opts.pointerReadAttempts ?? 5;
  }

  /**
   * TransactionCanceledException is a 400 the SDK does not retry. Cancelled by a failed
   * condition, it is the answer (someone holds a key). Cancelled by TransactionConflict (a
   * concurrent transaction on the same items: most likely the duplicate racing us), throttling
   * or capacity, it is transient: retried here a few times within ~300 ms, then thrown. Any
   * other reason (validation) is a bug and thrown at once.
   */
  async claim(keys: ClaimKeys, leaseUntil: Date, opts: CallOptions = {}): Promise<ClaimResult> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.claimAttempts; attempt++) {
      if (attempt > 1) await this.sleep(fullJitterDelay(attempt - 1, this.random));
      try {
        await this.client.send(new TransactWriteCommand(this.claimTransaction(keys, leaseUntil)), opts);
        return { claimed: true };
      } catch (err) {
        const reasons = cancellationReasons(err);
        if (!reasons) throw err;
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          const holder = holderFromReasons(reasons, keys) ?? (await this.readHolder(keys, opts));
          if (holder) return { claimed: false, ...holder };
          // Emulator without Item in the reasons, and the holder let go before our read: try again.
        } else if (!reasons.some((r) => r.Code && TRANSIENT_CANCELLATION_CODES.has(r.Code))) {
          throw err;
        }
        lastError = err;
      }
    }
    throw lastError;
  }

  private claimTransaction(keys: ClaimKeys, leaseUntil: Date) {
    const now = this.now();
    const nowIso = now.toISOString();
    const lease = leaseUntil.toISOString();
    // A claim whose invocation never finishes must not outlive the records.
    const expiresAt = epochSeconds(now) + this.retentionSeconds;
    const guard = {
      ConditionExpression: CLAIMABLE,
      ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
      ExpressionAttributeValues: {
        ':failed': CLAIM_STATUS.failed,
        ':inProgress': CLAIM_STATUS.inProgress,
        ':now': nowIso,
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    return {
      TransactItems: [
        {
          Put: {
            TableName: this.tableName,
            Item: {
              pk: itemKey.event(keys.eventId),
              status: CLAIM_STATUS.inProgress,
              eventId: keys.eventId,
              instanceId: keys.instanceId,
              eventTime: keys.eventTime,
              leaseUntil: lease,
              claimedAt: nowIso,
              deliveries: 1,
              expiresAt,
            },
            ...guard,
          },
        },
        {
          Put: {
            TableName: this.tableName,
            Item: {
              pk: signalKey(keys),
              status: CLAIM_STATUS.inProgress,
              owner: keys.eventId,
              leaseUntil: lease,
              expiresAt,
            },
            ...guard,
          },
        },
        ...(keys.actsOnInstance
          ? [
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    pk: itemKey.action(keys.instanceId),
                    status: CLAIM_STATUS.inProgress,
                    owner: keys.eventId,
                    leaseUntil: lease,
                    expiresAt,
                  },
                  ...guard,
                  ConditionExpression: ACTION_CLAIMABLE,
                  ExpressionAttributeValues: {
                    ':failed': CLAIM_STATUS.failed,
                    ':released': CLAIM_STATUS.released,
                    ':now': nowIso,
                  },
                },
              },
            ]
          : []),
      ],
    };
  }

  /** The fallback when the cancellation reasons carry no item: read both keys as they are now. */
  private async readHolder(keys: ClaimKeys, opts: CallOptions): Promise<Holder | undefined> {
    const get = (pk: string) =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }), opts);
    const [event, warning, action] = await Promise.all([
      get(itemKey.event(keys.eventId)),
      get(signalKey(keys)),
      keys.actsOnInstance ? get(itemKey.action(keys.instanceId)) : Promise.resolve({ Item: undefined }),
    ]);
    const nowIso = this.now().toISOString();
    if (action.Item && isActionHeld(action.Item, nowIso)) {
      return { heldBy: stringAttr(action.Item, 'owner') ?? keys.eventId, status: statusOf(action.Item) };
    }
    if (event.Item && isHeld(event.Item, nowIso)) {
      return { heldBy: stringAttr(event.Item, 'eventId') ?? keys.eventId, status: statusOf(event.Item) };
    }
    if (warning.Item && isHeld(warning.Item, nowIso)) {
      return { heldBy: stringAttr(warning.Item, 'owner') ?? keys.eventId, status: statusOf(warning.Item) };
    }
    return undefined;
  }

  /**
   * The record and the release of both claims, atomically. The record is written with an Update
   * (SET every field) rather than a Put so that a duplicate noted while we worked keeps its
   * deliveries / duplicateEventIds annotations.
   */
  async finish(keys: ClaimKeys, record: ResponseRecord): Promise<void> {
    const status = record.outcome === 'failed' ? CLAIM_STATUS.failed : CLAIM_STATUS.completed;
    const fields: Item = {
      ...withoutUndefined({ ...record }),
      // A map keyed by milestone, so a redelivered state change cannot add an entry twice.
      timeline: timelineMap(record.timeline ?? []),
      ...this.derived(record),
      status,
    };
    const finishedMs = Date.parse(record.finishedAt);
    const actionUntil = new Date((Number.isNaN(finishedMs) ? this.now().getTime() : finishedMs) + ACTION_WINDOW_MS);
    const pointerExpiresAt = epochSeconds(this.now()) + POINTER_TTL_SECONDS;
    const pointer = (instanceId: string, role: InstancePointer['role']) => ({
      Put: {
        TableName: this.tableName,
        Item: withoutUndefined({
          pk: itemKey.instance(instanceId),
          eventId: keys.eventId,
          role,
          signalDetailType: record.detailType ?? undefined,
          signalTime: record.eventTime ?? undefined,
          warningTime:
            role === 'interrupted' && record.detailType === SPOT_INTERRUPTION_WARNING ? (record.eventTime ?? undefined) : undefined,
          expiresAt: pointerExpiresAt,
        }),
      },
    });
    const acted = record.actions.some((a) => a.action !== 'lookup' && (a.result === 'ok' || a.result === 'not-registered'));
    const actionStatus = status === CLAIM_STATUS.completed && !acted ? CLAIM_STATUS.released : status;
    const names: Record<string, string> = { '#leaseUntil': 'leaseUntil' };
    const values: Record<string, unknown> = {};
    const assignments = Object.entries(fields).map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: { pk: itemKey.event(keys.eventId) },
              UpdateExpression: `SET ${assignments.join(', ')} REMOVE #leaseUntil`,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
          {
            Update: {
              TableName: this.tableName,
              Key: { pk: signalKey(keys) },
              UpdateExpression: 'SET #status = :status, #expiresAt = :expiresAt',
              ExpressionAttributeNames: { '#status': 'status', '#expiresAt': TABLE_SCHEMA.ttlAttribute },
              ExpressionAttributeValues: { ':status': status, ':expiresAt': fields[TABLE_SCHEMA.ttlAttribute] },
            },
          },
          ...(keys.actsOnInstance
            ? [
                {
                  Update: {
                    TableName: this.tableName,
                    Key: { pk: itemKey.action(keys.instanceId) },
                    UpdateExpression: 'SET #status = :status, #leaseUntil = :until',
                    ExpressionAttributeNames: { '#status': 'status', '#leaseUntil': 'leaseUntil' },
                    ExpressionAttributeValues: { ':status': actionStatus, ':until': actionUntil.toISOString() },
                  },
                },
              ]
            : []),
          ...(acted && record.instanceId ? [pointer(record.instanceId, 'interrupted')] : []),
          ...(record.replacement ? [pointer(record.replacement.instanceId, 'replacement')] : []),
        ],
      }),
    );
  }

  async appendTimeline(
    instanceId: string,
    build: (pointer: InstancePointer) => TimelineAddition | null,
  ): Promise<{ eventId: string; entry: TimelineEntry } | null> {
    const found = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: itemKey.instance(instanceId) }, ConsistentRead: true }),
    );
    const pointer = found.Item ? pointerFrom(found.Item) : undefined;
    if (!pointer) return null;
    const eventId = pointer.eventId;
    const built = build(pointer);
    if (!built) return null;
    const { entry, noticeMs, msToHealthy, warningTime, healthyAt } = built;
    if (warningTime) {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: itemKey.instance(instanceId) },
          UpdateExpression: 'SET warningTime = if_not_exists(warningTime, :time)',
          ExpressionAttributeValues: { ':time': warningTime },
        }),
      );
    }
    const values: Record<string, unknown> = { ':entry': withoutUndefined({ at: entry.at, detail: entry.detail }) };
    const sets = ['timeline.#milestone = if_not_exists(timeline.#milestone, :entry)'];
    if (noticeMs !== undefined) {
      sets.push('noticeMs = if_not_exists(noticeMs, :notice)');
      values[':notice'] = noticeMs;
    }
    if (msToHealthy !== undefined) {
      sets.push('msToHealthy = if_not_exists(msToHealthy, :toHealthy)');
      values[':toHealthy'] = msToHealthy;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: itemKey.event(eventId) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(timeline)',
          ExpressionAttributeNames: { '#milestone': entry.event },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      // The record expired while its pointer lived on: nothing left to extend.
      if (isConditionalCheckFailed(err)) return null;
      throw err;
    }
    // After the record, so that a failure in between leaves the pointer unmarked and the next
    // refresh tries again (the milestone's if_not_exists keeps the first time).
    if (healthyAt) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: itemKey.instance(instanceId) },
            UpdateExpression: 'SET healthyAt = if_not_exists(healthyAt, :at)',
            // An update creates a missing item: never resurrect a pointer that just expired.
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':at': healthyAt },
          }),
        );
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
      }
    }
    return { eventId, entry };
  }

  /**
   * BatchGets of at most 100 keys, eventually consistent: a pointer written a moment ago and
   * missed here is found by the next refresh. UnprocessedKeys are retried after a backoff.
   */
  async instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>> {
    const idOfKey = new Map(instanceIds.map((id) => [itemKey.instance(id), id]));
    const keys = [...idOfKey.keys()].map((pk) => ({ pk }));
    const pointers = new Map<string, InstancePointer>();
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
      for (const item of await this.readPointerChunk(keys.slice(i, i + BATCH_GET_LIMIT))) {
        const id = idOfKey.get(stringAttr(item, 'pk') ?? '');
        const pointer = pointerFrom(item);
        if (id && pointer) pointers.set(id, pointer);
      }
    }
    return pointers;
  }

  private async readPointerChunk(keys: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    let pending = keys;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }));
      found.push(...((out.Responses?.[this.tableName] ?? []) as Item[]));
      pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Item[];
      if (pending.length === 0) return found;
      if (attempt >= this.pointerReadAttempts) {
        throw new PointerReadError(`${pending.length} pointers still unprocessed after ${attempt} BatchGetItem attempts`);
      }
      await this.sleep(fullJitterDelay(attempt, this.random));
    }
  }

  async noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: itemKey.event(originalEventId) },
          UpdateExpression: 'ADD deliveries :one, duplicateEventIds :duplicate SET lastDuplicateAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1, ':duplicate': new Set([duplicateEventId]), ':at': at },
        }),
      );
    } catch (err) {
      // The original's record is gone (expired): nothing to annotate.
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }

  async recordUnclaimed(record: ResponseRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...record,
            pk: itemKey.event(record.eventId),
            status: unclaimedStatus(record.outcome),
            ...this.derived(record),
            deliveries: 1,
          },
          // Never overwrite: a rejected redelivery must not erase the record of a handled event.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }

  /** Records whose event time is at or after `since`, newest first, one day partition at a time. */
  async history(query: HistoryQuery): Promise<StoredRecord[]> {
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    const records: StoredRecord[] = [];
    for (const day of daysNewestFirst(query.since, this.now())) {
      let startKey: Item | undefined;
      do {
        const out = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: TABLE_SCHEMA.historyIndex.name,
            KeyConditionExpression: '#day = :day AND #sort >= :since',
            ExpressionAttributeNames: {
              '#day': TABLE_SCHEMA.historyIndex.partitionKey,
              '#sort': TABLE_SCHEMA.historyIndex.sortKey,
            },
            ExpressionAttributeValues: { ':day': day, ':since': query.since },
            ScanIndexForward: false,
            ...(Number.isFinite(limit) ? { Limit: limit - records.length } : {}),
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        records.push(...(out.Items ?? []).map(toStoredRecord));
        startKey = out.LastEvaluatedKey;
      } while (startKey && records.length < limit);
      if (records.length >= limit) break;
    }
    const timeOf = (r: StoredRecord) => `${utcTime(r.eventTime ?? r.receivedAt)}#${r.eventId}`;
    return records.sort((a, b) => (timeOf(a) < timeOf(b) ? 1 : timeOf(a) > timeOf(b) ? -1 : 0)).slice(0, limit);
  }

  /** The attributes every record item carries for the history index and TTL. */
  private derived(record: ResponseRecord): Item {
    const time = record.eventTime ?? record.receivedAt;
    const finished = Date.parse(record.finishedAt);
    const base = Number.isNaN(finished) ? this.now() : new Date(finished);
    return {
      [TABLE_SCHEMA.historyIndex.partitionKey]: historyDay(time),
      [TABLE_SCHEMA.historyIndex.sortKey]: `${utcTime(time)}#${record.eventId}`,
      [TABLE_SCHEMA.ttlAttribute]: epochSeconds(base) + this.retentionSeconds,
    };
  }
}

export function unclaimedStatus(outcome: Outcome): string {
  switch (outcome) {
    case 'rejected':
      return CLAIM_STATUS.rejected;
    case 'skipped':
      return CLAIM_STATUS.skipped;
    case 'duplicate':
      return CLAIM_STATUS.duplicate;
    case 'failed':
      return CLAIM_STATUS.failed;
    case 'handled':
      return CLAIM_STATUS.completed;
  }
}

function cancellationReasons(err: unknown): CancellationReason[] | undefined {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException') return undefined;
  return (err as Error & { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
}

function isConditionalCheckFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * The holder named by the old item DynamoDB returned (ALL_OLD). The document client does not
 * unmarshall error payloads, so the item arrives as raw AttributeValues ({ S: "..." }).
 */
function holderFromReasons(reasons: CancellationReason[], keys: ClaimKeys): Holder | undefined {
  for (const [index, reason] of reasons.entries()) {
    if (reason.Code !== 'ConditionalCheckFailed' || !reason.Item) continue;
    const item = reason.Item as Item;
    // Index 0 is the EVENT item, index 1 the WARNING item (claimTransaction's order).
    const heldBy = index === 0 ? stringAttr(item, 'eventId') : stringAttr(item, 'owner');
    // A completed ACTION item fails the condition only inside its window; the others always.
    return { heldBy: heldBy ?? keys.eventId, status: statusOf(item) };
  }
  return undefined;
}

/** Whether an EVENT or WARNING item blocks a claim (the negation of CLAIMABLE); the dry run asks too. */
export function isHeld(item: Item, nowIso: string): boolean {
  const status = stringAttr(item, 'status');
  if (status === CLAIM_STATUS.failed) return false;
  if (status === CLAIM_STATUS.inProgress) {
    const lease = stringAttr(item, 'leaseUntil');
    return lease === undefined || lease >= nowIso;
  }
  return true;
}

/** The "same signal under another event id" key. */
export function signalKey(keys: ClaimKeys): string {
  return keys.signal === 'rebalance-recommendation'
    ? itemKey.rebalance(keys.instanceId, keys.eventTime)
    : itemKey.warning(keys.instanceId, keys.eventTime);
}

/** Whether an ACTION item blocks a claim (the negation of ACTION_CLAIMABLE). */
export function isActionHeld(item: Item, nowIso: string): boolean {
  const status = stringAttr(item, 'status');
  if (status === CLAIM_STATUS.failed || status === CLAIM_STATUS.released) return false;
  const lease = stringAttr(item, 'leaseUntil');
  return lease === undefined || lease >= nowIso;
}

function timelineMap(entries: TimelineEntry[]): Item {
  return Object.fromEntries(entries.map((e) => [e.event, withoutUndefined({ at: e.at, detail: e.detail })]));
}

/**
 * The stored map back to the record's list, in time order. Compared as instants, not text:
 * event times are EC2's whole seconds with any offset ("...:35Z"), ours carry milliseconds
 * ("...:35.109Z"), and as text the later "35.109Z" sorts first ('.' < 'Z').
 */
function timelineList(value: unknown): TimelineEntry[] {
  if (!value || typeof value !== 'object') return [];
  const instant = (at: string): number => {
    const ms = Date.parse(at);
    return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  };
  return Object.entries(value as Record<string, { at?: unknown; detail?: unknown }>)
    .map(([event, e]) => ({
      event: event as TimelineEntry['event'],
      at: String(e?.at ?? ''),
      ...(typeof e?.detail === 'string' ? { detail: e.detail } : {}),
    }))
    .sort((a, b) => instant(a.at) - instant(b.at) || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

function statusOf(item: Item): string {
  return stringAttr(item, 'status') ?? 'UNKNOWN';
}

/** An INSTANCE# item as the pointer builders see it; undefined when it names no response. */
export function pointerFrom(item: Item): InstancePointer | undefined {
  const eventId = stringAttr(item, 'eventId');
  if (!eventId) return undefined;
  const healthyAt = stringAttr(item, 'healthyAt');
  return {
    eventId,
    role: stringAttr(item, 'role') === 'replacement' ? 'replacement' : 'interrupted',
    signalDetailType: stringAttr(item, 'signalDetailType') ?? null,
    signalTime: stringAttr(item, 'signalTime') ?? null,
    warningTime: stringAttr(item, 'warningTime') ?? null,
    ...(healthyAt ? { healthyAt } : {}),
  };
}

/** A string attribute, marshalled ({ S }) or plain. */
function stringAttr(item: Item, name: string): string | undefined {
  const value = item[name];
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { S?: unknown }).S === 'string') {
    return (value as { S: string }).S;
  }
  return undefined;
}

function toStoredRecord(item: Item): StoredRecord {
  const record: Item = { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete record[name];
  if ('timeline' in record) record.timeline = timelineList(record.timeline);
  const ids = record.duplicateEventIds;
  if (ids instanceof Set || Array.isArray(ids)) record.duplicateEventIds = [...ids].map(String).sort();
  return record as unknown as StoredRecord;
}

/** History partitions from today back to the day of `since` (UTC). */
function daysNewestFirst(since: string, now: Date): string[] {
  const first = Date.parse(`${since.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(first)) throw new RangeError(`history: "since" must be an ISO time, got "${since}"`);
  const days: string[] = [];
  for (let day = Date.parse(`${now.toISOString().slice(0, 10)}T00:00:00Z`); day >= first; day -= 86_400_000) {
    days.push(historyDay(new Date(day).toISOString()));
  }
  return days;
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
