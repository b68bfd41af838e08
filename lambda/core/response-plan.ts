// One switch decides every outcome of a response to an interruption notice: from the signal, the
// facts the lookups returned, the user's behaviour and the response window to a ResponsePlan.
// Either a skip (its SkipKind and the reason a reader sees) or what to act on: deregistrations,
// the replacement path, the ECS drain. Pure: the Lambda, the replay and the dry run all run it,
// and the adapters that execute it decide nothing.
import type { ResponderBehaviour } from './behaviour';
import type {
  ActionResult,
  AsgFacts,
  AsgMembership,
  ContainerInstanceRef,
  Deregistration,
  InstanceFacts,
  InterruptionNotice,
  SkipKind,
  TargetIndexLookup,
} from './model';
import {
  decideByTags,
  decideReplacement,
  planGroupDeregistrations,
  planIndexedDeregistrations,
  rebalanceSkip,
  type ResponseWindow,
} from './plan';
import { UNSCOPED, groupOutOfScope, targetGroupOutOfScope, type ResourceScope } from './scope';
import { planShutdown, type PlannedShutdown } from './shutdown';

/** One lookup, settled: its value, or the failed-lookup action the record will carry. */
export type Lookup<T> = { ok: true; value: T } | { ok: false; failure: ActionResult };

/** What the reads beside the claim returned, before the group is read. */
export interface SettledLookups {
  /** DescribeInstances; null when EC2 does not know the instance. */
  instance: Lookup<InstanceFacts | null>;
  /** DescribeAutoScalingInstances; null when the instance is in no group. */
  membership: Lookup<AsgMembership | null>;
  /** The target index (BatchGetItem). */
  index: Lookup<TargetIndexLookup>;
  /** ListContainerInstances / DescribeContainerInstances; null without ECS or no match. */
  container: Lookup<ContainerInstanceRef | null>;
}

/** Every fact a plan is made from. */
export interface ResponseFacts extends SettledLookups {
  /** DescribeAutoScalingGroups; null when the group was not read (see groupToRead) or is gone. */
  group: Lookup<AsgFacts | null>;
}

/** What the record reports as found, whatever was then done. */
export interface FoundFields {
  autoScalingGroup: string | null;
  lifecycleState: string | null;
  indexRefreshedAt: string | null;
  /** The Spot pool (instance type x zone) from DescribeInstances, when it answered. */
  instanceType?: string;
  availabilityZone?: string;
}

export interface SkipPlan {
  kind: 'skip';
  skipKind: SkipKind;
  reason: string;
  /**
   * false: recorded once without a claim (put-if-absent), before any read; true: recorded under
   * the event's claim, so a repeated delivery is a duplicate.
   */
  underClaim: boolean;
  /** Set when the lookups got far enough to report it. */
  found?: FoundFields;
  notes: string[];
}

/** The replacement path, with the reason the record gives for it. */
export type PlannedReplacement =
  | { path: 'detach'; groupName: string }
  | { path: 'terminate-in-group'; groupName: string; reason: string }
  | { path: 'none'; groupName: string | null; reason: string };

/** The ECS container instance to set DRAINING; one already DRAINING needs no call. */
export type PlannedDrain =
  | { send: true; containerInstance: ContainerInstanceRef }
  | { send: false; containerInstance: ContainerInstanceRef; reason: string };

export interface ActPlan {
  kind: 'act';
  found: FoundFields;
  /** The group as read: the target groups it reports, and where to look for the replacement. */
  group: AsgFacts | null;
  /** Lookups that failed; each one fails the response, so Lambda retries it. */
  failedLookups: ActionResult[];
  /** DeregisterTargets, one target each. */
  deregistrations: Deregistration[];
  /**
   * Registrations found but not to be touched (a target group outside targetGroupNames), as the
   * 'skipped' deregister actions the record lists: no call is made for them.
   */
  skippedDeregistrations: ActionResult[];
  /**
   * null when nothing may be done at all: the group's tags could not be read and the instance's
   * own tag does not decide (acting could override the user's opt-out).
   */
  replacement: PlannedReplacement | null;
  ecsDrain: PlannedDrain | null;
  /** The graceful-shutdown command for the instance (core/shutdown.ts); null when the feature is off or the signal sends none. */
  shutdown: PlannedShutdown | null;
  notes: string[];
}

/** What a response to an interruption notice does; a skip changes nothing in the fleet. */
export type ResponsePlan = SkipPlan | ActPlan;

/**
 * The skips decided before any read: a terminate warning too late to act on (recorded without a
 * claim), and a rebalance recommendation that is only recorded (under a claim, acting on
 * nothing). null: look the instance up.
 */
export function planBeforeLookups(
  signal: InterruptionNotice,
  behaviour: ResponderBehaviour,
  window: ResponseWindow,
): SkipPlan | null {
  if (window.skipReason) {
    return { kind: 'skip', skipKind: 'too-late', reason: window.skipReason, underClaim: false, notes: [] };
  }
  if (signal.kind === 'rebalance-recommendation' && behaviour.rebalanceAction === 'record') {
    const skip = rebalanceSkip('record', null, null);
    if (skip) return { kind: 'skip', ...skip, underClaim: true, notes: windowNotes(window) };
  }
  return null;
}

/**
 * The group to read (DescribeAutoScalingGroups) once the first lookups settled: the instance's
 * group, unless the instance is unknown or terminated and so skipped whatever the group says.
 */
export function groupToRead(lookups: SettledLookups): string | null {
  if (instanceSkip(lookups.instance)) return null;
  return lookups.membership.ok ? (lookups.membership.value?.groupName ?? null) : null;
}

/**
 * The response to an interruption notice. Rules, in order: the window and record-only rebalance
 * (planBeforeLookups); an unknown or terminated instance; the failed-lookup fallbacks (an
 * unreadable instance keeps only its instance-id registrations, an unreadable index only the
 * group's target groups, an unreadable group with no instance tag stops everything); the tag
 * policy; the rebalance modes; then what to act on.
 */
export function planResponse(
  signal: InterruptionNotice,
  facts: ResponseFacts,
  behaviour: ResponderBehaviour,
  window: ResponseWindow,
): ResponsePlan {
  const early = planBeforeLookups(signal, behaviour, window);
  if (early) return early;
  const notes = windowNotes(window);
  const skip = (s: { skipKind: SkipKind; reason: string }, found?: FoundFields): SkipPlan => ({
    kind: 'skip',
    ...s,
    underClaim: true,
    ...(found ? { found } : {}),
    notes,
  });

  const unusable = instanceSkip(facts.instance);
  if (unusable) return skip(unusable);
  let instance: InstanceFacts;
  if (facts.instance.ok && facts.instance.value) {
    instance = facts.instance.value;
  } else {
    // Degrade rather than stall: instance-id registrations can still be removed; IP
    // registrations cannot be verified without the instance's current IPs.
    notes.push('DescribeInstances failed; IP targets were not verified and were left alone');
    instance = { instanceId: signal.instanceId, state: 'unknown', privateIpAddresses: [], tags: {} };
  }

  const index = facts.index.ok ? facts.index.value : { targets: [] };
  if (!facts.index.ok) {
    notes.push("target index lookup failed; only the Auto Scaling group's own target groups were covered");
  } else if (!index.refreshedAt) {
    notes.push('target index has not completed a refresh yet; registrations outside the Auto Scaling group it has not seen may have been missed');
  }
  const membership = facts.membership.ok ? facts.membership.value : null;
  const container = facts.container.ok ? facts.container.value : null;
  const group = facts.group.ok ? facts.group.value : null;
  const failedLookups = [facts.instance, facts.index, facts.membership, facts.container, facts.group].flatMap((l) =>
    l.ok ? [] : [l.failure],
  );
  const found: FoundFields = {
    autoScalingGroup: membership?.groupName ?? null,
    lifecycleState: membership?.lifecycleState ?? null,
    indexRefreshedAt: index.refreshedAt ?? null,
    ...(instance.instanceType ? { instanceType: instance.instanceType } : {}),
    ...(instance.availabilityZone ? { availabilityZone: instance.availabilityZone } : {}),
  };
  const act = (
    fields: Pick<ActPlan, 'deregistrations' | 'replacement' | 'ecsDrain'> & Partial<Pick<ActPlan, 'skippedDeregistrations' | 'shutdown'>>,
  ): ActPlan => ({
    kind: 'act',
    found,
    group,
    failedLookups,
    skippedDeregistrations: [],
    shutdown: null,
    ...fields,
    notes,
  });

  if (!facts.group.ok && !(behaviour.tagPolicy.key in instance.tags)) {
    // The group's tag may exclude the instance: acting without knowing could override the
    // user's opt-out. The failed lookup fails the response, and Lambda's retry decides.
    notes.push(`the group's ${behaviour.tagPolicy.key} tag could not be read; nothing was done`);
    return act({ deregistrations: [], replacement: null, ecsDrain: null });
  }

  const tags = decideByTags(behaviour.tagPolicy, instance.tags, group?.tags);
  if (!tags.included) {
    const skipKind = behaviour.tagPolicy.mode === 'opt-in' ? 'not-opted-in' : 'excluded-by-tag';
    return skip({ skipKind, reason: tags.reason ?? 'excluded by tag' }, found);
  }
  if (signal.kind === 'rebalance-recommendation') {
    const rebalance = rebalanceSkip(behaviour.rebalanceAction, membership, group);
    if (rebalance) return skip(rebalance, found);
  }

  const indexed = planIndexedDeregistrations(instance, index);
  const scope = behaviour.scope ?? UNSCOPED;
  const registrations = [...indexed, ...(group ? planGroupDeregistrations(signal.instanceId, group, indexed) : [])];
  const deregistrations = registrations.filter((d) => !targetGroupOutOfScope(scope, d.targetGroupArn));
  const skippedDeregistrations = registrations.flatMap((d) => {
    const reason = targetGroupOutOfScope(scope, d.targetGroupArn);
    return reason ? [outOfScopeDeregistration(d, reason)] : [];
  });
  const groupOut = membership ? groupOutOfScope(scope, membership.groupName) : null;
  if ((groupOut || skippedDeregistrations.length > 0) && deregistrations.length === 0 && (!membership || groupOut) && !container) {
    // IAM would refuse every call: nothing to do, and nothing to retry or alarm on.
    const reasons = [...(groupOut ? [groupOut] : []), ...new Set(skippedDeregistrations.map((a) => a.reason ?? ''))];
    return skip({ skipKind: 'out-of-scope', reason: reasons.join('; ') }, found);
  }
  return act({
    deregistrations,
    skippedDeregistrations,
    replacement: planReplacement(signal, facts.membership.ok, membership, group, scope, notes),
    ecsDrain: container ? planDrain(container) : null,
    shutdown: planShutdown(signal, facts.instance.ok ? instance.tags : null, group?.tags, behaviour.shutdown),
  });
}

function outOfScopeDeregistration(d: Deregistration, reason: string): ActionResult {
  return {
    action: 'deregister',
    target: d.targetGroupArn,
    targetId: d.targetId,
    ...(d.port !== undefined ? { port: d.port } : {}),
    result: 'skipped',
    latencyMs: 0,
    reason,
  };
}

/**
 * The replacement path, after the group's scope and suspended processes (AWS Auto Scaling User
 * Guide, "How suspended processes affect other processes"). Pushes onto `notes` what a reader of
 * the record must know about a path still taken.
 * - Launch suspended: no replacement launches. A stop/hibernate warning then only stops traffic
 *   and keeps the instance in its group: detached, the persistent Spot instance would come back
 *   outside the group with nothing launched in its place. A terminate warning still detaches
 *   (the desired capacity is kept, so the group replaces it once Launch resumes), noted.
 * - Terminate suspended with a terminating hook: TerminateInstanceInAutoScalingGroup may be
 *   refused or left pending, and EC2 reclaims the instance within two minutes anyway; detaching
 *   starts the replacement now, at the price of the hook not running (noted).
 * - AddToLoadBalancer suspended: the replacement is not registered in the group's target groups,
 *   and resuming the process does not register it later (noted).
 */
function planReplacement(
  signal: InterruptionNotice,
  membershipKnown: boolean,
  membership: AsgMembership | null,
  group: AsgFacts | null,
  scope: ResourceScope,
  notes: string[],
): PlannedReplacement {
  if (!membershipKnown) return { path: 'none', groupName: null, reason: 'Auto Scaling membership unknown (lookup failed)' };
  const path = decideReplacement(membership, group);
  if (path.path === 'none') return path;
  const outOfScope = groupOutOfScope(scope, path.groupName);
  if (outOfScope) return { path: 'none', groupName: path.groupName, reason: outOfScope };
  const suspended = new Set(group?.suspendedProcesses ?? []);
  const name = path.groupName;
  if (suspended.has('Launch')) {
    if (signal.kind === 'spot-interruption-warning' && signal.instanceAction !== 'terminate') {
      const state = signal.instanceAction === 'stop' ? 'stopped' : 'hibernated';
      return {
        path: 'none',
        groupName: name,
        reason:
          `Launch is suspended on ${name}: a detach would launch no replacement, and the ${state} instance would come ` +
          'back outside its group; it was kept in the group and only its traffic was stopped',
      };
    }
    notes.push(`Launch is suspended on ${name}: no replacement will launch until Launch resumes`);
  }
  if (suspended.has('AddToLoadBalancer') && (group?.targetGroupArns.length ?? 0) > 0) {
    notes.push(
      `AddToLoadBalancer is suspended on ${name}: the replacement will not be registered in the group's target groups, ` +
        'and resuming the process does not register instances launched meanwhile',
    );
  }
  if (path.path === 'detach') return path;
  const hooks = group?.terminatingHooks.join(', ');
  if (suspended.has('Terminate')) {
    notes.push(
      `Terminate is suspended on ${name}: TerminateInstanceInAutoScalingGroup may be refused or left pending, so the ` +
        `instance was detached instead; its terminating lifecycle hook ${hooks} did not run`,
    );
    return { path: 'detach', groupName: name };
  }
  return { ...path, reason: `terminating lifecycle hook ${hooks} runs before the instance goes` };
}

/** Already DRAINING (the ECS agent or an earlier delivery did it): nothing to send, and done. */
function planDrain(containerInstance: ContainerInstanceRef): PlannedDrain {
  return containerInstance.status === 'DRAINING'
    ? { send: false, containerInstance, reason: 'already DRAINING' }
    : { send: true, containerInstance };
}

function instanceSkip(instance: Lookup<InstanceFacts | null>): { skipKind: SkipKind; reason: string } | null {
  if (!instance.ok) return null;
  if (!instance.value) return { skipKind: 'unknown-instance', reason: 'EC2 does not know this instance' };
  if (instance.value.state === 'terminated') return { skipKind: 'already-terminated', reason: 'instance is already terminated' };
  return null;
}

function windowNotes(window: ResponseWindow): string[] {
  return window.note ? [window.note] : [];
}
