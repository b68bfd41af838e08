// The claims that make the fleet-facing work happen once per interruption however often
// EventBridge delivers it: claim (one event, or a batch packed into transactions) and the
// heartbeat's renewal. Which keys, when a key is free and who holds it are core/claims.ts's
// rules; this file only speaks DynamoDB. The records the claims guard are record-store.ts's.
import { randomUUID } from 'node:crypto';
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  CLAIM_STATUS,
  CLAIM_TOKEN_ATTRIBUTE,
  claimCondition,
  claimTargets,
  firstHolder,
  holderOf,
  renewCondition,
  type ClaimHolder,
  type ClaimTarget,
} from '../../core/claims';
import type { CallOptions, ClaimKeys, ClaimResult, ClaimPort, HeldClaim, ItemResult, Renewal } from '../../core/ports';
import { TRANSIENT_CANCELLATION_CODES, fullJitterDelay } from '../clients';
import { TABLE_SCHEMA, historyDay, utcTime } from '../table-schema';
import {
  cancellationReasons,
  epochSeconds,
  fromAttributeValues,
  type Item,
} from './items';
import { DynamoTableStore, type DynamoTableStoreOptions } from './table-store';

export interface DynamoClaimStoreOptions extends DynamoTableStoreOptions {
  /** Claim attempts when DynamoDB cancels the transaction for a conflict, not a condition. */
  claimAttempts?: number;
}

/** TransactWriteItems takes at most 100 items. */
const TRANSACT_ITEMS_LIMIT = 100;

/** The claim half of ClaimPort (claim, claimAll, renewAll) on DynamoDB. */
export class DynamoClaimStore extends DynamoTableStore implements Pick<ClaimPort, 'claim' | 'claimAll' | 'renewAll'> {
  private readonly claimAttempts: number;

  constructor(opts: DynamoClaimStoreOptions) {
    super(opts);
    this.claimAttempts = opts.claimAttempts ?? 3;
  }

  /**
   * TransactionCanceledException is a 400 the SDK does not retry. Cancelled by a failed
   * condition, it is the answer (someone holds a key). Cancelled by TransactionConflict (a
   * concurrent transaction on the same items: most likely the duplicate racing us), throttling
   * or capacity, it is transient: retried here a few times within ~300 ms, then thrown. Any
   * other reason (validation) is a bug and thrown at once.
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
   */
  async claim(keys: ClaimKeys, leaseUntil: Date, opts: CallOptions = {}): Promise<ClaimResult> {
    const targets = claimTargets(keys);
    const token = randomUUID();
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.claimAttempts; attempt++) {
      if (attempt > 1) await this.sleep(fullJitterDelay(attempt - 1, this.random));
      try {
        await this.client.send(new TransactWriteCommand(this.claimTransaction(keys, targets, leaseUntil, token)), opts);
        return { claimed: true, token };
      } catch (err) {
        const reasons = cancellationReasons(err);
        if (!reasons) throw err;
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          const holder = holderFromReasons(reasons, targets, keys) ?? (await this.readHolder(keys, targets, opts));
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

  /**
   * The claims of a batch packed into TransactWriteItems of at most TRANSACT_ITEMS_LIMIT items
   * (each claim whole, no key twice in one transaction), side by side: 100 warnings cost 4
   * requests on the hot path instead of 100. Each claim's items and conditions are claim()'s.
   * A transaction is all or nothing, so when DynamoDB cancels one because some claims' keys are
   * held, those claims are answered from the cancellation reasons (the old item, ALL_OLD) and
   * the others are sent again without them; a claim whose holder the reasons do not name
   * (emulators), and every claim of a transaction cancelled for any other reason (a conflict,
   * throttling), is left to claim() on its own, which retries or reads the holder as it does
   * for one event. Any other error answers every claim of that transaction with it.
   */
  async claimAll(all: readonly ClaimKeys[], leaseUntil: Date, opts: CallOptions = {}): Promise<Array<ItemResult<ClaimResult>>> {
    const results: Array<ItemResult<ClaimResult>> = all.map(() => ({ ok: false, error: new Error('not claimed') }));
    const chunks = packClaims(all);
    await Promise.all(chunks.map((chunk) => this.claimChunk(all, chunk, leaseUntil, opts, results)));
    return results;
  }

  private async claimChunk(
    all: readonly ClaimKeys[],
    chunk: number[],
    leaseUntil: Date,
    opts: CallOptions,
    results: Array<ItemResult<ClaimResult>>,
  ): Promise<void> {
    const alone = async (i: number) => {
      try {
        results[i] = { ok: true, value: await this.claim(all[i] as ClaimKeys, leaseUntil, opts) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    };
    let pending = chunk;
    while (pending.length > 1) {
      const tokens = pending.map(() => randomUUID());
      const parts = pending.map((i, n) => {
        const keys = all[i] as ClaimKeys;
        const targets = claimTargets(keys);
        return { i, keys, targets, items: this.claimTransaction(keys, targets, leaseUntil, tokens[n] as string).TransactItems };
      });
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: parts.flatMap((p) => p.items) }), opts);
        parts.forEach((p, n) => (results[p.i] = { ok: true, value: { claimed: true, token: tokens[n] as string } }));
        return;
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (!reasons) {
          for (const p of parts) results[p.i] = { ok: false, error };
          return;
        }
        let offset = 0;
        const held: number[] = [];
        const unnamed: number[] = [];
        for (const p of parts) {
          const own = reasons.slice(offset, offset + p.items.length);
          offset += p.items.length;
          if (!own.some((r) => r.Code === 'ConditionalCheckFailed')) continue;
          const holder = holderFromReasons(own, p.targets, p.keys);
          if (holder) {
            results[p.i] = { ok: true, value: { claimed: false, ...holder } };
            held.push(p.i);
          } else {
            unnamed.push(p.i);
          }
        }
        if (held.length === 0 && unnamed.length === 0) {
          // A conflict or throttling: each claim retries on its own.
          await Promise.all(pending.map(alone));
          return;
        }
        await Promise.all(unnamed.map(alone));
        pending = pending.filter((i) => !held.includes(i) && !unnamed.includes(i));
      }
    }
    await Promise.all(pending.map(alone));
  }

  private claimTransaction(keys: ClaimKeys, targets: ClaimTarget[], leaseUntil: Date, token: string) {
    const now = this.now();
    const nowIso = now.toISOString();
    const lease = leaseUntil.toISOString();
    // A claim whose invocation never finishes must not outlive the records.
    const expiresAt = epochSeconds(now) + this.retentionSeconds;
    const item = (target: ClaimTarget): Item =>
      target.kind === 'event'
        ? {
            pk: target.pk,
            status: CLAIM_STATUS.inProgress,
            eventId: keys.eventId,
            instanceId: keys.instanceId,
            eventTime: keys.eventTime,
            leaseUntil: lease,
            claimedAt: nowIso,
            [CLAIM_TOKEN_ATTRIBUTE]: token,
            deliveries: 1,
            // In the history index from the start: an in-progress or abandoned claim shows there.
            [TABLE_SCHEMA.historyIndex.partitionKey]: historyDay(keys.eventTime),
            [TABLE_SCHEMA.historyIndex.sortKey]: `${utcTime(keys.eventTime)}#${keys.eventId}`,
            expiresAt,
          }
        : {
            pk: target.pk,
            status: CLAIM_STATUS.inProgress,
            owner: keys.eventId,
            leaseUntil: lease,
            [CLAIM_TOKEN_ATTRIBUTE]: token,
            expiresAt,
          };
    return {
      TransactItems: targets.map((target) => ({
        Put: {
          TableName: this.tableName,
          Item: item(target),
          ...claimCondition(target.claimable, nowIso),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
        },
      })),
    };
  }

  /** The fallback when the cancellation reasons carry no item: read every key as it is now. */
  private async readHolder(keys: ClaimKeys, targets: ClaimTarget[], opts: CallOptions): Promise<ClaimHolder | undefined> {
    const items = await Promise.all(
      targets.map(async ({ pk }) => {
        const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }), opts);
        return out.Item;
      }),
    );
    return firstHolder(keys, items, this.now().toISOString());
  }

  /**
   * The heartbeat of a batch: the claims packed whole into TransactWriteItems of at most
   * TRANSACT_ITEMS_LIMIT items, one conditional Update per key moving leaseUntil while the key
   * is IN_PROGRESS under the claim's own token (claims.ts: renewCondition), the transactions side
   * by side. 100 events of three keys cost 4 requests a beat instead of 300 UpdateItems, and
   * every key of one claim moves together. A cancelled transaction wrote nothing: the claims
   * whose keys failed the condition are 'lost', the others are sent again (with the transient
   * cancellations, TransactionConflict or throttling, up to `claimAttempts` times in all, with
   * jitter) and end 'failed' with the last error if they never went through; any other error
   * fails the claims of that transaction. Never rejects.
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
   */
  async renewAll(claims: readonly HeldClaim[], leaseUntil: Date, opts: CallOptions = {}): Promise<Renewal[]> {
    const results: Renewal[] = claims.map(() => ({ outcome: 'failed', error: new Error('not renewed') }));
    const chunks = packClaims(claims.map((c) => c.keys));
    await Promise.all(chunks.map((chunk) => this.renewChunk(claims, chunk, leaseUntil, opts, results)));
    return results;
  }

  private async renewChunk(claims: readonly HeldClaim[], chunk: number[], leaseUntil: Date, opts: CallOptions, results: Renewal[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0 && attempt <= this.claimAttempts; attempt++) {
      if (attempt > 1) await this.sleep(fullJitterDelay(attempt - 1, this.random));
      const keyed = pending.flatMap((i) => claimTargets((claims[i] as HeldClaim).keys).map(({ pk }) => ({ i, pk })));
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: keyed.map(({ i, pk }) => {
              const condition = renewCondition((claims[i] as HeldClaim).token);
              return {
                Update: {
                  TableName: this.tableName,
                  Key: { pk },
                  UpdateExpression: 'SET #leaseUntil = :until',
                  ConditionExpression: condition.ConditionExpression,
                  ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, '#leaseUntil': 'leaseUntil' },
                  ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ':until': leaseUntil.toISOString() },
                },
              };
            }),
          }),
          opts,
        );
        for (const i of pending) results[i] = { outcome: 'held' };
        return;
      } catch (err) {
        const reasons = cancellationReasons(err);
        const lost = new Set(keyed.filter((_, j) => reasons?.[j]?.Code === 'ConditionalCheckFailed').map(({ i }) => i));
        const transient = reasons?.some((r) => r.Code && TRANSIENT_CANCELLATION_CODES.has(r.Code)) ?? false;
        for (const i of lost) results[i] = { outcome: 'lost' };
        pending = pending.filter((i) => !lost.has(i));
        for (const i of pending) results[i] = { outcome: 'failed', error: err };
        // Lost claims cancelled the rest: send those again at once. Otherwise only a transient cancellation is worth it.
        if (lost.size === 0 && !transient) return;
      }
    }
  }
}

/**
 * The claims' indexes packed into transactions: each claim whole, at most TRANSACT_ITEMS_LIMIT
 * items, and never a key twice in one transaction (DynamoDB refuses that: ValidationException).
 */
function packClaims(all: readonly ClaimKeys[]): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let pks = new Set<string>();
  all.forEach((keys, i) => {
    const own = claimTargets(keys).map((t) => t.pk);
    if (current.length > 0 && (pks.size + own.length > TRANSACT_ITEMS_LIMIT || own.some((pk) => pks.has(pk)))) {
      chunks.push(current);
      current = [];
      pks = new Set();
    }
    current.push(i);
    own.forEach((pk) => pks.add(pk));
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The holder named by the old items DynamoDB returned (ALL_OLD): the first key, in the holder
 * order (the transaction's), whose condition failed. DynamoDB has already judged those items
 * held; the reasons are aligned with the transaction's items.
 */
function holderFromReasons(reasons: CancellationReason[], targets: ClaimTarget[], keys: ClaimKeys): ClaimHolder | undefined {
  for (const [index, reason] of reasons.entries()) {
    const target = targets[index];
    if (reason.Code !== 'ConditionalCheckFailed' || !reason.Item || !target) continue;
    return holderOf(target, fromAttributeValues(reason.Item), keys);
  }
  return undefined;
}
