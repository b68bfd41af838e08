// `spot-responder history`: recorded events, newest first.
import { DynamoHistoryReader } from '../lambda/aws/store/history-reader';
import type { StoredRecord } from '../lambda/aws/store/items';
import { clientsFor, type AwsTarget } from './aws-target';
import { formatRecord, recordSummary } from './format';

export interface HistoryOptions extends AwsTarget {
  table: string;
  /** How far back, as a duration: 30m, 6h, 7d, 2w. */
  since: string;
  limit: number;
  json: boolean;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * A duration in ms from a whole positive number and a unit: m (minutes), h (hours), d (days),
 * w (weeks): `30m`, `6h`, `7d`, `1w`. Raises an Error naming the accepted forms otherwise
 * (including 0, fractions, other units and values beyond the records' reach of ~10 years).
 */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})([mhdw])$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : NaN;
  if (!match || !(ms > 0) || ms > 10 * 365 * UNIT_MS.d) {
    throw new Error(`"${text}" is not a duration like 30m, 6h, 7d or 1w (a whole number > 0, then m, h, d or w)`);
  }
  return ms;
}

/** The event times `history --since` covers: from `since` before `now` up to `now` (ISO). */
export interface HistoryWindow {
  from: string;
  to: string;
  /** The --since text, as given or defaulted. */
  since: string;
  /** Whether --since was left at its default (commander's option value source). */
  sinceIsDefault: boolean;
}

/** The window `since` (30m, 6h, 7d, 1w) reaches back from `now` (epoch ms). Raises as parseDuration. */
export function historyWindow(since: string, now: number, sinceIsDefault = false): HistoryWindow {
  return { from: new Date(now - parseDuration(since)).toISOString(), to: new Date(now).toISOString(), since, sinceIsDefault };
}

export async function listHistory(opts: HistoryOptions, now: number = Date.now()): Promise<StoredRecord[]> {
  const since = historyWindow(opts.since, now).from;
  const clients = clientsFor(opts);
  const reader = new DynamoHistoryReader({ client: clients.dynamo, tableName: opts.table });
  return reader.history({ since, limit: opts.limit });
}

/** Longer windows to suggest when nothing was found, shortest first. */
const LONGER = ['1d', '7d', '30d', '365d', '3650d'] as const;

/**
 * What `history` says when the window holds no record: the window itself, and that older events
 * need a longer --since (with the next longer of 1d, 7d, 30d, 365d, 3650d as an example).
 */
export function emptyHistoryMessage(window: HistoryWindow): string {
  const current = parseDuration(window.since);
  const longer = LONGER.find((d) => parseDuration(d) > current);
  return (
    `no recorded events between ${window.from} and ${window.to} (--since ${window.since}${window.sinceIsDefault ? ', the default' : ''}); ` +
    `events older than that need a longer --since${longer ? `, e.g. --since ${longer}` : ''}`
  );
}

/**
 * Each record for people (or one JSON object per line with `json`). With no record, text output
 * says which window was empty (emptyHistoryMessage); JSON output prints nothing.
 */
export function printHistory(records: StoredRecord[], json: boolean, print: (line: string) => void, window: HistoryWindow): void {
  if (json) {
    records.forEach((r) => print(JSON.stringify(recordSummary(r))));
    return;
  }
  if (records.length === 0) print(emptyHistoryMessage(window));
  records.forEach((r) => print(`${formatRecord(r)}\n`));
}
