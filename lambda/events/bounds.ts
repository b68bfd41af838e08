// Every string a record stores from an event (or from an error about it) has a bound, applied
// here and only here, so no event can make an item DynamoDB refuses: an item is at most 400 KB
// (DynamoDB Developer Guide, "Service, account, and table quotas": item size), and a refused
// record write loses the record of the event. A cut string ends with a visible marker.
import type { ActionResult, ResponseRecord, TimelineEntry } from '../core/model';

/** DynamoDB's item size limit, bytes (names and values, UTF-8). */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/** The bounds, in UTF-16 code units (a code unit is at most 3 UTF-8 bytes). */
export const BOUNDS = {
  /** Identity fields: detail-type, ids, ARNs, names (an EventBridge detail-type is at most 128). */
  field: 256,
  /** The record's reason (every problem of a rejected event, every failed action). */
  text: 2_000,
  /** A note, a timeline entry's detail. */
  note: 500,
  /** An action's reason and error message: one per action, and there may be many actions. */
  actionText: 250,
  /** Entries kept in the lists that grow with the fleet (actions, target groups); the rest are counted. */
  listItems: 50,
  /** Notes and timeline entries kept (a plan makes a handful; each milestone comes once). */
  fewItems: 20,
} as const;

export const TRUNCATION_MARKER = '…[truncated ';

/** `text` when within `max`; otherwise its start and `…[truncated N chars]`, within `max` in all. */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = max;
  // The marker's length depends on the count it shows: settle it (two rounds at most).
  for (let i = 0; i < 3; i++) kept = Math.max(0, max - `${TRUNCATION_MARKER}${text.length - kept} chars]`.length);
  return `${text.slice(0, kept)}${TRUNCATION_MARKER}${text.length - kept} chars]`;
}

function field<T extends string | null | undefined>(value: T): T {
  return (typeof value === 'string' ? boundText(value, BOUNDS.field) : value) as T;
}

function text(value: string, max: number = BOUNDS.text): string {
  return boundText(value, max);
}

/** The first `max` entries; `more` makes the last one, saying how many were left out. */
function list<T>(items: readonly T[], more: (count: number) => T, max: number = BOUNDS.listItems): T[] {
  if (items.length <= max) return [...items];
  return [...items.slice(0, max - 1), more(items.length - max + 1)];
}

function action(a: ActionResult): ActionResult {
  return {
    ...a,
    target: field(a.target),
    ...(a.targetId !== undefined ? { targetId: field(a.targetId) } : {}),
    ...(a.reason !== undefined ? { reason: text(a.reason, BOUNDS.actionText) } : {}),
    ...(a.error
      ? { error: { ...a.error, name: field(a.error.name), message: text(a.error.message, BOUNDS.actionText) } }
      : {}),
  };
}

function entry(e: TimelineEntry): TimelineEntry {
  return { ...e, at: field(e.at), ...(e.detail !== undefined ? { detail: text(e.detail, BOUNDS.note) } : {}) };
}

/**
 * The record with every string and list within BOUNDS (a cut list's last entry says how many
 * were left out). Such a record stays
 * under DYNAMODB_ITEM_LIMIT_BYTES whatever the event (test/unit/events/bounds.test.ts).
 */
export function boundRecord(record: ResponseRecord): ResponseRecord {
  const { reason, duplicateOf, notes, timeline, replacement } = record;
  return {
    ...record,
    eventId: field(record.eventId),
    eventTime: field(record.eventTime),
    detailType: field(record.detailType),
    instanceId: field(record.instanceId),
    account: field(record.account),
    region: field(record.region),
    autoScalingGroup: field(record.autoScalingGroup),
    ...(record.lifecycleState !== undefined ? { lifecycleState: field(record.lifecycleState) } : {}),
    ...(record.instanceType !== undefined ? { instanceType: field(record.instanceType) } : {}),
    ...(record.availabilityZone !== undefined ? { availabilityZone: field(record.availabilityZone) } : {}),
    ...(reason !== undefined ? { reason: text(reason) } : {}),
    ...(duplicateOf !== undefined ? { duplicateOf: field(duplicateOf) } : {}),
    targetGroups: list(record.targetGroups.map(field), (n) => `…[${n} more target groups]`),
    deregisteredFrom: list(record.deregisteredFrom.map(field), (n) => `…[${n} more target groups]`),
    actions: list(record.actions.map(action), (n) => ({
      action: 'lookup',
      target: '…',
      result: 'skipped',
      latencyMs: 0,
      reason: `…[${n} more actions not stored]`,
    })),
    ...(notes !== undefined
      ? { notes: list(notes.map((n) => text(n, BOUNDS.note)), (n) => `…[${n} more notes]`, BOUNDS.fewItems) }
      : {}),
    // Each milestone is recorded once, so a real timeline is never cut; an entry past the bound is dropped.
    ...(timeline !== undefined ? { timeline: timeline.slice(0, BOUNDS.fewItems).map(entry) } : {}),
    ...(replacement ? { replacement: { ...replacement, instanceId: field(replacement.instanceId) } } : {}),
  };
}
