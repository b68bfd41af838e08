// What the claim and record stores share: the records table's client and name, the clock, the
// records' lifetime and the backoff of their own retries.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { sleep as realSleep, type Sleep } from '../clients';

export interface DynamoTableStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long records (and claims whose invocation never finished) live, in days. */
  retentionDays: number;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
}

/** A store over the records table; subclasses add their own operations. */
export abstract class DynamoTableStore {
  protected readonly client: DynamoDBDocumentClient;
  protected readonly tableName: string;
  /** retentionDays in seconds (the TTL attribute counts in epoch seconds). */
  protected readonly retentionSeconds: number;
  protected readonly now: () => Date;
  protected readonly sleep: Sleep;
  protected readonly random: () => number;

  constructor(opts: DynamoTableStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.retentionSeconds = opts.retentionDays * 86_400;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
  }
}
