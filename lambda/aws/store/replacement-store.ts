// REPLACING#<group> and REPLACING: the responses waiting for Auto Scaling to launch their
// replacement, and the instances of each group that are no replacement. Written after the
// response's record (bookkeeping: the fleet is already safe); read when a new instance shows
// up, by its state change or by an index refresh. String sets, so that adding and taking a wait
// are single atomic updates and a redelivery adds nothing twice.
//
//   REPLACING#<group>   waiting: SS of encoded waits (core/replacement-waits.ts)
//                       members: SS of the instances every response of the round saw before acting
//                       replaced: SS of the instances replaced by a response or named a replacement
//                       version: bumped by every write of waits (a new round is conditioned on it)
//   REPLACING           group:<name> = ISO time until which that group may have a wait
import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { REPLACEMENT_WAIT_MS, earliestWait, encodeWait } from '../../core/replacement-waits';
import type { AssignedReplacement, ReplacementPort, ReplacementWait } from '../../core/ports';
import type { TimelineEntry } from '../../core/model';
import { TRANSIENT_CANCELLATION_CODES, fullJitterDelay, sleep as realSleep, type Sleep } from '../clients';
import { TABLE_SCHEMA, itemKey } from '../table-schema';
import { cancellationReasons, epochSeconds, isConditionalCheckFailed, pointerItem, POINTER_TTL_SECONDS, timelineEntryValue, type Item } from './items';

/** Attribute of REPLACING naming one group: `group:<name>`. */
const GROUP_PREFIX = 'group:';
/**
 * Another assignment took the wait first (read again and pick the next one), or DynamoDB cancelled
 * the transaction for a conflict or throttling (pause, then try again): this many tries in all.
 */
const ASSIGN_ATTEMPTS = 5;
/** Every attribute by placeholder: none of them may collide with a DynamoDB reserved word. */
const LIST_NAMES = { '#waiting': 'waiting', '#members': 'members', '#replaced': 'replaced' };
/** Another batch started the group's round of waits first: read again and join it, this many times. */
const ROUND_ATTEMPTS = 5;

/**
 * The record a new instance would be named the replacement of is being written again by a retry
 * of its response (its claim, IN_PROGRESS, has no timeline yet). Nothing was written; the wait is
 * kept. Retrying the sighting after the retry recorded names it (the state change's queue
 * redelivers it; the index refresh tries on its next run).
 */
export class ReplacementRecordBusyError extends Error {
  override name = 'ReplacementRecordBusyError';
  constructor(readonly eventId: string) {
    super(`the record of event ${eventId} is being written by a retry of its response: its replacement is named on a later try`);
  }
}

export interface DynamoReplacementStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  now?: () => Date;
  /** The pause before a try cancelled by a conflict or throttling is repeated (full jitter). */
  sleep?: Sleep;
  random?: () => number;
}

export class DynamoReplacementStore implements ReplacementPort {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => Date;
  private readonly sleep: Sleep;
  private readonly random: () => number;

  constructor(opts: DynamoReplacementStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.now = opts.now ?? (() => new Date());
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
  }

  /**
   * A round of waits: an instance of the group is no replacement when every response of the
   * round saw it before acting (`members`: the INTERSECTION of their member lists; a later
   * batch's list holds the replacements already launched for earlier ones, an earlier batch's
   * list written late lacks those a later one saw, and either way they drop out), or when it was
   * replaced or named (`replaced`: the union). So: a consistent GetItem; while a wait of the
   * round is open, join it (ADD the waits and the replaced, SET members to the intersection);
   * otherwise start a new round (SET all three). Both writes are conditioned on the version read,
   * which each bumps, so two batches writing at once cannot lose each other's waits or members
   * (the loser reads again). Beside it, the group's entry in REPLACING. Rejects with DynamoDB's
   * error (ConditionalCheckFailed after ROUND_ATTEMPTS).
   */
  async awaitReplacements(groupName: string, waits: readonly ReplacementWait[], known: readonly string[]): Promise<void> {
    if (waits.length === 0) return;
    const now = this.now();
    const until = new Date(now.getTime() + REPLACEMENT_WAIT_MS);
    const expiresAt = epochSeconds(until);
    // The group's entry in REPLACING depends on nothing below: written beside it.
    await Promise.all([this.joinRound(groupName, waits, known, now, expiresAt), this.nameGroup(groupName, until, expiresAt)]);
  }

  private async joinRound(groupName: string, waits: readonly ReplacementWait[], members: readonly string[], now: Date, expiresAt: number): Promise<void> {
    const key = { pk: itemKey.replacing(groupName) };
    const replaced = new Set(waits.map((w) => w.instanceId));
    for (let attempt = 1; ; attempt++) {
      const item = await this.readConsistent(key.pk);
      const version = typeof item?.version === 'number' ? item.version : undefined;
      const joining = hasOpenWait(item, now);
      const stored = stringSet(item?.members);
      const kept = new Set(joining ? members.filter((id) => stored.has(id)) : members);
      // A string set cannot be empty: no instance every response saw is no attribute at all.
      const membersClause = kept.size > 0 ? { set: '#members = :members', values: { ':members': kept } } : { remove: '#members' };
      const update = joining
        ? `SET #expiresAt = :expiresAt${membersClause.set ? `, ${membersClause.set}` : ''} ADD #waiting :waits, #replaced :replaced, #version :one`
        : `SET #waiting = :waits, #replaced = :replaced, #expiresAt = :expiresAt${membersClause.set ? `, ${membersClause.set}` : ''} ADD #version :one`;
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: membersClause.remove ? `${update} REMOVE ${membersClause.remove}` : update,
            ConditionExpression: version === undefined ? 'attribute_not_exists(#version)' : '#version = :read',
            ExpressionAttributeNames: { ...LIST_NAMES, '#expiresAt': TABLE_SCHEMA.ttlAttribute, '#version': 'version' },
            ExpressionAttributeValues: {
              ':waits': new Set(waits.map(encodeWait)),
              ':replaced': replaced,
              ':one': 1,
              ':expiresAt': expiresAt,
              ...(membersClause.values ?? {}),
              ...(version === undefined ? {} : { ':read': version }),
            },
          }),
        );
        return;
      } catch (err) {
        if (!isConditionalCheckFailed(err) || attempt >= ROUND_ATTEMPTS) throw err;
      }
    }
  }

  private async nameGroup(groupName: string, until: Date, expiresAt: number): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: itemKey.replacingGroups },
        UpdateExpression: 'SET #group = :until, #expiresAt = :expiresAt',
        ExpressionAttributeNames: { '#group': `${GROUP_PREFIX}${groupName}`, '#expiresAt': TABLE_SCHEMA.ttlAttribute },
        ExpressionAttributeValues: { ':until': until.toISOString(), ':expiresAt': expiresAt },
      }),
    );
  }

  /** One strongly consistent GetItem: a wait written a moment ago must be seen. */
  private async readConsistent(pk: string): Promise<Item | undefined> {
    const found = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }));
    return found.Item;
  }

  /** One strongly consistent GetItem of REPLACING (a wait written a moment ago must be seen). */
  async groupsAwaitingReplacement(): Promise<Set<string>> {
    return awaitingGroupsOf(await this.readConsistent(itemKey.replacingGroups), this.now());
  }

  /** One consistent GetItem of the group's lists. */
  async unknownMembers(groupName: string, instanceIds: readonly string[]): Promise<string[]> {
    return unknownMembersOf(await this.readConsistent(itemKey.replacing(groupName)), instanceIds);
  }

  /**
   * A consistent GetItem of the group's lists, then one TransactWriteItems: take the wait (on
   * condition it is still there and the instance still unknown), set the record's replacement
   * and milestone (on condition the record exists) and the replacement on ATTEMPTS# (so that a
   * retry's record keeps it), put the instance's pointer. When another
   * assignment won the wait, read again (up to ASSIGN_ATTEMPTS); when DynamoDB cancelled it for a
   * conflict or throttling (TransactionConflict: two sightings of one group at once, common in a
   * wave), pause with full jitter and try again within the same budget; when the record is gone (expired),
   * drop its wait and read again. Rejects with ReplacementRecordBusyError when the record is a
   * retry's claim in progress (the wait is kept: the sighting is retried once the retry recorded),
   * and with DynamoDB's error for anything else.
   */
  async assignReplacement(groupName: string, instanceId: string, seenAt: string): Promise<AssignedReplacement | null> {
    for (let attempt = 1; attempt <= ASSIGN_ATTEMPTS; attempt++) {
      const chosen = replacementChoice(await this.readConsistent(itemKey.replacing(groupName)), instanceId, seenAt);
      if (!chosen) return null;
      const { wait, entry, msFromSignal } = chosen;
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: itemKey.replacing(groupName) },
                  UpdateExpression: 'DELETE #waiting :wait ADD #replaced :instance',
                  ConditionExpression: 'contains(#waiting, :encoded) AND NOT contains(#replaced, :instanceId) AND NOT contains(#members, :instanceId)',
                  ExpressionAttributeNames: LIST_NAMES,
                  ExpressionAttributeValues: {
                    ':wait': new Set([chosen.encoded]),
                    ':encoded': chosen.encoded,
                    ':instance': new Set([instanceId]),
                    ':instanceId': instanceId,
                  },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: itemKey.event(wait.eventId) },
                  UpdateExpression: 'SET #replacement = :replacement, #timeline.#milestone = if_not_exists(#timeline.#milestone, :entry)',
                  ConditionExpression: 'attribute_exists(#timeline)',
                  ExpressionAttributeNames: { '#replacement': 'replacement', '#timeline': 'timeline', '#milestone': entry.event },
                  ExpressionAttributeValues: {
                    ':replacement': { instanceId, seenAt, msFromSignal },
                    ':entry': timelineEntryValue(entry),
                  },
                },
              },
              // Also beside the attempts, which a retry's claim does not replace (its merge reads it back).
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: itemKey.attempts(wait.eventId) },
                  UpdateExpression: 'SET #replacement = :replacement',
                  ExpressionAttributeNames: { '#replacement': 'replacement' },
                  ExpressionAttributeValues: { ':replacement': { instanceId, seenAt, msFromSignal } },
                },
              },
              {
                Put: {
                  TableName: this.tableName,
                  Item: pointerItem(
                    instanceId,
                    'replacement',
                    wait.eventId,
                    { detailType: wait.signalDetailType, eventTime: wait.signalTime },
                    epochSeconds(this.now()) + POINTER_TTL_SECONDS,
                  ),
                },
              },
            ],
          }),
        );
        return { eventId: wait.eventId, entry, msFromSignal };
      } catch (err) {
        const reasons = cancellationReasons(err);
        if (!reasons) throw err;
        if (reasons[1]?.Code === 'ConditionalCheckFailed') {
          // No timeline: the record is gone, or a retry's claim replaced it (FAILED records are
          // retried) and its record is not written yet. Only the first makes the wait unanswerable;
          // taking the next wait instead would give this response's replacement to a later one.
          if (await this.recordExists(wait.eventId)) throw new ReplacementRecordBusyError(wait.eventId);
          await this.dropWait(groupName, chosen.encoded);
        } else if (reasons.some((r) => r.Code && TRANSIENT_CANCELLATION_CODES.has(r.Code))) {
          if (attempt < ASSIGN_ATTEMPTS) await this.sleep(fullJitterDelay(attempt, this.random));
          else throw err;
        } else if (reasons[0]?.Code !== 'ConditionalCheckFailed') throw err;
      }
    }
    return null;
  }

  /** Whether the EVENT item of `eventId` exists (a consistent GetItem of its key only). */
  private async recordExists(eventId: string): Promise<boolean> {
    const found = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: itemKey.event(eventId) }, ConsistentRead: true, ProjectionExpression: 'pk' }),
    );
    return found.Item !== undefined;
  }

  /** The record of a wait is gone (its retention ran out): the wait can never be answered. */
  private async dropWait(groupName: string, encoded: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: itemKey.replacing(groupName) },
        UpdateExpression: 'DELETE #waiting :wait',
        ExpressionAttributeNames: { '#waiting': 'waiting' },
        ExpressionAttributeValues: { ':wait': new Set([encoded]) },
      }),
    );
  }
}

/** The groups REPLACING names with a wait that may still be open at `now`. */
export function awaitingGroupsOf(item: Item | undefined, now: Date): Set<string> {
  const at = now.toISOString();
  const groups = new Set<string>();
  for (const [name, until] of Object.entries(item ?? {})) {
    if (name.startsWith(GROUP_PREFIX) && typeof until === 'string' && until > at) groups.add(name.slice(GROUP_PREFIX.length));
  }
  return groups;
}

/**
 * What assigning `instanceId`, seen at `seenAt` (ISO), as a replacement would write, from the
 * group's REPLACING# item: undefined when the item is missing, the instance is known, or no wait
 * qualifies (core/replacement-waits.ts's earliestWait).
 */
export function replacementChoice(
  item: Item | undefined,
  instanceId: string,
  seenAt: string,
): { encoded: string; wait: ReplacementWait; entry: TimelineEntry; msFromSignal: number } | undefined {
  if (!item || knownOf(item).has(instanceId)) return undefined;
  const chosen = earliestWait(stringSet(item.waiting), seenAt);
  if (!chosen) return undefined;
  return {
    ...chosen,
    entry: { event: 'replacement-launched', at: seenAt, detail: instanceId },
    msFromSignal: Date.parse(seenAt) - Date.parse(chosen.wait.signalTime),
  };
}

/** Whether the group's REPLACING# item holds a wait that may still be answered at `now`. */
export function hasOpenWait(item: Item | undefined, now: Date): boolean {
  return earliestWait(stringSet(item?.waiting), now.toISOString()) !== undefined;
}

/** Of `instanceIds`, those the group's REPLACING# item does not know; none when nothing waits there. */
export function unknownMembersOf(item: Item | undefined, instanceIds: readonly string[]): string[] {
  if (stringSet(item?.waiting).size === 0) return [];
  const known = knownOf(item);
  return instanceIds.filter((id) => !known.has(id));
}

/** The instances of a group that are no replacement: the round's members and the replaced (or named) ones. */
function knownOf(item: Item | undefined): Set<string> {
  return new Set([...stringSet(item?.members), ...stringSet(item?.replaced)]);
}

/** A string set as the document client reads it (a Set), or nothing. */
function stringSet(value: unknown): Set<string> {
  return value instanceof Set ? new Set([...value].filter((v): v is string => typeof v === 'string')) : new Set();
}
