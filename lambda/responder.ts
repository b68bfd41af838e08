// The response to one event: validate -> claim -> look up -> decide -> act -> record.
// The Lambda handler, `spot-responder replay` and the dry run all call `respond`; they differ
// only in the adapters they pass in.
import { errorInfo } from './aws/clients';
import type { RebalanceAction, TagPolicy } from './config';
import type {
  ActionKind,
  ActionResult,
  AsgFacts,
  ContainerInstanceRef,
  Deregistration,
  InstanceFacts,
  InstanceStateChange,
  RebalanceRecommendation,
  ResponseRecord,
  SpotWarning,
  TimelineEntry,
} from './core/model';
import {
  decideByTags,
  decideOutcome,
  decideReplacement,
  planGroupDeregistrations,
  planIndexedDeregistrations,
  rebalanceSkipReason,
  responseWindow,
  stateMilestone,
} from './core/plan';
import type {
  AutoScalingPort,
  CallOptions,
  ClaimKeys,
  Ec2Reader,
  EcsPort,
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

export interface ResponderBehaviour {
  rebalanceAction: RebalanceAction;
  tagPolicy: TagPolicy;
}

export const DEFAULT_BEHAVIOUR: ResponderBehaviour = {
  rebalanceAction: 'record',
  tagPolicy: { mode: 'opt-out', key: 'spot-responder' },
};

export interface ResponderDeps {
  ec2: Ec2Reader;
  autoScaling: AutoScalingPort;
  loadBalancing: LoadBalancingPort;
  targetIndex: TargetIndexReader;
  store: EventStore;
  /** Absent when no ECS cluster is configured. */
  ecs?: EcsPort;
  policy: AcceptPolicy;
  behaviour?: ResponderBehaviour;
  log: Log;
  /** Milliseconds since the epoch; replay runs on the event's own clock. */
  now?: () => number;
  /** How to wait between looks for the replacement; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown after a failed response has been recorded, so AWS retries it and then dead-letters it. */
export class ResponseFailedError extends Error {
  override name = 'ResponseFailedError';
  constructor(readonly record: ResponseRecord) {
    super(`response to event ${record.eventId} failed: ${record.reason ?? 'unknown reason'}`);
  }
}

const DETAIL_TYPES = {
  'spot-interruption-warning': 'EC2 Spot Instance Interruption Warning',
  'rebalance-recommendation': 'EC2 Instance Rebalance Recommendation',
  'instance-state-change': 'EC2 Instance State-change Notification',
} as const;

/** Looks for the replacement after a detach: Auto Scaling usually shows it within a second or two. */
const REPLACEMENT_LOOKS = 3;
const REPLACEMENT_LOOK_INTERVAL_MS = 1_000;

export async function respond(raw: unknown, deps: ResponderDeps): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const receivedAt = now();
  const parsed = parseEvent(raw, deps.policy);
  if (!parsed.ok) {
    const record = rejectedRecord(parsed.rejection, receivedAt, now());
    deps.log.warn('event rejected', { eventId: record.eventId, reason: record.reason, kind: parsed.rejection.kind });
    await deps.store.recordUnclaimed(record);
    return record;
  }
  const signal = parsed.signal;
  const log = deps.log.child({ eventId: signal.eventId, instanceId: signal.instanceId, signal: signal.kind });
  switch (signal.kind) {
    case 'instance-state-change':
      return extendTimeline(signal, deps, receivedAt, log);
    case 'spot-interruption-warning':
    case 'rebalance-recommendation':
      return respondToInterruption(signal, deps, receivedAt, log);
  }
}

/** The two-minute warning, or (when configured to act) the earlier rebalance recommendation. */
async function respondToInterruption(
  signal: SpotWarning | RebalanceRecommendation,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const behaviour = deps.behaviour ?? DEFAULT_BEHAVIOUR;
  const window = responseWindow(signal, receivedAt);
  const base = baseRecord(signal, receivedAt, window.deadline);

  if (window.skipReason) {
    const record = finalize(base, now, window.deadline, { outcome: 'skipped', reason: window.skipReason });
    log.warn('signal arrived too late to act on', { reason: window.skipReason });
    await deps.store.recordUnclaimed(record);
    return record;
  }

  // Every call shares the time left before the deadline; none may run past it.
  const budget = (): CallOptions => ({ abortSignal: AbortSignal.timeout(Math.max(1, window.deadline - now())) });
  const recordOnly = signal.kind === 'rebalance-recommendation' && behaviour.rebalanceAction === 'record';
  const keys: ClaimKeys = {
    eventId: signal.eventId,
    signal: signal.kind,
    instanceId: signal.instanceId,
    eventTime: signal.eventTime,
    actsOnInstance: !recordOnly,
  };

  if (recordOnly) {
    const claim = await deps.store.claim(keys, new Date(window.deadline + LEASE_MARGIN_MS), budget());
    if (!claim.claimed) return duplicate(base, claim, signal, deps, window.deadline, log);
    const record = finalize(base, now, window.deadline, {
      outcome: 'skipped',
      reason: rebalanceSkipReason('record', null, null),
      timeline: [{ event: 'rebalance-recommended', at: signal.eventTime }],
    });
    await deps.store.finish(keys, record);
    return record;
  }

  // Reads are harmless, so they run beside the claim; nothing mutating starts before it.
  const reads: Reads = {
    instance: quiet(deps.ec2.describeInstance(signal.instanceId, budget())),
    membership: quiet(deps.autoScaling.describeMembership(signal.instanceId, budget())),
    index: quiet(deps.targetIndex.lookup(signal.instanceId, budget())),
    container: quiet(deps.ecs ? deps.ecs.findContainerInstance(signal.instanceId, budget()) : Promise.resolve(null)),
  };
  const claim = await deps.store.claim(keys, new Date(window.deadline + LEASE_MARGIN_MS), budget());
  if (!claim.claimed) return duplicate(base, claim, signal, deps, window.deadline, log);

  let record: ResponseRecord;
  try {
    const fleet = await act(signal, reads, deps, behaviour, budget);
    const notes = [...(window.note ? [window.note] : []), ...(fleet.notes ?? [])];
    record = finalize(base, now, window.deadline, {
      ...fleet,
      ...(notes.length > 0 ? { notes } : {}),
      ...(fleet.skipReason ? { outcome: 'skipped', reason: fleet.skipReason } : decideOutcome(fleet.actions)),
    });
  } catch (err) {
    // A bug or an unexpected error: still release the claim as failed so a retry can run.
    const info = errorInfo(err);
    record = finalize(base, now, window.deadline, { outcome: 'failed', reason: `${info.name}: ${info.message}` });
  }
  delete (record as Partial<FleetFields>).skipReason;
  await deps.store.finish(keys, record);
  log.info('response finished', {
    outcome: record.outcome,
    reason: record.reason,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
  });
  if (record.outcome === 'failed') throw new ResponseFailedError(record);
  return record;
}

async function duplicate(
  base: ResponseRecord,
  claim: { heldBy: string; status: string },
  signal: SpotWarning | RebalanceRecommendation,
  deps: ResponderDeps,
  deadline: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  log.info('duplicate', { duplicateOf: claim.heldBy, claimStatus: claim.status });
  await deps.store.noteDuplicate(claim.heldBy, signal.eventId, new Date(now()).toISOString());
  if (signal.kind === 'spot-interruption-warning' && claim.heldBy !== signal.eventId) {
    // The warning for an instance a rebalance recommendation already handled: its record learns
    // that the warning came, and when.
    await deps.store.appendTimeline(signal.instanceId, () => ({
      entry: { event: 'warning-received', at: signal.eventTime, detail: `instance-action ${signal.instanceAction}` },
      warningTime: signal.eventTime,
    }));
  }
  return finalize(base, now, deadline, {
    outcome: 'duplicate',
    duplicateOf: claim.heldBy,
    reason: `already ${claim.status === 'IN_PROGRESS' ? 'being handled' : 'handled'} as event ${claim.heldBy}`,
  });
}

interface Reads {
  instance: Promise<InstanceFacts | null>;
  membership: ReturnType<AutoScalingPort['describeMembership']>;
  index: ReturnType<TargetIndexReader['lookup']>;
  container: Promise<ContainerInstanceRef | null>;
}

/** The fleet-facing fields of a record, plus why nothing was done when that is the answer. */
type FleetFields = Pick<
  ResponseRecord,
  | 'autoScalingGroup'
  | 'lifecycleState'
  | 'targetGroups'
  | 'deregisteredFrom'
  | 'detached'
  | 'actions'
  | 'indexRefreshedAt'
  | 'notes'
  | 'replacement'
  | 'timeline'
> & { skipReason?: string };

/** Everything after the claim: read, decide, act, verify. */
async function act(
  signal: SpotWarning | RebalanceRecommendation,
  reads: Reads,
  deps: ResponderDeps,
  behaviour: ResponderBehaviour,
  budget: () => CallOptions,
): Promise<FleetFields> {
  const now = deps.now ?? Date.now;
  const actions: ActionResult[] = [];
  const notes: string[] = [];
  const timeline: TimelineEntry[] = [
    signal.kind === 'spot-interruption-warning'
      ? { event: 'warning-received', at: signal.eventTime, detail: `instance-action ${signal.instanceAction}` }
      : { event: 'rebalance-recommended', at: signal.eventTime },
  ];
  const failedLookup = (target: string, err: unknown, latencyMs = 0): void => {
    actions.push({ action: 'lookup', target, result: 'failed', latencyMs, error: errorInfo(err) });
  };
  const nothingDone = (reason: string, fields: Partial<FleetFields> = {}): FleetFields =>
    fleetFields({ skipReason: reason, timeline, ...fields });

  const [instanceResult, membershipResult, indexResult, containerResult] = await Promise.allSettled([
    reads.instance,
    reads.membership,
    reads.index,
    reads.container,
  ]);

  let instance: InstanceFacts;
  if (instanceResult.status === 'fulfilled') {
    if (!instanceResult.value) return nothingDone('EC2 does not know this instance');
    instance = instanceResult.value;
    if (instance.state === 'terminated') return nothingDone('instance is already terminated');
  } else {
    // Degrade rather than stall: instance-id registrations can still be removed; IP
    // registrations cannot be verified without the instance's current IPs.
    failedLookup('DescribeInstances', instanceResult.reason);
    notes.push('DescribeInstances failed; IP targets were not verified and were left alone');
    instance = { instanceId: signal.instanceId, state: 'unknown', privateIpAddresses: [], tags: {} };
  }

  const index = indexResult.status === 'fulfilled' ? indexResult.value : { targets: [] };
  if (indexResult.status === 'rejected') {
    failedLookup('TargetIndex', indexResult.reason);
    notes.push("target index lookup failed; only the Auto Scaling group's own target groups were covered");
  } else if (!index.refreshedAt) {
    notes.push('target index has not completed a refresh yet; registrations outside the Auto Scaling group it has not seen may have been missed');
  }
  const membership = membershipResult.status === 'fulfilled' ? membershipResult.value : null;
  if (membershipResult.status === 'rejected') failedLookup('DescribeAutoScalingInstances', membershipResult.reason);
  const container = containerResult.status === 'fulfilled' ? containerResult.value : null;
  if (containerResult.status === 'rejected') failedLookup('ListContainerInstances', containerResult.reason);

  // The group's tags, target groups and hooks decide what happens, so they come before acting.
  let group: AsgFacts | null = null;
  if (membership) {
    const started = now();
    try {
      group = await deps.autoScaling.describeGroup(membership.groupName, budget());
    } catch (err) {
      failedLookup('DescribeAutoScalingGroups', err, now() - started);
    }
  }
  const found = {
    autoScalingGroup: membership?.groupName ?? null,
    lifecycleState: membership?.lifecycleState ?? null,
    indexRefreshedAt: index.refreshedAt ?? null,
  };

  const tags = decideByTags(behaviour.tagPolicy, instance.tags, group?.tags);
  if (!tags.included) return nothingDone(tags.reason ?? 'excluded by tag', found);
  if (signal.kind === 'rebalance-recommendation') {
    const reason = rebalanceSkipReason(behaviour.rebalanceAction, membership, group);
    if (reason) return nothingDone(reason, found);
  }

  const indexed = planIndexedDeregistrations(instance, index);
  const deregistrations = [...indexed, ...(group ? planGroupDeregistrations(signal.instanceId, group, indexed) : [])];
  const replacement =
    membershipResult.status === 'fulfilled'
      ? decideReplacement(membership, group)
      : { path: 'none' as const, groupName: null, reason: 'Auto Scaling membership unknown (lookup failed)' };

  const deregister = (d: Deregistration): Promise<ActionResult> =>
    timed('deregister', d.targetGroupArn, now, budget, async (opts) => {
      const result = await deps.loadBalancing.deregister(d, opts);
      return { result, ...(result === 'not-registered' ? { reason: 'not registered (group or target gone)' } : {}) };
    }, { targetId: d.targetId, port: d.port });

  const replace = (): Promise<ActionResult> => {
    if (replacement.path === 'none') return Promise.resolve(skip('detach', replacement.groupName ?? '-', replacement.reason));
    const kind: ActionKind = replacement.path === 'detach' ? 'detach' : 'terminate-in-group';
    return timed(kind, replacement.groupName, now, budget, async (opts) => {
      const result =
        replacement.path === 'detach'
          ? await deps.autoScaling.detachWithReplacement(replacement.groupName, signal.instanceId, opts)
          : await deps.autoScaling.terminateWithReplacement(signal.instanceId, opts);
      if (result === 'not-detachable') {
        return { result: 'skipped', reason: 'Auto Scaling refused: the instance left InService/Standby in the meantime' };
      }
      return {
        result,
        ...(replacement.path === 'terminate-in-group'
          ? { reason: `terminating lifecycle hook ${group?.terminatingHooks.join(', ')} runs before the instance goes` }
          : {}),
      };
    });
  };

  const drainTasks = (): Promise<ActionResult | null> => {
    if (!container || !deps.ecs) return Promise.resolve(null);
    const ecs = deps.ecs;
    return timed('ecs-drain', container.containerInstanceArn, now, budget, async (opts) => {
      if (container.status === 'DRAINING') return { result: 'ok', reason: 'already DRAINING' };
      const result = await ecs.drain(container, opts);
      return result === 'not-found' ? { result: 'not-registered', reason: 'container instance gone' } : { result };
    });
  };

  // Stopping traffic, starting the replacement and draining ECS tasks need nothing from each other.
  const [deregistered, replaced, drained] = await Promise.all([
    Promise.all(deregistrations.map(deregister)),
    replace(),
    drainTasks(),
  ]);
  actions.push(...deregistered, replaced, ...(drained ? [drained] : []));

  if (deregistered.some((a) => a.result === 'ok') && deregistered.every((a) => a.result !== 'failed')) {
    timeline.push({ event: 'traffic-stopped', at: iso(now()), detail: `${deregistered.length} registration(s)` });
  }
  if (drained?.result === 'ok') timeline.push({ event: 'ecs-draining', at: iso(now()), detail: container?.cluster });
  const replacedOk = replaced.result === 'ok';
  if (replacedOk) {
    timeline.push({ event: replaced.action === 'detach' ? 'detached' : 'terminated-in-group', at: iso(now()) });
  }

  const seen =
    replacedOk && group ? await findReplacement(signal, group, deps, budget, now) : null;
  if (seen) timeline.push({ event: 'replacement-launched', at: seen.seenAt, detail: seen.instanceId });

  return fleetFields({
    ...found,
    targetGroups: unique([...deregistered.map((a) => a.target), ...(group?.targetGroupArns ?? [])]),
    deregisteredFrom: unique(deregistered.filter((a) => a.result === 'ok').map((a) => a.target)),
    detached: replacedOk && replaced.action === 'detach',
    actions,
    timeline,
    ...(seen ? { replacement: seen } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  });
}

/**
 * Verification: the replacement is the instance that appears in the group after we acted.
 * Where time allows, its health in the group's target groups is read once; in AWS it is
 * usually still 'initial' here, and its 'running' state change re-checks later.
 */
async function findReplacement(
  signal: SpotWarning | RebalanceRecommendation,
  before: AsgFacts,
  deps: ResponderDeps,
  budget: () => CallOptions,
  now: () => number,
): Promise<NonNullable<ResponseRecord['replacement']> | null> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const known = new Set([...before.instanceIds, signal.instanceId]);
  for (let look = 1; look <= REPLACEMENT_LOOKS; look++) {
    try {
      const group = await deps.autoScaling.describeGroup(before.groupName, budget());
      const fresh = group?.instanceIds.find((id) => !known.has(id));
      if (fresh) {
        const seenAt = now();
        return {
          instanceId: fresh,
          seenAt: iso(seenAt),
          msFromSignal: seenAt - Date.parse(signal.eventTime),
          healthyIn: await healthyTargetGroups(fresh, before.targetGroupArns, deps, budget),
        };
      }
    } catch {
      return null; // Verification is best effort: it never fails a response that did its job.
    }
    if (look < REPLACEMENT_LOOKS) await sleep(REPLACEMENT_LOOK_INTERVAL_MS);
  }
  return null;
}

async function healthyTargetGroups(
  instanceId: string,
  targetGroupArns: string[],
  deps: ResponderDeps,
  budget: () => CallOptions,
): Promise<string[]> {
  const states = await Promise.all(
    targetGroupArns.map((arn) => deps.loadBalancing.targetHealth(arn, instanceId, budget()).catch(() => null)),
  );
  return targetGroupArns.filter((_, i) => states[i] === 'healthy');
}

/**
 * A state change never acts. It extends the timeline of the response that touched the
 * instance and is otherwise dropped without a write: the rule sees every instance's changes.
 */
async function extendTimeline(
  signal: InstanceStateChange,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const appended = await deps.store.appendTimeline(signal.instanceId, (pointer) => {
    const milestone = stateMilestone(signal.state, pointer.role);
    if (!milestone) return null;
    const warned = pointer.role === 'interrupted' ? pointer.warningTime : null;
    const goingDown = signal.state === 'stopping' || signal.state === 'shutting-down';
    return {
      entry: { event: milestone, at: signal.eventTime },
      ...(warned && goingDown ? { noticeMs: Date.parse(signal.eventTime) - Date.parse(warned) } : {}),
    };
  });
  const base = baseRecord(signal, receivedAt, null);
  if (!appended) {
    log.debug('state change of an instance we did not act on; not recorded', { state: signal.state });
    return finalize(base, now, null, { outcome: 'skipped', reason: `state ${signal.state}: not an instance we acted on; not recorded` });
  }
  log.info('timeline extended', { record: appended.eventId, milestone: appended.entry.event });
  return finalize(base, now, null, {
    outcome: 'handled',
    reason: `added ${appended.entry.event} to the timeline of event ${appended.eventId}`,
    timeline: [appended.entry],
  });
}

type ActionBody = (opts: CallOptions) => Promise<{ result: ActionResult['result']; reason?: string }>;

async function timed(
  action: ActionKind,
  target: string,
  now: () => number,
  budget: () => CallOptions,
  body: ActionBody,
  extra: Partial<ActionResult> = {},
): Promise<ActionResult> {
  const started = now();
  const base = { action, target, ...withoutUndefined(extra) };
  const opts = budget();
  try {
    const { result, reason } = await body(opts);
    return { ...base, result, latencyMs: now() - started, ...(reason ? { reason } : {}) };
  } catch (err) {
    const error = errorInfo(err);
    // Only our own signal firing is the deadline: the SDK names its socket and request
    // timeouts (clients.ts) TimeoutError too, and those fire long before the deadline.
    const reason = opts.abortSignal?.aborted ? 'deadline reached' : undefined;
    return { ...base, result: 'failed', latencyMs: now() - started, error, ...(reason ? { reason } : {}) };
  }
}

function skip(action: ActionKind, target: string, reason: string): ActionResult {
  return { action, target, result: 'skipped', latencyMs: 0, reason };
}

function fleetFields(fields: Partial<FleetFields>): FleetFields {
  return { autoScalingGroup: null, targetGroups: [], deregisteredFrom: [], detached: false, actions: [], ...fields };
}

function baseRecord(
  signal: SpotWarning | RebalanceRecommendation | InstanceStateChange,
  receivedAt: number,
  deadline: number | null,
): ResponseRecord {
  return {
    eventId: signal.eventId,
    eventTime: signal.eventTime,
    detailType: DETAIL_TYPES[signal.kind],
    instanceId: signal.instanceId,
    instanceAction: signal.kind === 'spot-interruption-warning' ? signal.instanceAction : null,
    account: signal.account,
    region: signal.region,
    outcome: 'handled',
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: deadline === null ? null : iso(deadline),
    msLeftAtFinish: null,
    receivedAt: iso(receivedAt),
    finishedAt: iso(receivedAt),
  };
}

function finalize(
  base: ResponseRecord,
  now: () => number,
  deadline: number | null,
  fields: Partial<ResponseRecord>,
): ResponseRecord {
  const finished = now();
  return withoutUndefined({
    ...base,
    ...fields,
    finishedAt: iso(finished),
    msLeftAtFinish: deadline === null ? null : deadline - finished,
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
    receivedAt: iso(receivedAt),
    finishedAt: iso(finished),
  };
}

/** Keep a promise from being reported as unhandled while we wait on something else first. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
