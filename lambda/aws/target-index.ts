// The target index: where each instance was registered when the refresher last looked.
// ELBv2 cannot answer "which target groups hold instance X?" without describing every group,
// which takes far too long (and too much of the account's API budget) inside a 2-minute
// warning, so the refresher does that walk on a schedule and the responder reads one item.
//
// Consistency: a refresh writes every TARGETS# item first, stamped with the time the refresh
// started (snapshotAt), then the INDEX#META item last. An instance absent from the latest
// complete snapshot keeps its old item until TTL deletes it (days, at DynamoDB's pace), so a
// reader compares stamps: older than the meta = stale, newer = a refresh in progress = valid.
import { BatchGetCommand, BatchWriteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AsgFacts, IndexedTarget, TargetIndexLookup } from '../core/model';
import type { CallOptions, ItemResult, TargetIndexPort, TargetSnapshotPort } from '../core/ports';
import { settleByKey } from './batching';
import { fullJitterDelay, sleep as realSleep, type Sleep } from './clients';
import { itemKey } from './table-schema';

/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_LIMIT = 100;

/** BatchWriteItem takes at most 25 put or delete requests. */
export const BATCH_WRITE_LIMIT = 25;

export class IndexWriteError extends Error {
  override name = 'IndexWriteError';
  readonly $retryable = {};
}

export class IndexReadError extends Error {
  override name = 'IndexReadError';
  readonly $retryable = {};
}

export interface DynamoTargetIndexOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Items outlive three refreshes, then expire: a dead refresher cannot leave a stale index forever. */
  refreshIntervalMinutes: number;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** Attempts per BatchWrite chunk while DynamoDB returns UnprocessedItems. */
  writeAttempts?: number;
  /** Attempts for the lookup's BatchGet while DynamoDB returns UnprocessedKeys (hot path: few). */
  readAttempts?: number;
}

interface TargetsItem {
  pk: string;
  targets: IndexedTarget[];
  /** The instance's Auto Scaling group as the refresher saw it, when it records one. */
  group?: AsgFacts;
  snapshotAt: string;
  expiresAt: number;
}

interface MetaItem {
  pk: string;
  snapshotAt: string;
  refreshedAt: string;
  instances: number;
  targets: number;
}

type Key = Record<string, unknown>;
type WriteRequest = { PutRequest: { Item: Record<string, unknown> } };

export class DynamoTargetIndex implements TargetIndexPort, TargetSnapshotPort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly writeAttempts: number;
  private readonly readAttempts: number;

  constructor(opts: DynamoTargetIndexOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.ttlSeconds = 3 * opts.refreshIntervalMinutes * 60;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.writeAttempts = opts.writeAttempts ?? 8;
    this.readAttempts = opts.readAttempts ?? 3;
  }

  /**
   * Write a complete snapshot. `snapshotAt` is when the scan started: a registration made during
   * the scan may be missing, but nothing the scan saw is older than that.
   */
  async writeSnapshot(byInstance: Map<string, IndexedTarget[]>, snapshotAt: string): Promise<void> {
    const expiresAt = Math.floor(this.now().getTime() / 1000) + this.ttlSeconds;
    const requests: WriteRequest[] = [];
    let targetCount = 0;
    for (const [instanceId, targets] of byInstance) {
      if (targets.length === 0) continue;
      targetCount += targets.length;
      // Registrations only: a health state is stale by the time a warning reads the item.
      const item: TargetsItem = {
        pk: itemKey.targets(instanceId),
        targets: targets.map(toIndexedTarget),
        snapshotAt,
        expiresAt,
      };
      requests.push({ PutRequest: { Item: { ...item } } });
    }
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      await this.writeChunk(requests.slice(i, i + BATCH_WRITE_LIMIT));
    }
    // Last, and only once every item is in: this is what makes the snapshot complete.
    const meta: MetaItem = {
      pk: itemKey.indexMeta,
      snapshotAt,
      refreshedAt: this.now().toISOString(),
      instances: requests.length,
      targets: targetCount,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...meta } }));
  }

  private async writeChunk(chunk: WriteRequest[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
      );
      pending = (out.UnprocessedItems?.[this.tableName] ?? []) as WriteRequest[];
      if (pending.length === 0) return;
      if (attempt >= this.writeAttempts) {
        throw new IndexWriteError(
          `${pending.length} index items still unprocessed after ${attempt} BatchWriteItem attempts`,
        );
      }
      await this.sleep(fullJitterDelay(attempt, this.random));
    }
  }

  /** One instance's lookup: `lookupMany` for one id; rejects with the read's error. */
  async lookup(instanceId: string, opts: CallOptions = {}): Promise<TargetIndexLookup> {
    const answer = (await this.lookupMany([instanceId], opts)).get(instanceId);
    if (!answer?.ok) throw answer?.error ?? new IndexReadError(`no answer for ${instanceId}`);
    return answer.value;
  }

  /**
   * BatchGetItem for every instance's TARGETS# item, strongly consistent, in chunks of 99 keys
   * plus the INDEX#META item (BatchGetItem takes at most 100 keys), all chunks at once, each
   * retried while DynamoDB returns UnprocessedKeys. A chunk that fails is the answer for every
   * instance it carried.
   */
  async lookupMany(instanceIds: readonly string[], opts: CallOptions = {}): Promise<Map<string, ItemResult<TargetIndexLookup>>> {
    return settleByKey<TargetIndexLookup>(
      instanceIds,
      BATCH_GET_LIMIT - 1,
      async (ids) => {
        const items = await this.readAll([...ids.map((id) => ({ pk: itemKey.targets(id) })), { pk: itemKey.indexMeta }], opts);
        const byKey = new Map(items.map((i) => [String(i.pk), i]));
        const meta = byKey.get(itemKey.indexMeta) as Partial<MetaItem> | undefined;
        return new Map(ids.map((id) => [id, this.answer(byKey.get(itemKey.targets(id)) as Partial<TargetsItem> | undefined, meta)]));
      },
      { targets: [] },
    );
  }

  private answer(item: Partial<TargetsItem> | undefined, meta: Partial<MetaItem> | undefined): TargetIndexLookup {
    const refreshedAt = typeof meta?.refreshedAt === 'string' ? { refreshedAt: meta.refreshedAt } : {};
    if (!item || !Array.isArray(item.targets)) return { targets: [], ...refreshedAt };
    // TTL deletes lazily; an expired item is as good as gone.
    if (typeof item.expiresAt === 'number' && item.expiresAt * 1000 <= this.now().getTime()) {
      return { targets: [], ...refreshedAt };
    }
    // Absent from the latest complete snapshot: the instance has left those groups since.
    if (meta?.snapshotAt && item.snapshotAt && item.snapshotAt < meta.snapshotAt) {
      return { targets: [], ...refreshedAt };
    }
    const group = isAsgFacts(item.group)
      ? { group: { ...item.group, instanceIds: item.group.instanceIds ?? [], desiredCapacity: item.group.desiredCapacity ?? 0 } }
      : {};
    return { targets: item.targets.map(toIndexedTarget), ...refreshedAt, ...group };
  }

  /** One BatchGet for the keys (at most 100), strongly consistent, retrying UnprocessedKeys. */
  private async readAll(keys: Key[], opts: CallOptions): Promise<Key[]> {
    const found: Key[] = [];
    let pending = keys;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        opts,
      );
      found.push(...((out.Responses?.[this.tableName] ?? []) as Key[]));
      pending = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Key[];
      if (pending.length === 0) return found;
      if (attempt >= this.readAttempts) {
        throw new IndexReadError(`target index read still unprocessed after ${attempt} BatchGetItem attempts`);
      }
      await this.sleep(fullJitterDelay(attempt, this.random));
    }
  }
}

/** The registration alone, as the index stores and answers it (no health state). */
function toIndexedTarget(raw: IndexedTarget): IndexedTarget {
  return {
    targetGroupArn: raw.targetGroupArn,
    targetId: raw.targetId,
    targetType: raw.targetType,
    ...(raw.port !== undefined ? { port: Number(raw.port) } : {}),
    ...(raw.availabilityZone !== undefined ? { availabilityZone: raw.availabilityZone } : {}),
  };
}

/** A group snapshot as the refresher stores it: used only when every fact a plan reads is there. */
function isAsgFacts(value: unknown): value is AsgFacts {
  if (typeof value !== 'object' || value === null) return false;
  const g = value as Partial<AsgFacts>;
  return (
    typeof g.groupName === 'string' &&
    Array.isArray(g.targetGroupArns) &&
    Array.isArray(g.terminatingHooks) &&
    typeof g.capacityRebalance === 'boolean' &&
    typeof g.tags === 'object' && g.tags !== null
  );
}
