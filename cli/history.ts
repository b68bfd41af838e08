// `spot-responder history`: recorded events, newest first.
import { DynamoHistoryReader } from '../lambda/aws/store/history-reader';
import type { StoredRecord } from '../lambda/aws/store/items';
import { clientsFor, type AwsTarget } from './aws-target';
import { formatRecord, recordSummary } from './format';

export interface HistoryOptions extends AwsTarget {
  table: string;
  /** How far back, as a duration: 30m, 6h, 7d. */
  since: string;
  limit: number;
  json: boolean;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function parseDuration(text: string): number {
  const match = /^(\d+)([mhd])$/.exec(text.trim());
  if (!match) throw new Error(`--since "${text}" is not a duration like 30m, 6h or 7d`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export async function listHistory(opts: HistoryOptions, now: number = Date.now()): Promise<StoredRecord[]> {
  const since = new Date(now - parseDuration(opts.since)).toISOString();
  const clients = clientsFor(opts);
  const reader = new DynamoHistoryReader({ client: clients.dynamo, tableName: opts.table });
  return reader.history({ since, limit: opts.limit });
}

export function printHistory(records: StoredRecord[], json: boolean, print: (line: string) => void): void {
  if (json) {
    records.forEach((r) => print(JSON.stringify(recordSummary(r))));
    return;
  }
  if (records.length === 0) print('no recorded events in that window');
  records.forEach((r) => print(`${formatRecord(r)}\n`));
}
