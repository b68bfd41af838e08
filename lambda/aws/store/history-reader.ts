// Recorded events, read back through the history index (one partition per UTC day). Needs
// nothing but the table: the CLI's `history` reads with it and writes nothing.
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { HistoryQuery, HistoryPort } from '../../core/ports';
import { TABLE_SCHEMA, historyDay, utcTime } from '../table-schema';
import { toStoredRecord, type Item, type StoredRecord } from './items';

export interface DynamoHistoryReaderOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  now?: () => Date;
}

export class DynamoHistoryReader implements HistoryPort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;

  constructor(opts: DynamoHistoryReaderOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * Records whose event time is at or after `since`, newest first, one day partition at a time
   * (Query on the index, paginated by LastEvaluatedKey). Throws RangeError when `since` is no
   * ISO time. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html
   */
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
        const nowIso = this.now().toISOString();
        records.push(...(out.Items ?? []).map((item) => toStoredRecord(item, nowIso)));
        startKey = out.LastEvaluatedKey;
      } while (startKey && records.length < limit);
      if (records.length >= limit) break;
    }
    const timeOf = (r: StoredRecord) => `${utcTime(r.eventTime ?? r.receivedAt)}#${r.eventId}`;
    return records.sort((a, b) => (timeOf(a) < timeOf(b) ? 1 : timeOf(a) > timeOf(b) ? -1 : 0)).slice(0, limit);
  }
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
