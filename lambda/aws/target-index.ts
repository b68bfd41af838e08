// The target index: where each instance was registered, and what its Auto Scaling group looked
// like, when the refresher last looked. ELBv2 cannot answer "which target groups hold instance
// X?" without describing every group, which takes far too long (and too much of the account's
// API budget) inside a 2-minute warning, so the refresher does that walk on a schedule and the
// responder reads one item, in the same BatchGetItem as the meta item: one round of reads.
//
// Why the group facts are copied into every member's item rather than kept once per group:
// the responder learns the group's name only from DescribeAutoScalingInstances, so a GROUP#
// item would cost a second round of reads; copied, they cost bytes (bounded: a group's tags,
// target groups and hooks are a few KB, far under DynamoDB's 400 KB item limit, and no member
// list is stored).
//
// Visibility: a snapshot may take several invocations to build (resumable refresh), and must
// become visible only when complete. Each TARGETS# item therefore holds two slots: the
// top-level one (targets, group, snapshotAt) and `staged` (the same three). A refresh writes
// into whichever slot does not hold the visible snapshot (INDEX#META's snapshotAt), merging
// with what earlier parts of the same snapshot put there, and flips INDEX#META last. A reader
// takes the slot whose snapshotAt equals the meta's; an instance with none is in no group and
// no target group as far as the index knows.
//
// Also here, being items of the index: INDEX#LEASE (single-flight refreshes) and
// INDEX#CHECKPOINT (where an unfinished refresh stopped).
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { AsgFacts, IndexedTarget, TargetIndexLookup } from '../core/model';
import type { CallOptions, ItemResult, TargetIndexPort } from '../core/ports';
import { settleByKey } from './batching';
import { fullJitterDelay, sleep as realSleep, type Sleep } from './clients';
import { itemKey } from './table-schema';

/** BatchWriteItem takes at most 25 put or delete requests. */
export const BATCH_WRITE_LIMIT = 25;
/** BatchGetItem takes at most 100 keys. */
export const BATCH_GET_LIMIT = 100;
/** Index items outlive the snapshot that wrote them by this long (s) before TTL removes them. */
export const INDEX_ITEM_GRACE_SECONDS = 86_400;

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
  /**
   * The refresher's schedule (minutes). A complete snapshot is trusted for three intervals, or
   * three times as long as it took to build if that is longer: a dead refresher cannot leave a
   * stale index in use forever.
   */
  refreshIntervalMinutes: number;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** Attempts per BatchWrite chunk while DynamoDB returns UnprocessedItems. */
  writeAttempts?: number;
  /** Attempts for the lookup's BatchGet while DynamoDB returns UnprocessedKeys (hot path: few). */
  readAttempts?: number;
}

/** What the index holds for one instance in one snapshot. */
export interface IndexEntry {
  targets: IndexedTarget[];
  group?: AsgFacts;
}

interface Slot {
  snapshotAt: string;
  targets: IndexedTarget[];
  group?: AsgFacts;
}

interface TargetsItem extends Partial<Slot> {
  pk: string;
  staged?: Slot;
  expiresAt: number;
}

interface MetaItem {
  pk: string;
  snapshotAt: string;
  refreshedAt: string;
  /** ISO time after which the snapshot is too old to act on (absent in items of older versions). */
  validUntil?: string;
  instances: number;
  targets: number;
}

/** Where an unfinished refresh stopped; opaque to the index, owned by the refresher. */
export interface RefreshCheckpoint<T = unknown> {
  snapshotAt: string;
  /** The refresher's own resume state (scan position, counts so far). */
  state: T;
  updatedAt: string;
}

export type LeaseResult = { acquired: true } | { acquired: false; holder: string; leaseUntil: string };

type Key = Record<string, unknown>;
type WriteRequest = { PutRequest: { Item: Record<string, unknown> } };

export class DynamoTargetIndex implements TargetIndexPort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly writeAttempts: number;
  private readonly readAttempts: number;

  constructor(opts: DynamoTargetIndexOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.intervalMs = opts.refreshIntervalMinutes * 60_000;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.writeAttempts = opts.writeAttempts ?? 8;
    this.readAttempts = opts.readAttempts ?? 3;
  }

  /**
   * Write a complete snapshot in one go: one part, then complete. `snapshotAt` is when the
   * scan started: a registration made during the scan may be missing, but nothing the scan saw
   * is older than that.
   */
  async writeSnapshot(entries: Map<string, IndexEntry>, snapshotAt: string): Promise<void> {
    await this.writePart(entries, snapshotAt);
    await this.completeSnapshot(snapshotAt, countsOf(entries));
  }

  /**
   * Add one part of the snapshot `snapshotAt`, invisible to readers until completeSnapshot.
   * Entries of an instance already written by an earlier part of the same snapshot are merged
   * (targets appended without repeats, the group kept or set). Reads the existing items
   * (BatchGetItem, 100 keys, strongly consistent) to keep the visible slot; then BatchWriteItem,
   * 25 per call. Throws IndexWriteError / IndexReadError when DynamoDB keeps leaving items
   * unprocessed; the SDK's error otherwise.
   */
  async writePart(entries: Map<string, IndexEntry>, snapshotAt: string): Promise<void> {
    const ids = [...entries.keys()].filter((id) => hasContent(entries.get(id)));
    if (ids.length === 0) return;
    const visible = (await this.readMeta())?.snapshotAt;
    const expiresAt = Math.floor(this.now().getTime() / 1000) + Math.ceil((3 * this.intervalMs) / 1000) + INDEX_ITEM_GRACE_SECONDS;
    const requests: WriteRequest[] = [];
    for (let i = 0; i < ids.length; i += BATCH_GET_LIMIT) {
      const chunk = ids.slice(i, i + BATCH_GET_LIMIT);
      const existing = new Map(
        (await this.batchGet(chunk.map((id) => ({ pk: itemKey.targets(id) })), {}, this.writeAttempts)).map((item) => [
          item.pk as string,
          item as unknown as TargetsItem,
        ]),
      );
      for (const id of chunk) {
        const pk = itemKey.targets(id);
        const item = nextItem(existing.get(pk), pk, entries.get(id)!, snapshotAt, visible, expiresAt);
        requests.push({ PutRequest: { Item: { ...item } } });
      }
    }
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      await this.writeChunk(requests.slice(i, i + BATCH_WRITE_LIMIT));
    }
  }

  /**
   * Make the snapshot visible: INDEX#META names it, written last, once every part is in. It is
   * trusted until refreshedAt + max(3 intervals, 3 x the time it took since snapshotAt).
   */
  async completeSnapshot(snapshotAt: string, counts: { instances: number; targets: number }): Promise<void> {
    const refreshed = this.now().getTime();
    const took = Math.max(0, refreshed - Date.parse(snapshotAt));
    const meta: MetaItem = {
      pk: itemKey.indexMeta,
      snapshotAt,
      refreshedAt: new Date(refreshed).toISOString(),
      validUntil: new Date(refreshed + 3 * Math.max(this.intervalMs, took)).toISOString(),
      instances: counts.instances,
      targets: counts.targets,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...meta } }));
  }

  /** When the last complete snapshot was made visible; undefined when none ever was. */
  async refreshedAt(): Promise<string | undefined> {
    return (await this.readMeta())?.refreshedAt;
  }

  /**
   * Take the refresh lease until `until` (conditional PutItem: no lease, or one that expired).
   * Resolves acquired: false with the holder while another refresh holds it.
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
   */
  async acquireLease(owner: string, until: Date): Promise<LeaseResult> {
    const now = this.now();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: itemKey.indexLease, owner, leaseUntil: until.toISOString(), acquiredAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { acquired: true };
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
      // The document client does not unmarshall error payloads: the old item is raw AttributeValues.
      const old = (err as { Item?: Record<string, { S?: string }> }).Item ?? {};
      return { acquired: false, holder: old.owner?.S ?? 'unknown', leaseUntil: old.leaseUntil?.S ?? 'unknown' };
    }
  }

  /** Give the lease back, if `owner` still holds it (another refresh may have taken over an expired one). */
  async releaseLease(owner: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: itemKey.indexLease },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  /** The checkpoint of an unfinished refresh, or undefined. Strongly consistent. */
  async readCheckpoint<T>(): Promise<RefreshCheckpoint<T> | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: itemKey.indexCheckpoint }, ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item || typeof item.snapshotAt !== 'string') return undefined;
    return { snapshotAt: item.snapshotAt, state: item.state as T, updatedAt: String(item.updatedAt ?? '') };
  }

  /** Record where the refresh stopped; it expires with the items it refers to. */
  async writeCheckpoint<T>(snapshotAt: string, state: T): Promise<void> {
    const now = this.now();
    const expiresAt = Math.floor(now.getTime() / 1000) + INDEX_ITEM_GRACE_SECONDS;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: itemKey.indexCheckpoint, snapshotAt, state, updatedAt: now.toISOString(), expiresAt },
      }),
    );
  }

  async clearCheckpoint(): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk: itemKey.indexCheckpoint } }));
  }

  /** One instance's lookup: `lookupMany` for one id; rejects with the read's error. */
  async lookup(instanceId: string, opts: CallOptions = {}): Promise<TargetIndexLookup> {
    const answer = (await this.lookupMany([instanceId], opts)).get(instanceId);
    if (!answer?.ok) throw answer?.error ?? new IndexReadError(`no answer for ${instanceId}`);
    return answer.value;
  }

  /**
   * Every instance's registrations and group in the visible snapshot: BatchGetItem for the
   * TARGETS# items in chunks of 99 keys plus the INDEX#META item (BatchGetItem takes at most
   * 100 keys), all chunks at once, strongly consistent, each retried while DynamoDB returns
   * UnprocessedKeys. An instance gets empty targets (no group) when it is not in the visible
   * snapshot, its item expired, or the snapshot is past its validUntil. A chunk that fails
   * (IndexReadError when keys stay unprocessed, or the SDK's error) is the answer for every
   * instance it carried.
   */
  async lookupMany(instanceIds: readonly string[], opts: CallOptions = {}): Promise<Map<string, ItemResult<TargetIndexLookup>>> {
    return settleByKey<TargetIndexLookup>(
      instanceIds,
      BATCH_GET_LIMIT - 1,
      async (ids) => {
        const keys = [...ids.map((id) => ({ pk: itemKey.targets(id) })), { pk: itemKey.indexMeta }];
        const items = await this.batchGet(keys, opts, this.readAttempts);
        const byKey = new Map(items.map((i) => [String(i.pk), i]));
        const meta = byKey.get(itemKey.indexMeta) as Partial<MetaItem> | undefined;
        return new Map(
          ids.map((id) => [id, this.answer(byKey.get(itemKey.targets(id)) as Partial<TargetsItem> | undefined, meta)]),
        );
      },
      { targets: [] },
    );
  }

  private answer(item: Partial<TargetsItem> | undefined, meta: Partial<MetaItem> | undefined): TargetIndexLookup {
    const refreshedAt = typeof meta?.refreshedAt === 'string' ? { refreshedAt: meta.refreshedAt } : {};
    const none = { targets: [], ...refreshedAt };
    if (!item) return none;
    const nowMs = this.now().getTime();
    // TTL deletes lazily; an expired item is as good as gone.
    if (typeof item.expiresAt === 'number' && item.expiresAt * 1000 <= nowMs) return none;
    if (typeof meta?.validUntil === 'string' && Date.parse(meta.validUntil) <= nowMs) return none;
    const slot = visibleSlot(item, meta?.snapshotAt);
    if (!slot) return none;
    // A group snapshot is used only when every fact a plan reads is there (items of older versions lack some).
    const group = isAsgFacts(slot.group)
      ? { group: { ...slot.group, instanceIds: slot.group.instanceIds ?? [], desiredCapacity: slot.group.desiredCapacity ?? 0 } }
      : {};
    return { targets: (slot.targets ?? []).map(toIndexedTarget), ...refreshedAt, ...group };
  }

  private async readMeta(): Promise<Partial<MetaItem> | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: itemKey.indexMeta }, ConsistentRead: true }),
    );
    return out.Item as Partial<MetaItem> | undefined;
  }

  private async writeChunk(chunk: WriteRequest[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
      pending = (out.UnprocessedItems?.[this.tableName] ?? []) as WriteRequest[];
      if (pending.length === 0) return;
      if (attempt >= this.writeAttempts) {
        throw new IndexWriteError(`${pending.length} index items still unprocessed after ${attempt} BatchWriteItem attempts`);
      }
      await this.sleep(fullJitterDelay(attempt, this.random));
    }
  }

  /** BatchGetItem of at most 100 keys, strongly consistent, retrying UnprocessedKeys after a backoff. */
  private async batchGet(keys: Key[], opts: CallOptions, attempts: number): Promise<Key[]> {
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
      if (attempt >= attempts) {
        throw new IndexReadError(`target index read still unprocessed after ${attempt} BatchGetItem attempts`);
      }
      await this.sleep(fullJitterDelay(attempt, this.random));
    }
  }
}

function hasContent(entry: IndexEntry | undefined): entry is IndexEntry {
  return !!entry && (entry.targets.length > 0 || !!entry.group);
}

/** Instances and registrations in a set of entries: the meta item's counts. */
export function countsOf(entries: Map<string, IndexEntry>): { instances: number; targets: number } {
  let instances = 0;
  let targets = 0;
  for (const entry of entries.values()) {
    if (!hasContent(entry)) continue;
    instances++;
    targets += entry.targets.length;
  }
  return { instances, targets };
}

/** The slot readers see: the one holding the visible snapshot (top-level when no meta was ever written). */
function visibleSlot(item: Partial<TargetsItem>, visible: string | undefined): Partial<Slot> | undefined {
  if (visible === undefined) return Array.isArray(item.targets) ? item : undefined;
  if (item.snapshotAt === visible) return item;
  if (item.staged?.snapshotAt === visible) return item.staged;
  return undefined;
}

/**
 * The item after adding `entry` to snapshot `snapshotAt`: into the slot already holding that
 * snapshot (merged), else into the slot not holding the visible one.
 */
function nextItem(
  old: TargetsItem | undefined,
  pk: string,
  entry: IndexEntry,
  snapshotAt: string,
  visible: string | undefined,
  expiresAt: number,
): TargetsItem {
  const top: Slot | undefined =
    old && typeof old.snapshotAt === 'string'
      ? { snapshotAt: old.snapshotAt, targets: old.targets ?? [], ...(old.group ? { group: old.group } : {}) }
      : undefined;
  const staged = old?.staged;
  const fresh = (prior?: Slot): Slot => merge(prior?.snapshotAt === snapshotAt ? prior : undefined, entry, snapshotAt);
  let newTop: Slot | undefined;
  let newStaged: Slot | undefined;
  if (top?.snapshotAt === snapshotAt || (staged?.snapshotAt !== snapshotAt && top?.snapshotAt !== visible)) {
    newTop = fresh(top);
    newStaged = staged?.snapshotAt === visible ? staged : undefined;
  } else {
    newTop = top;
    newStaged = fresh(staged);
  }
  return {
    pk,
    ...(newTop ? { snapshotAt: newTop.snapshotAt, targets: newTop.targets, ...(newTop.group ? { group: newTop.group } : {}) } : {}),
    ...(newStaged ? { staged: newStaged } : {}),
    expiresAt,
  };
}

function merge(prior: Slot | undefined, entry: IndexEntry, snapshotAt: string): Slot {
  const targets = [...(prior?.targets ?? [])];
  const seen = new Set(targets.map(targetKey));
  for (const t of entry.targets.map(toIndexedTarget)) {
    if (seen.has(targetKey(t))) continue;
    seen.add(targetKey(t));
    targets.push(t);
  }
  const group = entry.group ?? prior?.group;
  return { snapshotAt, targets, ...(group ? { group } : {}) };
}

function targetKey(t: IndexedTarget): string {
  return `${t.targetGroupArn}|${t.targetId}|${t.port ?? ''}`;
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
    Array.isArray(g.suspendedProcesses) &&
    typeof g.tags === 'object' &&
    g.tags !== null
  );
}
