// The claims that make the fleet-facing work happen once per interruption however often
// EventBridge delivers it, and the records they guard. Which keys, when a key is free, who holds
// it and what it says afterwards are core/claims.ts's rules; this file only speaks DynamoDB.
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import {
  CLAIM_ATTRIBUTE_NAMES,
  CLAIM_STATUS,
  actedOnInstance,
  actionLeaseUntil,
  actionStatus,
  claimCondition,
  claimKey,
  claimTargets,
  finishedStatus,
  firstHolder,
  holderOf,
  signalKey,
  unclaimedStatus,
  type ClaimHolder,
  type ClaimTarget,
} from '../../core/claims';
import type { ResponseRecord } from '../../core/model';
import { withoutUndefined } from '../../core/objects';
import type { CallOptions, ClaimKeys, ClaimResult, ClaimPort } from '../../core/ports';
import { TRANSIENT_CANCELLATION_CODES, fullJitterDelay, sleep as realSleep, type Sleep } from '../clients';
import { TABLE_SCHEMA } from '../table-schema';
import {
  POINTER_TTL_SECONDS,
  epochSeconds,
  fromAttributeValues,
  isConditionalCheckFailed,
  pointerItem,
  recordIndexAttributes,
  timelineMap,
  type Item,
} from './items';

export interface DynamoClaimStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long records (and claims whose invocation never finished) live, in days. */
  retentionDays: number;
  now?: () => Date;
  sleep?: Sleep;
  random?: () => number;
  /** Claim attempts when DynamoDB cancels the transaction for a conflict, not a condition. */
  claimAttempts?: number;
}

export class DynamoClaimStore implements ClaimPort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly claimAttempts: number;

  constructor(opts: DynamoClaimStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.retentionSeconds = opts.retentionDays * 86_400;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
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
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.claimAttempts; attempt++) {
      if (attempt > 1) await this.sleep(fullJitterDelay(attempt - 1, this.random));
      try {
        await this.client.send(new TransactWriteCommand(this.claimTransaction(keys, targets, leaseUntil)), opts);
        return { claimed: true };
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

  private claimTransaction(keys: ClaimKeys, targets: ClaimTarget[], leaseUntil: Date) {
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
            deliveries: 1,
            expiresAt,
          }
        : { pk: target.pk, status: CLAIM_STATUS.inProgress, owner: keys.eventId, leaseUntil: lease, expiresAt };
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
   * The record and the release of every claim, atomically. The record is written with an Update
   * (SET every field) rather than a Put so that a duplicate noted while we worked keeps its
   * deliveries / duplicateEventIds annotations.
   */
  async finish(keys: ClaimKeys, record: ResponseRecord): Promise<void> {
    const now = this.now();
    const status = finishedStatus(record.outcome);
    const fields: Item = {
      ...withoutUndefined({ ...record }),
      timeline: timelineMap(record.timeline ?? []),
      ...recordIndexAttributes(record, this.retentionSeconds, now),
      status,
    };
    const acted = actedOnInstance(record.actions);
    const pointerExpiresAt = epochSeconds(now) + POINTER_TTL_SECONDS;
    const pointer = (instanceId: string, role: 'interrupted' | 'replacement') => ({
      Put: { TableName: this.tableName, Item: pointerItem(instanceId, role, keys.eventId, record, pointerExpiresAt) },
    });
    const names: Record<string, string> = { '#leaseUntil': 'leaseUntil' };
    const values: Record<string, unknown> = {};
    const assignments = Object.entries(fields).map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: { pk: claimKey.event(keys.eventId) },
              UpdateExpression: `SET ${assignments.join(', ')} REMOVE #leaseUntil`,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
          {
            Update: {
              TableName: this.tableName,
              Key: { pk: signalKey(keys) },
              UpdateExpression: 'SET #status = :status, #expiresAt = :expiresAt',
              ExpressionAttributeNames: { '#status': 'status', '#expiresAt': TABLE_SCHEMA.ttlAttribute },
              ExpressionAttributeValues: { ':status': status, ':expiresAt': fields[TABLE_SCHEMA.ttlAttribute] },
            },
          },
          ...(keys.actsOnInstance
            ? [
                {
                  Update: {
                    TableName: this.tableName,
                    Key: { pk: claimKey.action(keys.instanceId) },
                    UpdateExpression: 'SET #status = :status, #leaseUntil = :until',
                    ExpressionAttributeNames: { ...CLAIM_ATTRIBUTE_NAMES },
                    ExpressionAttributeValues: {
                      ':status': actionStatus(record.outcome, acted),
                      ':until': actionLeaseUntil(record.finishedAt, now).toISOString(),
                    },
                  },
                },
              ]
            : []),
          ...(acted && record.instanceId ? [pointer(record.instanceId, 'interrupted')] : []),
          ...(record.replacement ? [pointer(record.replacement.instanceId, 'replacement')] : []),
        ],
      }),
    );
  }

  async noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: claimKey.event(originalEventId) },
          UpdateExpression: 'ADD deliveries :one, duplicateEventIds :duplicate SET lastDuplicateAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1, ':duplicate': new Set([duplicateEventId]), ':at': at },
        }),
      );
    } catch (err) {
      // The original's record is gone (expired): nothing to annotate.
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }

  async recordUnclaimed(record: ResponseRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...record,
            pk: claimKey.event(record.eventId),
            status: unclaimedStatus(record.outcome),
            ...recordIndexAttributes(record, this.retentionSeconds, this.now()),
            deliveries: 1,
          },
          // Never overwrite: a rejected redelivery must not erase the record of a handled event.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (isConditionalCheckFailed(err)) return;
      throw err;
    }
  }
}

function cancellationReasons(err: unknown): CancellationReason[] | undefined {
  if (!(err instanceof Error) || err.name !== 'TransactionCanceledException') return undefined;
  return (err as Error & { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
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
