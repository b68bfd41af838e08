// How the records table's items are written and read back: the record under EVENT#, the claim
// items (their rules are in core/claims.ts), the INSTANCE# pointers. The store's three parts
// encode and decode through here and never spell an item's shape themselves.
//
//   EVENT#<eventId>          the response record's fields, plus status, day, eventTimeAndId,
//                            expiresAt; while claimed also leaseUntil and claimedAt
//   WARNING#/REBALANCE#/ACTION#   status, owner (the claiming event id), leaseUntil, expiresAt
//   INSTANCE#<instanceId>    eventId, role, signalDetailType, signalTime, warningTime, healthyAt
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import type { ResponseRecord, TimelineEntry } from '../../core/model';
import { claimState } from '../../core/claims';
import { withoutUndefined } from '../../core/objects';
import type { InstancePointer } from '../../core/ports';
import { SPOT_INTERRUPTION_WARNING } from '../../events/detail-types';
import { TABLE_SCHEMA, historyDay, itemKey, utcTime } from '../table-schema';

/** An item as the document client reads and writes it (plain JavaScript values). */
export type Item = Record<string, unknown>;

/** A record as history returns it: the response plus what later deliveries added to it. */
export type StoredRecord = ResponseRecord & {
  /** Every delivery of this event or its warning, the first included. */
  deliveries?: number;
  duplicateEventIds?: string[];
  lastDuplicateAt?: string;
};

/** Bookkeeping attributes of an EVENT# item that are not part of its record. */
const INTERNAL_ATTRIBUTES = ['pk', 'status', 'day', 'eventTimeAndId', 'expiresAt', 'leaseUntil', 'claimedAt', 'claimToken'];

/** Pointers outlive any plausible follow-up event of the interruption (s). */
export const POINTER_TTL_SECONDS = 7 * 86_400;

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * The attributes every record item carries for the history index and for TTL: the event's UTC
 * day, its time and id as the sort key, and expiresAt (epoch s) `retentionSeconds` after the
 * response finished (after `now` when finishedAt is no time).
 */
export function recordIndexAttributes(record: ResponseRecord, retentionSeconds: number, now: Date): Item {
  const time = record.eventTime ?? record.receivedAt;
  const finished = Date.parse(record.finishedAt);
  const base = Number.isNaN(finished) ? now : new Date(finished);
  return {
    [TABLE_SCHEMA.historyIndex.partitionKey]: historyDay(time),
    [TABLE_SCHEMA.historyIndex.sortKey]: `${utcTime(time)}#${record.eventId}`,
    [TABLE_SCHEMA.ttlAttribute]: epochSeconds(base) + retentionSeconds,
  };
}

/** The timeline as stored: a map keyed by milestone, so a redelivered state change cannot add an entry twice. */
export function timelineMap(entries: readonly TimelineEntry[]): Item {
  return Object.fromEntries(entries.map((e) => [e.event, timelineEntryValue(e)]));
}

/** One milestone's value in the stored map. */
export function timelineEntryValue(entry: TimelineEntry): Item {
  return withoutUndefined({ at: entry.at, detail: entry.detail });
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

/**
 * An EVENT# item as history returns it: bookkeeping removed, the timeline a list, duplicate ids
 * sorted. An open claim (claims.ts: claimState at `nowIso`) reads as outcome 'in-progress' or
 * 'abandoned', with what its item holds (a claim carries no fleet fields of its own).
 */
export function toStoredRecord(item: Item, nowIso: string = new Date().toISOString()): StoredRecord {
  const open = claimState(item, nowIso);
  const record: Item = open
    ? {
        autoScalingGroup: null,
        targetGroups: [],
        deregisteredFrom: [],
        detached: false,
        actions: [],
        deadline: null,
        msLeftAtFinish: null,
        detailType: null,
        instanceAction: null,
        account: null,
        region: null,
        receivedAt: item.claimedAt,
        finishedAt: item.claimedAt,
        ...item,
        outcome: open,
        reason:
          open === 'abandoned'
            ? `claimed at ${String(item.claimedAt)}; its lease ran out at ${String(item.leaseUntil)} with no record: the next delivery takes over`
            : `claimed at ${String(item.claimedAt)}; held until ${String(item.leaseUntil)} (renewed while it works)`,
      }
    : { ...item };
  for (const name of INTERNAL_ATTRIBUTES) delete record[name];
  if ('timeline' in record) record.timeline = timelineList(record.timeline);
  const ids = record.duplicateEventIds;
  if (ids instanceof Set || Array.isArray(ids)) record.duplicateEventIds = [...ids].map(String).sort();
  return record as unknown as StoredRecord;
}

/**
 * The INSTANCE# item for an instance the response touched (as `role`), expiring at `expiresAt`
 * (epoch s). warningTime is known at once only when the response answered the warning itself.
 */
export function pointerItem(
  instanceId: string,
  role: InstancePointer['role'],
  eventId: string,
  record: Pick<ResponseRecord, 'detailType' | 'eventTime'>,
  expiresAt: number,
): Item {
  return withoutUndefined({
    pk: itemKey.instance(instanceId),
    eventId,
    role,
    signalDetailType: record.detailType ?? undefined,
    signalTime: record.eventTime ?? undefined,
    warningTime:
      role === 'interrupted' && record.detailType === SPOT_INTERRUPTION_WARNING ? (record.eventTime ?? undefined) : undefined,
    expiresAt,
  });
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

/**
 * The old item DynamoDB returns in a cancellation reason (ALL_OLD), as plain values. The
 * document client does not unmarshall error payloads, so it arrives as raw AttributeValues
 * ({ S: "..." }); a claim item holds only strings and numbers. (@aws-sdk/util-dynamodb's
 * unmarshall would do, but it is no direct dependency of ours; these two cases need no more.)
 */
export function fromAttributeValues(item: Record<string, unknown>): Item {
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) => {
      const av = (value ?? {}) as { S?: unknown; N?: unknown };
      if (typeof av.S === 'string') return [name, av.S];
      if (typeof av.N === 'string') return [name, Number(av.N)];
      return [name, value];
    }),
  );
}

function stringAttr(item: Item, name: string): string | undefined {
  const value = item[name];
  return typeof value === 'string' ? value : undefined;
}

/** A conditional write refused by its condition: for our writes, the item is gone or already there. */
export function isConditionalCheckFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/** Why DynamoDB cancelled a TransactWriteItems, aligned with its items; undefined for any other error. */
export function cancellationReasons(err: unknown): CancellationReason[] | undefined {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException') return undefined;
  return (err as Error & { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
}
