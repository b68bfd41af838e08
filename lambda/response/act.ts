// The fleet-facing part of a response: read what the instance is part of, decide, act on it
// in parallel, and verify the replacement. Everything here runs after the claim is won.
import { errorInfo, sleep as realSleep } from '../aws/clients';
import { withoutUndefined } from '../core/objects';
import {
  decideByTags,
  decideReplacement,
  planGroupDeregistrations,
  planIndexedDeregistrations,
  rebalanceSkipReason,
} from '../core/plan';
import type {
  ActionKind,
  ActionResult,
  AsgFacts,
  ContainerInstanceRef,
  Deregistration,
  InstanceFacts,
  RebalanceRecommendation,
  ResponseRecord,
  SpotWarning,
  TimelineEntry,
} from '../core/model';
import type { AutoScalingPort, CallOptions, TargetIndexReader } from '../core/ports';
import type { ResponderBehaviour, ResponderDeps } from '../responder';
import { fleetFields, iso, skip, unique, type FleetFields } from './records';

/** Looks for the replacement after a detach: Auto Scaling usually shows it within a second or two. */
const REPLACEMENT_LOOKS = 3;
const REPLACEMENT_LOOK_INTERVAL_MS = 1_000;

export interface Reads {
  instance: Promise<InstanceFacts | null>;
  membership: ReturnType<AutoScalingPort['describeMembership']>;
  index: ReturnType<TargetIndexReader['lookup']>;
  container: Promise<ContainerInstanceRef | null>;
}

/** Everything after the claim: read, decide, act, verify. */
export async function act(
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
  let groupUnreadable = false;
  if (membership) {
    const started = now();
    try {
      group = await deps.autoScaling.describeGroup(membership.groupName, budget());
    } catch (err) {
      groupUnreadable = true;
      failedLookup('DescribeAutoScalingGroups', err, now() - started);
    }
  }
  const found = {
    autoScalingGroup: membership?.groupName ?? null,
    lifecycleState: membership?.lifecycleState ?? null,
    indexRefreshedAt: index.refreshedAt ?? null,
  };
  if (groupUnreadable && !(behaviour.tagPolicy.key in instance.tags)) {
    // The group's tag may exclude the instance: acting without knowing could override the
    // user's opt-out. The failed lookup fails the response, and Lambda's retry decides.
    notes.push(`the group's ${behaviour.tagPolicy.key} tag could not be read; nothing was done`);
    return fleetFields({ ...found, actions, timeline, notes });
  }

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
 * Its health is not read here: in AWS a new instance is still booting ('initial') for minutes,
 * and DescribeTargetHealth would spend the account's ELBv2 describe budget that a mass
 * reclaim needs. The index refresher, which reads every target's health anyway, records when
 * the replacement becomes healthy.
 */
async function findReplacement(
  signal: SpotWarning | RebalanceRecommendation,
  before: AsgFacts,
  deps: ResponderDeps,
  budget: () => CallOptions,
  now: () => number,
): Promise<NonNullable<ResponseRecord['replacement']> | null> {
  const sleep = deps.sleep ?? realSleep;
  const known = new Set([...before.instanceIds, signal.instanceId]);
  for (let look = 1; look <= REPLACEMENT_LOOKS; look++) {
    try {
      const instanceIds = await deps.autoScaling.groupInstanceIds(before.groupName, budget());
      const fresh = instanceIds?.find((id) => !known.has(id));
      if (fresh) {
        const seenAt = now();
        return { instanceId: fresh, seenAt: iso(seenAt), msFromSignal: seenAt - Date.parse(signal.eventTime) };
      }
    } catch {
      return null; // Verification is best effort: it never fails a response that did its job.
    }
    if (look < REPLACEMENT_LOOKS) await sleep(REPLACEMENT_LOOK_INTERVAL_MS);
  }
  return null;
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

/** Keep a promise from being reported as unhandled while we wait on something else first. */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
