// INSTANCE#<instanceId> points at the response that acted on the instance, or launched it as a
// replacement (written by the claim store's finish), so that later state-change events extend
// that record's timeline, and the index refresher, once it sees a replacement healthy, adds
// replacement-healthy.
import { BatchGetCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TimelineEntry } from '../../core/model';
import type { InstancePointer, TimelineAddition, TimelinePort } from '../../core/ports';
import { fullJitterDelay, sleep as realSleep, type Sleep } from '../clients';
import { itemKey } from '../table-schema';
import { isConditionalCheckFailed, pointerFrom, timelineEntryValue, type Item } from './items';

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_LIMIT = 100;

/** BatchGetItem kept returning UnprocessedKeys; retryable (the next refresh tries again). */
export class PointerReadError extends Error {
  override name = 'PointerReadError';
  readonly $retryable = {};
}

export interface DynamoTimelineStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  sleep?: Sleep;
  random?: () => number;
  /** Attempts per BatchGet of pointers while DynamoDB returns UnprocessedKeys (off the hot path). */
  pointerReadAttempts?: number;
}

export class DynamoTimelineStore implements TimelinePort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly pointerReadAttempts: number;

  constructor(opts: DynamoTimelineStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.pointerReadAttempts = opts.pointerReadAttempts ?? 5;
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
    const values: Record<string, unknown> = { ':entry': timelineEntryValue(entry) };
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
   * missed here is found by the next refresh. UnprocessedKeys are retried after a backoff;
   * throws PointerReadError when some remain after pointerReadAttempts.
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
   */
  async instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>> {
    const idOfKey = new Map(instanceIds.map((id) => [itemKey.instance(id), id]));
    const keys = [...idOfKey.keys()].map((pk) => ({ pk }));
    const pointers = new Map<string, InstancePointer>();
    for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
      for (const item of await this.readPointerChunk(keys.slice(i, i + BATCH_GET_LIMIT))) {
        const id = idOfKey.get(typeof item.pk === 'string' ? item.pk : '');
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
}
