// The records the claims guard: the response's record written with the release of its claims
// (merged with every earlier attempt: core/attempts.ts), an unclaimed event's record, a
// duplicate noted on the original, and a too-late delivery closing an abandoned claim. Which
// status a record leaves is core/claims.ts's rule; this file only speaks DynamoDB.
import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  CLAIM_ATTRIBUTE_NAMES,
  CLAIM_STATUS,
  actedOnInstance,
  actionLeaseUntil,
  actionStatus,
  claimKey,
  claimState,
  finishedStatus,
  signalKey,
  unclaimedStatus,
} from '../../core/claims';
import { mergeAttempts, type AttemptRecord } from '../../core/attempts';
import type { Outcome, ResponseRecord } from '../../core/model';
import { withoutUndefined } from '../../core/objects';
import type { ClaimKeys, ClaimPort, FinishOptions, UnclaimedWrite } from '../../core/ports';
import { errorInfo, fullJitterDelay } from '../clients';
import { TABLE_SCHEMA, itemKey } from '../table-schema';
import { DynamoTableStore, type DynamoTableStoreOptions } from './table-store';
import {
  POINTER_TTL_SECONDS,
  cancellationReasons,
  epochSeconds,
  isConditionalCheckFailed,
  pointerItem,
  recordIndexAttributes,
  timelineMap,
  type Item,
} from './items';

export interface DynamoRecordStoreOptions extends DynamoTableStoreOptions {
  /** Record writes `finish` makes at least, even past its `until` (default 3). */
  finishAttempts?: number;
}

/**
 * The final record could not be written: the fleet work is done (or failed) but unrecorded.
 * Thrown so the invocation fails loudly: Lambda retries it, the retry takes over the claim
 * once its lease has run out and records the merge, and after the last retry the event
 * reaches the dead-letter queue. `cause` is the last DynamoDB error.
 */
export class RecordWriteFailedError extends Error {
  override name = 'RecordWriteFailedError';
  constructor(
    readonly record: ResponseRecord,
    readonly writes: number,
    options: { cause: unknown },
  ) {
    const info = errorInfo(options.cause);
    super(`the record of event ${record.eventId} (${record.outcome}) was not written after ${writes} attempt(s): ${info.name}: ${info.message}`, options);
  }
}

/**
 * The most record writes `finish` makes, however much time is left: with backoff from 200 ms
 * capped at 2 s, eight writes span at most ~8 s of waiting (each write has the SDK's own five
 * attempts under it), well inside the response's 120 s.
 */
const FINISH_MAX_WRITES = 8;


/** The ATTEMPTS#<eventId> item: every recorded attempt, and those whose own record write failed. */
interface AttemptsItem {
  attempts: AttemptRecord[];
  unrecorded: AttemptRecord[];
  count: number | undefined;
  /** Named by the replacement's state change (DynamoReplacementStore), outside any attempt. */
  replacement: ResponseRecord['replacement'] | undefined;
}
/** The record half of ClaimPort (finish, noteDuplicate, recordUnclaimed) on DynamoDB. */
export class DynamoRecordStore extends DynamoTableStore implements Pick<ClaimPort, 'finish' | 'noteDuplicate' | 'recordUnclaimed'> {
  private readonly finishAttempts: number;

  constructor(opts: DynamoRecordStoreOptions) {
    super(opts);
    this.finishAttempts = opts.finishAttempts ?? 3;
  }

  /**
   * The record and the release of every claim, atomically, merged with every earlier attempt
   * (core/attempts.ts): read ATTEMPTS#<eventId>, merge, then one transaction writes the merged
   * record (an Update, so a duplicate noted while we worked keeps its deliveries annotations),
   * the claims' release, the instance pointers and the attempts list, the latter conditioned
   * on the attempt count read, so a concurrent attempt cannot be lost (it re-reads and merges).
   * Transient failures (throttling, 5xx, resets, conflicts) are retried beyond the SDK's own
   * retries, with full-jitter backoff, until `opts.until` and at least `finishAttempts` times;
   * then the attempt is parked (best effort) on ATTEMPTS# under `unrecorded`, for the takeover
   * to merge, and RecordWriteFailedError is thrown.
   */
  async finish(keys: ClaimKeys, record: ResponseRecord, opts: FinishOptions = {}): Promise<ResponseRecord> {
    return this.writeMerged(record, opts, (merged, attempts) => this.finishItems(keys, merged, attempts));
  }

  private async writeMerged(
    record: ResponseRecord,
    opts: FinishOptions,
    items: (merged: ResponseRecord, attempts: { all: AttemptRecord[]; prior: number | undefined }) => TransactItems,
  ): Promise<ResponseRecord> {
    let lastError: unknown;
    let writes = 0;
    const until = opts.until?.getTime() ?? Number.NEGATIVE_INFINITY;
    for (;;) {
      if (writes > 0) await this.sleep(fullJitterDelay(writes, this.random, 200, 2_000));
      writes++;
      let all: AttemptRecord[] = [];
      try {
        const stored = await this.readAttempts(record.eventId);
        // An earlier write of ours went through though its answer was lost (5xx after the
        // commit, a reset): the record and the release are in, atomically. Done.
        if (opts.token && stored.attempts.some((a) => a.claimToken === opts.token)) return withNamedReplacement(mergeAttempts(stored.attempts), stored);
        all = attemptsWith(stored, record, opts.token);
        const merged = withNamedReplacement(mergeAttempts(all), stored);
        await this.client.send(new TransactWriteCommand({ TransactItems: items(merged, { all, prior: stored.count }) }));
        return merged;
      } catch (err) {
        lastError = err;
        const raced = cancellationReasons(err)?.some((r) => r.Code === 'ConditionalCheckFailed') ?? false;
        const again = raced || errorInfo(err).retryable;
        const timeLeft = this.now().getTime() < until && writes < FINISH_MAX_WRITES;
        if (!again || (writes >= this.finishAttempts && !timeLeft)) break;
      }
    }
    await this.parkUnrecorded(record, opts.token);
    throw new RecordWriteFailedError(record, writes, { cause: lastError });
  }

  private finishItems(keys: ClaimKeys, merged: ResponseRecord, attempts: { all: AttemptRecord[]; prior: number | undefined }): TransactItems {
    const now = this.now();
    const status = finishedStatus(merged.outcome);
    const fields = this.recordFields(merged, now, status);
    const acted = actedOnInstance(merged.actions);
    const pointerExpiresAt = epochSeconds(now) + POINTER_TTL_SECONDS;
    const pointer = (instanceId: string, role: 'interrupted' | 'replacement') => ({
      Put: { TableName: this.tableName, Item: pointerItem(instanceId, role, keys.eventId, merged, pointerExpiresAt) },
    });
    return [
      this.recordUpdate(keys.eventId, fields),
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
                  ':status': actionStatus(merged.outcome, acted),
                  ':until': actionLeaseUntil(merged.finishedAt, now).toISOString(),
                },
              },
            },
          ]
        : []),
      ...(acted && merged.instanceId ? [pointer(merged.instanceId, 'interrupted')] : []),
      ...(merged.replacement ? [pointer(merged.replacement.instanceId, 'replacement')] : []),
      this.attemptsUpdate(merged.eventId, attempts.all, attempts.prior, fields[TABLE_SCHEMA.ttlAttribute]),
    ];
  }

  private recordFields(record: ResponseRecord, now: Date, status: string): Item {
    return {
      ...withoutUndefined({ ...record }),
      timeline: timelineMap(record.timeline ?? []),
      ...recordIndexAttributes(record, this.retentionSeconds, now),
      status,
    };
  }

  /** SET every field of the record on its EVENT item, and end its lease. */
  private recordUpdate(eventId: string, fields: Item, condition?: { expression: string; values: Item; names: Record<string, string> }) {
    const names: Record<string, string> = { '#leaseUntil': 'leaseUntil', ...(condition?.names ?? {}) };
    const values: Record<string, unknown> = { ...(condition?.values ?? {}) };
    const assignments = Object.entries(fields).map(([name, value], i) => {
      names[`#f${i}`] = name;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: claimKey.event(eventId) },
        UpdateExpression: `SET ${assignments.join(', ')} REMOVE #leaseUntil`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ...(condition ? { ConditionExpression: condition.expression } : {}),
      },
    };
  }

  /** The attempts list, written only if no attempt was recorded since it was read. */
  private attemptsUpdate(eventId: string, all: AttemptRecord[], prior: number | undefined, expiresAt: unknown) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: itemKey.attempts(eventId) },
        UpdateExpression: 'SET #attempts = :attempts, #attemptCount = :count, #expiresAt = :expiresAt REMOVE #unrecorded',
        ConditionExpression: prior === undefined ? 'attribute_not_exists(#attemptCount)' : '#attemptCount = :prior',
        ExpressionAttributeNames: {
          '#attempts': 'attempts',
          '#attemptCount': 'attemptCount',
          '#expiresAt': TABLE_SCHEMA.ttlAttribute,
          '#unrecorded': 'unrecorded',
        },
        ExpressionAttributeValues: {
          ':attempts': all,
          ':count': all.length,
          ':expiresAt': expiresAt,
          ...(prior === undefined ? {} : { ':prior': prior }),
        },
      },
    };
  }

  private async readAttempts(eventId: string): Promise<AttemptsItem> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: itemKey.attempts(eventId) }, ConsistentRead: true }),
    );
    const item = out.Item ?? {};
    const list = (value: unknown) => (Array.isArray(value) ? (value as AttemptRecord[]) : []);
    return {
      attempts: list(item.attempts),
      unrecorded: list(item.unrecorded),
      count: typeof item.attemptCount === 'number' ? item.attemptCount : undefined,
      replacement: item.replacement && typeof item.replacement === 'object' ? (item.replacement as ResponseRecord['replacement']) : undefined,
    };
  }

  /**
   * Best effort, after the record write failed for good: keep the attempt on ATTEMPTS# (a plain
   * UpdateItem, appended) so the delivery that takes over merges what this one did. Its own
   * failure is swallowed: the caller throws the record write's error either way.
   */
  private async parkUnrecorded(record: ResponseRecord, token: string | undefined): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: itemKey.attempts(record.eventId) },
          UpdateExpression: 'SET #unrecorded = list_append(if_not_exists(#unrecorded, :empty), :one), #expiresAt = :expiresAt',
          ExpressionAttributeNames: { '#unrecorded': 'unrecorded', '#expiresAt': TABLE_SCHEMA.ttlAttribute },
          ExpressionAttributeValues: {
            ':empty': [],
            ':one': [{ ...withoutUndefined({ ...record }), attempt: 0, ...(token ? { claimToken: token } : {}) }],
            ':expiresAt': epochSeconds(this.now()) + this.retentionSeconds,
          },
        }),
      );
    } catch {
      // Nothing more to do: the thrown RecordWriteFailedError carries the record to the logs.
    }
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

  async recordUnclaimed(record: ResponseRecord): Promise<UnclaimedWrite> {
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
      return { result: 'written' };
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
    }
    return this.closeAbandoned(record);
  }

  /**
   * A delivery that may not act (too late) finds the event's own claim abandoned: its holder
   * died before recording. Close that claim with the merge of what was recorded of it (its
   * parked attempt, if any) and this delivery's record, on the condition that it is still
   * abandoned. Any other existing record is left alone.
   */
  private async closeAbandoned(record: ResponseRecord): Promise<UnclaimedWrite> {
    const item = await this.readEvent(record.eventId);
    const nowIso = this.now().toISOString();
    if (!item || claimState(item, nowIso) !== 'abandoned') return { result: 'exists', outcome: outcomeOf(item) };
    // A holder that died before recording or parking anything: what it did is unknown, so the
    // claim closes failed (not as this delivery's "too late"), and the delivery answers failed.
    const stored = await this.readAttempts(record.eventId);
    const closing = stored.attempts.length === 0 && stored.unrecorded.length === 0 ? lostResponse(record) : record;
    try {
      const merged = await this.writeMerged(closing, {}, (merged, attempts) => {
        const fields = this.recordFields(merged, this.now(), finishedStatus(merged.outcome));
        return [
          this.recordUpdate(record.eventId, fields, {
            expression: '#status = :inProgress AND #leaseUntil < :now',
            names: { '#status': 'status' },
            values: { ':inProgress': CLAIM_STATUS.inProgress, ':now': nowIso },
          }),
          this.attemptsUpdate(record.eventId, attempts.all, attempts.prior, fields[TABLE_SCHEMA.ttlAttribute]),
        ];
      });
      return { result: 'closed-abandoned', outcome: merged.outcome };
    } catch (err) {
      // Someone else closed it meanwhile: their record stands.
      if (err instanceof RecordWriteFailedError && cancellationReasons(err.cause)?.[0]?.Code === 'ConditionalCheckFailed') {
        return { result: 'exists', outcome: outcomeOf(await this.readEvent(record.eventId)) };
      }
      throw err;
    }
  }

  /** The EVENT#<eventId> item as it stands (consistent read), or undefined. */
  private async readEvent(eventId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: claimKey.event(eventId) }, ConsistentRead: true }),
    );
    return out.Item;
  }
}

/** The outcome an EVENT item records; undefined for a claim still open (it has none yet). */
function outcomeOf(item: Record<string, unknown> | undefined): Outcome | undefined {
  return typeof item?.['outcome'] === 'string' ? (item['outcome'] as Outcome) : undefined;
}

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

/**
 * The record that closes a claim whose holder died without recording anything, written by a
 * delivery too late to act: failed, saying so, so `history` shows the lost response and the
 * queue dead-letters the message.
 */
function lostResponse(tooLate: ResponseRecord): ResponseRecord {
  const { skipKind: _late, ...rest } = tooLate;
  return {
    ...rest,
    outcome: 'failed',
    reason:
      `abandoned: the invocation that claimed this event died before recording what it did (unknown); ` +
      `this delivery is too late to act (${tooLate.reason ?? 'past its deadline'})`,
  };
}

/**
 * A retry's claim replaced the EVENT item: the replacement a state change named meanwhile (kept
 * on ATTEMPTS#, which no claim touches) goes back into the record, with its milestone.
 */
function withNamedReplacement(merged: ResponseRecord, stored: AttemptsItem): ResponseRecord {
  const named = stored.replacement;
  if (!named || merged.replacement) return merged;
  const timeline = merged.timeline ?? [];
  const launched = timeline.some((t) => t.event === 'replacement-launched')
    ? []
    : [{ event: 'replacement-launched' as const, at: named.seenAt, detail: named.instanceId }];
  return { ...merged, replacement: named, timeline: [...timeline, ...launched] };
}

/**
 * Every attempt, oldest first and numbered 1.., with this one last: the recorded ones, then
 * those parked as unrecorded (not already recorded under the same token), then `record`.
 */
function attemptsWith(stored: AttemptsItem, record: ResponseRecord, token: string | undefined): AttemptRecord[] {
  const recordedTokens = new Set(stored.attempts.map((a) => a.claimToken).filter(Boolean));
  const parked = stored.unrecorded.filter((a) => !a.claimToken || (!recordedTokens.has(a.claimToken) && a.claimToken !== token));
  const { attempts: _merged, ...own } = record;
  return [...stored.attempts, ...parked, { ...withoutUndefined({ ...own }), attempt: 0, ...(token ? { claimToken: token } : {}) } as AttemptRecord].map(
    (a, i) => ({ ...a, attempt: i + 1 }),
  );
}
