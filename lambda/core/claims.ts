// The claim protocol, in one place: which keys a response claims, when a key is free to claim,
// who holds it when it is not, and what each key says once the response is over. The DynamoDB
// store turns these rules into ConditionExpressions; the dry run's read-only store evaluates the
// very same rules on the items it reads. Pure: no SDK here.
//
// Up to three keys guard each response, claimed together in one transaction, in this order:
//   EVENT#<eventId>                       the same event delivered again (at-least-once delivery)
//   WARNING#<instanceId>#<eventTime>      the same warning under another event id
//     or REBALANCE#<instanceId>#<eventTime> the same for a rebalance recommendation
//   ACTION#<instanceId>                   acting on the instance at all (only responses that act)
// (A fourth kind of item, INSTANCE#<instanceId>, is no claim: it points later state changes at
// the record of the response that acted; see lambda/aws/store.)
//
// The lease of an EVENT or signal key, as its status moves. The lease is short (LEASE_MS in
// lambda/response/deps.ts) and the holder renews it while it works (a heartbeat, conditional on
// its own claimToken), so it runs out soon after the holder dies, whatever killed it:
//
//   claim   renew   renew     finish
//     |--- IN_PROGRESS: held ----|-> COMPLETED: held until it expires (TTL); later deliveries are duplicates
//     |--- IN_PROGRESS: held ----|-> FAILED: free at once (AWS's retry of the invocation runs)
//     |--- IN_PROGRESS: held --x (holder died: no more renewals)
//                                 |-- leaseUntil --|--- free: "abandoned"; the next delivery, even of
//                                                      the same event id, takes over
//
// An ACTION key's lease covers its whole window, in progress or done: finish moves leaseUntil
// to ACTION_WINDOW_MS after the response, because a persistent Spot instance that was stopped
// comes back and may be interrupted again, hours later, and must be handled then.
//
//   claim                  finish                  finish + ACTION_WINDOW_MS
//     |--- IN_PROGRESS ------|--- COMPLETED: held ----------|--- free
//                            |--- RELEASED (it did not act) or FAILED: free at once
import type { ActionResult, Outcome } from './model';
import type { ClaimKeys } from './ports';

/** The `status` attribute of a claim or record item. */
export const CLAIM_STATUS = {
  inProgress: 'IN_PROGRESS',
  completed: 'COMPLETED',
  failed: 'FAILED',
  rejected: 'REJECTED',
  skipped: 'SKIPPED',
  duplicate: 'DUPLICATE',
  /** An ACTION claim whose response decided not to act (skipped): free for the next signal. */
  released: 'RELEASED',
} as const;

export type ClaimStatus = (typeof CLAIM_STATUS)[keyof typeof CLAIM_STATUS];

/** How long after a response its instance counts as handled (ms; see the header). */
export const ACTION_WINDOW_MS = 30 * 60_000;

/** The partition keys of the claims; lambda/aws/table-schema.ts lists them with the table's other items. */
export const claimKey = {
  /** The record of one event; also the claim on its event id. */
  event: (eventId: string) => `EVENT#${eventId}`,
  /** The claim on "this instance, warned at this time", whatever the event id. */
  warning: (instanceId: string, eventTime: string) => `WARNING#${instanceId}#${eventTime}`,
  /** The same for a rebalance recommendation. */
  rebalance: (instanceId: string, eventTime: string) => `REBALANCE#${instanceId}#${eventTime}`,
  /** The claim on acting on the instance at all: a rebalance replacement, then its warning, act once. */
  action: (instanceId: string) => `ACTION#${instanceId}`,
} as const;

/** The "same signal under another event id" key: WARNING# or REBALANCE#. */
export function signalKey(keys: ClaimKeys): string {
  return keys.signal === 'rebalance-recommendation'
    ? claimKey.rebalance(keys.instanceId, keys.eventTime)
    : claimKey.warning(keys.instanceId, keys.eventTime);
}

/** A claim item as read back, plain (not marshalled): `status`, `leaseUntil`, `eventId` or `owner`. */
export type ClaimItem = Readonly<Record<string, unknown>>;

/**
 * One named reason a key is free to claim, written twice from one definition: as a DynamoDB
 * condition (the expression and the values it names) and as a test on an item already read.
 * Both use the attribute names in CLAIM_ATTRIBUTE_NAMES.
 */
export interface ClaimablePart {
  name: string;
  expression: string;
  values: Readonly<Record<string, string>>;
  /** `item` undefined: no item under the key. `nowIso`: the claim's time, ISO 8601 UTC. */
  holds(item: ClaimItem | undefined, nowIso: string): boolean;
}

/** The attribute names the parts' expressions use, as ExpressionAttributeNames. */
export const CLAIM_ATTRIBUTE_NAMES = { '#status': 'status', '#leaseUntil': 'leaseUntil' } as const;

/**
 * DynamoDB compares strings by their UTF-8 bytes; ISO times are ASCII, so JavaScript's `<` agrees.
 * A comparison with a missing attribute is false, as in a condition expression.
 */
const leaseBefore = (item: ClaimItem, nowIso: string): boolean => {
  const lease = item.leaseUntil;
  return typeof lease === 'string' && lease < nowIso;
};

export const keyAbsent: ClaimablePart = {
  name: 'key absent',
  expression: 'attribute_not_exists(pk)',
  values: {},
  holds: (item) => item === undefined,
};

/** Its last response failed, so AWS's retry of the failed invocation can run again. */
export const responseFailed: ClaimablePart = {
  name: 'response failed',
  expression: '#status = :failed',
  values: { ':failed': CLAIM_STATUS.failed },
  holds: (item) => item?.status === CLAIM_STATUS.failed,
};

/** ACTION only: the response failed, or finished without acting and let the instance go. */
export const failedOrReleased: ClaimablePart = {
  name: 'response failed or released',
  expression: '#status IN (:failed, :released)',
  values: { ':failed': CLAIM_STATUS.failed, ':released': CLAIM_STATUS.released },
  holds: (item) => item?.status === CLAIM_STATUS.failed || item?.status === CLAIM_STATUS.released,
};

/** The invocation that held the key crashed or timed out before it finished. */
export const inProgressLeaseRanOut: ClaimablePart = {
  name: 'in progress but its lease ran out',
  expression: '(#status = :inProgress AND #leaseUntil < :now)',
  values: { ':inProgress': CLAIM_STATUS.inProgress },
  holds: (item, nowIso) => item?.status === CLAIM_STATUS.inProgress && leaseBefore(item, nowIso),
};

/** ACTION only: the lease covers the whole window, so any status frees the key once it has passed. */
export const leaseRanOut: ClaimablePart = {
  name: 'lease ran out',
  expression: '#leaseUntil < :now',
  values: {},
  holds: (item, nowIso) => item !== undefined && leaseBefore(item, nowIso),
};

/**
 * The heartbeat's condition: the key is still in progress under the holder's own token. A
 * renewal that fails it means another delivery took over (this holder was presumed dead).
 */
export function renewCondition(token: string) {
  return {
    ConditionExpression: '#status = :inProgress AND #claimToken = :token',
    ExpressionAttributeNames: { '#status': 'status', '#claimToken': CLAIM_TOKEN_ATTRIBUTE },
    ExpressionAttributeValues: { ':inProgress': CLAIM_STATUS.inProgress, ':token': token },
  };
}

/** The attribute naming the one claim (a random token per claiming invocation) that holds a key. */
export const CLAIM_TOKEN_ATTRIBUTE = 'claimToken';

/**
 * What an EVENT item says about its claim, for history: 'in-progress' while its holder's lease
 * runs, 'abandoned' once it has run out without a record (the next delivery takes over), and
 * undefined when the item is no open claim.
 */
export function claimState(item: ClaimItem, nowIso: string): 'in-progress' | 'abandoned' | undefined {
  if (item.status !== CLAIM_STATUS.inProgress) return undefined;
  return leaseBefore(item, nowIso) ? 'abandoned' : 'in-progress';
}

/** When an EVENT or signal key is free: any part holds. */
export const SIGNAL_CLAIMABLE: readonly ClaimablePart[] = [keyAbsent, responseFailed, inProgressLeaseRanOut];
/** When an ACTION key is free: any part holds. */
export const ACTION_CLAIMABLE: readonly ClaimablePart[] = [keyAbsent, failedOrReleased, leaseRanOut];

/**
 * The parts as one DynamoDB condition (OR of the parts), for a Put in TransactWriteItems.
 * `nowIso` becomes `:now`. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export function claimCondition(parts: readonly ClaimablePart[], nowIso: string) {
  return {
    ConditionExpression: parts.map((p) => p.expression).join(' OR '),
    ExpressionAttributeNames: { ...CLAIM_ATTRIBUTE_NAMES },
    ExpressionAttributeValues: Object.assign({}, ...parts.map((p) => p.values), { ':now': nowIso }) as Record<string, string>,
  };
}

/** The same rule on an item already read: whether the claim's condition would pass. */
export function isClaimable(parts: readonly ClaimablePart[], item: ClaimItem | undefined, nowIso: string): boolean {
  return parts.some((p) => p.holds(item, nowIso));
}

/** One key of a claim, in transaction order: its partition key and the rule that frees it. */
export interface ClaimTarget {
  kind: 'event' | 'signal' | 'action';
  pk: string;
  claimable: readonly ClaimablePart[];
}

/**
 * The keys a claim puts, in transaction order: EVENT#, then WARNING# or REBALANCE#, then ACTION#
 * when the response acts on the instance. This order is also the holder order: when several
 * keys are held, the first one names the holder.
 */
export function claimTargets(keys: ClaimKeys): ClaimTarget[] {
  return [
    { kind: 'event', pk: claimKey.event(keys.eventId), claimable: SIGNAL_CLAIMABLE },
    { kind: 'signal', pk: signalKey(keys), claimable: SIGNAL_CLAIMABLE },
    ...(keys.actsOnInstance
      ? [{ kind: 'action' as const, pk: claimKey.action(keys.instanceId), claimable: ACTION_CLAIMABLE }]
      : []),
  ];
}

/** Who holds a key: the event id of the response that claimed it, and the key's status. */
export interface ClaimHolder {
  heldBy: string;
  /** A CLAIM_STATUS value, or 'UNKNOWN' when the item has none. */
  status: string;
}

/**
 * The holder an item names: an EVENT item its `eventId`, the others their `owner`; the claiming
 * event itself when the item names none.
 */
export function holderOf(target: ClaimTarget, item: ClaimItem, keys: ClaimKeys): ClaimHolder {
  const named = target.kind === 'event' ? item.eventId : item.owner;
  return {
    heldBy: typeof named === 'string' ? named : keys.eventId,
    status: typeof item.status === 'string' ? item.status : 'UNKNOWN',
  };
}

/**
 * The holder of a claim from the items under its keys (aligned with claimTargets(keys); undefined
 * where no item exists): the first key, in the holder order, that is not claimable now.
 * Undefined when every key is free.
 */
export function firstHolder(
  keys: ClaimKeys,
  items: ReadonlyArray<ClaimItem | undefined>,
  nowIso: string,
): ClaimHolder | undefined {
  for (const [index, target] of claimTargets(keys).entries()) {
    const item = items[index];
    if (item && !isClaimable(target.claimable, item, nowIso)) return holderOf(target, item, keys);
  }
  return undefined;
}

/** The status of the EVENT and signal keys after a claimed response: FAILED frees them for AWS's retry. */
export function finishedStatus(outcome: Outcome): ClaimStatus {
  return outcome === 'failed' ? CLAIM_STATUS.failed : CLAIM_STATUS.completed;
}

/**
 * Whether the response acted on the instance: any call other than a lookup that succeeded,
 * found nothing to undo (not-registered), or, in a dry run, was planned.
 */
export function actedOnInstance(actions: readonly ActionResult[]): boolean {
  return actions.some(
    (a) => a.action !== 'lookup' && (a.result === 'ok' || a.result === 'not-registered' || a.result === 'planned'),
  );
}

/**
 * The ACTION key after a claimed response: held (COMPLETED) until `actionLeaseUntil` when it
 * acted, RELEASED when it completed without acting, FAILED when it failed.
 */
export function actionStatus(outcome: Outcome, acted: boolean): ClaimStatus {
  const status = finishedStatus(outcome);
  return status === CLAIM_STATUS.completed && !acted ? CLAIM_STATUS.released : status;
}

/** The end of an ACTION key's window: ACTION_WINDOW_MS after `finishedAt` (ISO), or after `now` if that is no time. */
export function actionLeaseUntil(finishedAt: string, now: Date): Date {
  const finished = Date.parse(finishedAt);
  return new Date((Number.isNaN(finished) ? now.getTime() : finished) + ACTION_WINDOW_MS);
}

/** The status of the record of an event that was never claimed (rejected, or skipped before any claim). */
export function unclaimedStatus(outcome: Outcome): ClaimStatus {
  switch (outcome) {
    case 'rejected':
      return CLAIM_STATUS.rejected;
    case 'skipped':
      return CLAIM_STATUS.skipped;
    case 'duplicate':
      return CLAIM_STATUS.duplicate;
    case 'failed':
      return CLAIM_STATUS.failed;
    case 'handled':
    case 'observed':
      return CLAIM_STATUS.completed;
    case 'in-progress':
    case 'abandoned':
      // Read off an open claim, never recorded as such (model.ts: Outcome).
      return CLAIM_STATUS.inProgress;
  }
}
