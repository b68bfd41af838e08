// The response to one event: validate -> claim -> look up -> act -> record.
// The Lambda handler, `spot-responder replay` and the dry run all call `respond`; they differ
// only in the adapters they pass in.
import { errorInfo } from './aws/clients';
import {
  deadlineOf,
  decideDetach,
  decideOutcome,
  planGroupDeregistrations,
  planIndexedDeregistrations,
} from './core/plan';
import type {
  ActionKind,
  ActionResult,
  Deregistration,
  InstanceFacts,
  ResponseRecord,
  SpotWarning,
} from './core/model';
import type {
  AutoScalingPort,
  CallOptions,
  ClaimKeys,
  Ec2Reader,
  EventStore,
  LoadBalancingPort,
  TargetIndexReader,
} from './core/ports';
import { parseEvent, type AcceptPolicy, type Rejection } from './events';
import type { Log } from './log';

/**
 * How long a claim outlives the deadline. A crashed invocation's claim becomes claimable
 * again after it, so Lambda's retry can finish the job; a live one is never overtaken.
 */
export const LEASE_MARGIN_MS = 60_000;

export interface ResponderDeps {
  ec2: Ec2Reader;
  autoScaling: AutoScalingPort;
  loadBalancing: LoadBalancingPort;
  targetIndex: TargetIndexReader;
  store: EventStore;
  policy: AcceptPolicy;
  log: Log;
  /** Milliseconds since the epoch; replay runs on the event's own clock. */
  now?: () => number;
}

/** Thrown after a failed response has been recorded, so AWS retries it and then dead-letters it. */
export class ResponseFailedError extends Error {
  override name = 'ResponseFailedError';
  constructor(readonly record: ResponseRecord) {
    super(`response to event ${record.eventId} failed: ${record.reason ?? 'unknown reason'}`);
  }
}

export async function respond(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const receivedAt = now();
  const parsed = parseEvent(raw, deps.policy);
  if (!parsed.ok) {
    const record = rejectedRecord(parsed.rejection, receivedAt, now());
    deps.log.warn('event rejected', { eventId: record.eventId, reason: record.reason });
    await deps.store.recordUnclaimed(record);
    return record;
  }
  const warning = parsed.warning;
  const log = deps.log.child({ eventId: warning.eventId, instanceId: warning.instanceId });
  const deadline = deadlineOf(warning.eventTime);
  const base = baseRecord(warning, receivedAt, deadline);

  if (receivedAt >= deadline) {
    const record = finalize(base, now, deadline, {
      outcome: 'skipped',
      reason: `arrived ${receivedAt - deadline} ms after its deadline; the instance is already being interrupted`,
    });
    log.warn('warning arrived after its deadline', { msLate: receivedAt - deadline });
    await deps.store.recordUnclaimed(record);
    return record;
  }

  // Every call shares the time left before the deadline; none may run past it.
  const budget = (): CallOptions => ({ abortSignal: AbortSignal.timeout(Math.max(1, deadline - now())) });
  const keys: ClaimKeys = {
    eventId: warning.eventId,
    instanceId: warning.instanceId,
    eventTime: warning.eventTime,
  };

  // Reads are harmless, so they run beside the claim; nothing mutating starts before it.
  const instanceRead = quiet(deps.ec2.describeInstance(warning.instanceId, budget()));
  const membershipRead = quiet(deps.autoScaling.describeMembership(warning.instanceId, budget()));
  const indexRead = quiet(deps.targetIndex.lookup(warning.instanceId, budget()));
  const claim = await deps.store.claim(keys, new Date(deadline + LEASE_MARGIN_MS), budget());
  if (!claim.claimed) {
    log.info('duplicate delivery', { duplicateOf: claim.heldBy, claimStatus: claim.status });
    await deps.store.noteDuplicate(claim.heldBy, warning.eventId, new Date(now()).toISOString());
    return finalize(base, now, deadline, {
      outcome: 'duplicate',
      duplicateOf: claim.heldBy,
      reason: `already ${claim.status === 'IN_PROGRESS' ? 'being handled' : 'handled'} as event ${claim.heldBy}`,
    });
  }

  let record: ResponseRecord;
  try {
    const fleet = await act(warning, { instanceRead, membershipRead, indexRead }, deps, budget);
    record = finalize(base, now, deadline, { ...fleet, ...decideOutcome(fleet.actions) });
  } catch (err) {
    // A bug or an unexpected error: still release the claim as failed so a retry can run.
    const info = errorInfo(err);
    record = finalize(base, now, deadline, { outcome: 'failed', reason: `${info.name}: ${info.message}` });
  }
  await deps.store.finish(keys, record);
  log.info('response finished', {
    outcome: record.outcome,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
  });
  if (record.outcome === 'failed') throw new ResponseFailedError(record);
  return record;
}

interface Reads {
  instanceRead: Promise<InstanceFacts | null>;
  membershipRead: ReturnType<AutoScalingPort['describeMembership']>;
  indexRead: ReturnType<TargetIndexReader['lookup']>;
}

/** Everything after the claim: the fleet-facing part of the response. */
async function act(
  warning: SpotWarning,
  reads: Reads,
  deps: ResponderDeps,
  budget: () => CallOptions,
): Promise<FleetFields> {
  const now = deps.now ?? Date.now;
  const actions: ActionResult[] = [];
  const notes: string[] = [];
  const failedLookup = (target: string, err: unknown, latencyMs = 0): void => {
    actions.push({ action: 'lookup', target, result: 'failed', latencyMs, error: errorInfo(err) });
  };

  const [instanceResult, membershipResult, indexResult] = await Promise.allSettled([
    reads.instanceRead,
    reads.membershipRead,
    reads.indexRead,
  ]);

  let instance: InstanceFacts;
  if (instanceResult.status === 'fulfilled') {
    if (!instanceResult.value) {
      return fleetFields({ actions: [skip('lookup', 'DescribeInstances', 'EC2 does not know this instance')] });
    }
    instance = instanceResult.value;
    if (instance.state === 'terminated') {
      return fleetFields({ actions: [skip('lookup', 'DescribeInstances', 'instance is already terminated')] });
    }
  } else {
    // Degrade rather than stall: instance-id registrations can still be removed; IP
    // registrations cannot be verified without the instance's current IPs.
    failedLookup('DescribeInstances', instanceResult.reason);
    notes.push('DescribeInstances failed; IP targets were not verified and were left alone');
    instance = { instanceId: warning.instanceId, state: 'unknown', privateIpAddresses: [], tags: {} };
  }

  const index = indexResult.status === 'fulfilled' ? indexResult.value : { targets: [] };
  if (indexResult.status === 'rejected') {
    failedLookup('TargetIndex', indexResult.reason);
    notes.push('target index lookup failed; only the Auto Scaling group\'s own target groups were covered');
  } else if (!index.refreshedAt) {
    notes.push('target index has never completed a refresh; only the Auto Scaling group\'s own target groups were covered');
  }
  const membership = membershipResult.status === 'fulfilled' ? membershipResult.value : null;
  if (membershipResult.status === 'rejected') failedLookup('DescribeAutoScalingInstances', membershipResult.reason);

  const deregister = (d: Deregistration): Promise<ActionResult> =>
    timed('deregister', d.targetGroupArn, now, async () => {
      const result = await deps.loadBalancing.deregister(d, budget());
      return { result, ...(result === 'not-registered' ? { reason: 'not registered (group or target gone)' } : {}) };
    }, { targetId: d.targetId, port: d.port });

  // Traffic first: the index's registrations need nothing else, so they start now.
  const indexed = planIndexedDeregistrations(instance, index);
  const indexedDone = Promise.all(indexed.map(deregister));

  const decision =
    membershipResult.status === 'fulfilled'
      ? decideDetach(membership)
      : { detach: false as const, groupName: null, reason: 'Auto Scaling membership unknown (lookup failed)' };
  const detachDone: Promise<ActionResult> = decision.detach
    ? timed('detach', decision.groupName, now, async () => {
        const result = await deps.autoScaling.detachWithReplacement(decision.groupName, warning.instanceId, budget());
        return result === 'ok'
          ? { result: 'ok' }
          : { result: 'skipped', reason: 'Auto Scaling refused: the instance left InService/Standby before the detach' };
      })
    : Promise.resolve(skip('detach', decision.groupName ?? '-', decision.reason));

  // The group's own target groups need one more read; detach does not wait for it.
  const groupDone = (async (): Promise<{ results: ActionResult[]; arns: string[] }> => {
    if (!membership) return { results: [], arns: [] };
    const started = now();
    let group;
    try {
      group = await deps.autoScaling.describeGroup(membership.groupName, budget());
    } catch (err) {
      failedLookup('DescribeAutoScalingGroups', err, now() - started);
      return { results: [], arns: [] };
    }
    if (!group) return { results: [], arns: [] };
    const planned = planGroupDeregistrations(warning.instanceId, group, indexed);
    return { results: await Promise.all(planned.map(deregister)), arns: group.targetGroupArns };
  })();

  const [indexedResults, detachResult, groupResult] = await Promise.all([indexedDone, detachDone, groupDone]);
  actions.push(...indexedResults, ...groupResult.results, detachResult);
  const deregistrations = actions.filter((a) => a.action === 'deregister');

  return fleetFields({
    autoScalingGroup: membership?.groupName ?? null,
    lifecycleState: membership?.lifecycleState ?? null,
    targetGroups: unique([...deregistrations.map((a) => a.target), ...groupResult.arns]),
    deregisteredFrom: unique(deregistrations.filter((a) => a.result === 'ok').map((a) => a.target)),
    detached: detachResult.action === 'detach' && detachResult.result === 'ok',
    actions,
    indexRefreshedAt: index.refreshedAt ?? null,
    ...(notes.length > 0 ? { notes } : {}),
  });
}

type ActionBody = () => Promise<{ result: ActionResult['result']; reason?: string }>;

async function timed(
  action: ActionKind,
  target: string,
  now: () => number,
  body: ActionBody,
  extra: Partial<ActionResult> = {},
): Promise<ActionResult> {
  const started = now();
  const base = { action, target, ...withoutUndefined(extra) };
  try {
    const { result, reason } = await body();
    return { ...base, result, latencyMs: now() - started, ...(reason ? { reason } : {}) };
  } catch (err) {
    const error = errorInfo(err);
    const reason = error.name === 'AbortError' || error.name === 'TimeoutError' ? 'deadline reached' : undefined;
    return { ...base, result: 'failed', latencyMs: now() - started, error, ...(reason ? { reason } : {}) };
  }
}

function skip(action: ActionKind, target: string, reason: string): ActionResult {
  return { action, target, result: 'skipped', latencyMs: 0, reason };
}

/** The fleet-facing fields of a record; the rest comes from `finalize`. */
type FleetFields = Pick<
  ResponseRecord,
  'autoScalingGroup' | 'lifecycleState' | 'targetGroups' | 'deregisteredFrom' | 'detached' | 'actions' | 'indexRefreshedAt' | 'notes'
>;

function fleetFields(fields: Partial<FleetFields>): FleetFields {
  return { autoScalingGroup: null, targetGroups: [], deregisteredFrom: [], detached: false, actions: [], ...fields };
}

function baseRecord(warning: SpotWarning, receivedAt: number, deadline: number): ResponseRecord {
  return {
    eventId: warning.eventId,
    eventTime: warning.eventTime,
    detailType: 'EC2 Spot Instance Interruption Warning',
    instanceId: warning.instanceId,
    instanceAction: warning.instanceAction,
    account: warning.account,
    region: warning.region,
    outcome: 'handled',
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: new Date(deadline).toISOString(),
    msLeftAtFinish: null,
    receivedAt: new Date(receivedAt).toISOString(),
    finishedAt: new Date(receivedAt).toISOString(),
  };
}

function finalize(
  base: ResponseRecord,
  now: () => number,
  deadline: number,
  fields: Partial<ResponseRecord>,
): ResponseRecord {
  const finished = now();
  return withoutUndefined({
    ...base,
    ...fields,
    finishedAt: new Date(finished).toISOString(),
    msLeftAtFinish: deadline - finished,
  }) as ResponseRecord;
}

function rejectedRecord(rejection: Rejection, receivedAt: number, finished: number): ResponseRecord {
  return {
    eventId: rejection.eventId,
    eventTime: rejection.eventTime,
    detailType: rejection.detailType,
    instanceId: rejection.instanceId,
    instanceAction: rejection.instanceAction,
    account: rejection.account,
    region: rejection.region,
    outcome: 'rejected',
    reason: rejection.reason,
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: null,
    msLeftAtFinish: null,
    receivedAt: new Date(receivedAt).toISOString(),
    finishedAt: new Date(finished).toISOString(),
  };
}

/** Keep a promise from being reported as unhandled while we wait on something else first. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
