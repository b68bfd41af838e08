// Pure decisions: given what AWS told us about an instance, what must be done to it.
// No I/O here, so every rule is testable with plain data and shared by the Lambda,
// the CLI replay and the dry run.
import { humanDuration } from './durations';
import {
  NOTICE_MS,
  type ActionResult,
  type AsgFacts,
  type AsgMembership,
  type Deregistration,
  type DetachDecision,
  type InstanceFacts,
  type InterruptionNotice,
  type Outcome,
  type SkipKind,
  type TargetIndexLookup,
  type TimelineEvent,
} from './model';

/** Auto Scaling refuses DetachInstances for any other lifecycle state. */
export const DETACHABLE_STATES: ReadonlySet<string> = new Set(['InService', 'Standby']);

export function deadlineOf(eventTime: string): number {
  return Date.parse(eventTime) + NOTICE_MS;
}

/**
 * The longest delay Node's timers take (setTimeout, AbortSignal.timeout): 2^31 - 1 ms, about
 * 24.8 days. A longer one is not honoured: Node warns (TimeoutOverflowWarning) and fires after
 * 1 ms, which aborts every call of the response at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The delay (ms) of a timer that must fire at `deadline` (epoch ms), seen at `now`: at least
 * 1 ms (a deadline already passed aborts at once), at most MAX_TIMER_MS.
 */
export function timerMs(deadline: number, now: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(deadline - now)));
}

/**
 * Registrations the target index knows about. Instance targets match on the id; IP targets
 * only when the IP is still one of the instance's private IPs *now*: the index may be
 * minutes old, and an IP freed by a terminated instance can belong to another one since.
 */
export function planIndexedDeregistrations(
  instance: InstanceFacts,
  index: TargetIndexLookup,
): Deregistration[] {
  const currentIps = new Set(instance.privateIpAddresses);
  return uniqueDeregistrations(
    index.targets
      .filter((t) =>
        t.targetType === 'instance' ? t.targetId === instance.instanceId : currentIps.has(t.targetId),
      )
      .map((t) => ({
        targetGroupArn: t.targetGroupArn,
        targetId: t.targetId,
        port: t.port,
        availabilityZone: t.availabilityZone,
        source: 'target-index' as const,
      })),
  );
}

/**
 * The Auto Scaling group's own target groups. Auto Scaling registers its instances on each
 * group's default port, which DeregisterTargets uses when no port is given, so no describe
 * call is needed. Groups the index already covers for this instance are left to the index
 * entries, which carry the exact registered ports.
 */
export function planGroupDeregistrations(
  instanceId: string,
  group: AsgFacts,
  alreadyPlanned: readonly Deregistration[],
): Deregistration[] {
  const covered = new Set(
    alreadyPlanned.filter((d) => d.targetId === instanceId).map((d) => d.targetGroupArn),
  );
  return group.targetGroupArns
    .filter((arn) => !covered.has(arn))
    .map((arn) => ({ targetGroupArn: arn, targetId: instanceId, source: 'auto-scaling-group' as const }));
}

export function decideDetach(membership: AsgMembership | null): DetachDecision {
  if (!membership) {
    return { detach: false, groupName: null, reason: 'instance is in no Auto Scaling group' };
  }
  if (!DETACHABLE_STATES.has(membership.lifecycleState)) {
    return {
      detach: false,
      groupName: membership.groupName,
      reason: `lifecycle state is ${membership.lifecycleState}; only InService or Standby instances can be detached`,
    };
  }
  return { detach: true, groupName: membership.groupName };
}

/**
 * A response fails if any action but the shutdown command failed; it is skipped if there was nothing to do at all; it is
 * observed if every call it would have made was only planned (observe mode: nothing was sent),
 * else handled. A merge of an acting attempt and an observing one is handled: something was done.
 */
export function decideOutcome(actions: readonly ActionResult[]): { outcome: Outcome; reason?: string; skipKind?: SkipKind } {
  // A failed graceful-shutdown command does not fail the response: the queue's retry would come
  // after the interruption, and would only repeat what did work (the record notes it instead).
  const failed = actions.filter((a) => a.result === 'failed' && a.action !== 'shutdown');
  if (failed.length > 0) {
    return {
      outcome: 'failed',
      reason: failed.map((a) => `${a.action} ${a.target}: ${a.error?.message ?? a.reason ?? 'failed'}`).join('; '),
    };
  }
  if (actions.every((a) => a.result === 'skipped')) {
    return {
      outcome: 'skipped',
      reason: actions.map((a) => a.reason).filter(Boolean).join('; ') || 'nothing to do',
      skipKind: 'nothing-to-do',
    };
  }
  const done = actions.some((a) => a.action !== 'lookup' && (a.result === 'ok' || a.result === 'not-registered'));
  if (!done && actions.some((a) => a.result === 'planned')) return { outcome: 'observed' };
  return { outcome: 'handled' };
}

function uniqueDeregistrations(items: Deregistration[]): Deregistration[] {
  const seen = new Map<string, Deregistration>();
  for (const d of items) seen.set(`${d.targetGroupArn}|${d.targetId}|${d.port ?? ''}`, d);
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------------------
// The whole lifecycle: which signals act, in which window, on which instances, by which path.

export interface ResponseWindow {
  /** Epoch ms after which no call may run. */
  deadline: number;
  /** Set when the signal came too late to act on at all. */
  skipReason?: string;
  note?: string;
}

/**
 * terminate: the instance is gone two minutes after the warning's time; arriving later, there is
 * nothing left to save (ELB drops terminated targets and Auto Scaling replaces them itself).
 * stop / hibernate: a stopped instance stays registered and keeps its group slot, so a late
 * warning is still acted on, within a fresh two-minute budget. Hibernation starts at once, so
 * there is never a real window, only the urgency. rebalance: no deadline from EC2; the same
 * two-minute budget bounds our own work. An event dated in the future gets the same budget: no
 * deadline lies more than two minutes past its receipt.
 */
export function responseWindow(signal: InterruptionNotice, receivedAt: number): ResponseWindow {
  if (signal.kind === 'rebalance-recommendation') return { deadline: receivedAt + NOTICE_MS };
  const deadline = deadlineOf(signal.eventTime);
  if (deadline > receivedAt + NOTICE_MS) {
    // An event time in the future (a skewed clock, a hand-written or forged event): the real
    // deadline is still at most two minutes away, and the claim's lease counts from it.
    return {
      deadline: receivedAt + NOTICE_MS,
      note: `event time is ${humanDuration(deadline - NOTICE_MS - receivedAt)} in the future; the response was bounded by its own two-minute budget`,
    };
  }
  if (receivedAt < deadline) {
    return signal.instanceAction === 'hibernate'
      ? { deadline, note: 'hibernate: hibernation began with the warning; there was no two-minute window' }
      : { deadline };
  }
  const late = `arrived ${humanDuration(receivedAt - deadline)} after its deadline`;
  if (signal.instanceAction === 'terminate') {
    return { deadline, skipReason: `${late}; the instance is already terminating and AWS removes terminated targets itself` };
  }
  return {
    deadline: receivedAt + NOTICE_MS,
    note: `${late}; a ${signal.instanceAction === 'stop' ? 'stopped' : 'hibernated'} instance stays registered, so it is still acted on, with a fresh two-minute budget`,
  };
}

export interface TagDecision {
  included: boolean;
  reason?: string;
}

const OFF_VALUES = new Set(['off', 'false', 'disabled', 'no']);
/** Tag values that opt in (compared trimmed, case-insensitively); also the IAM condition of permissionScope 'tagged'. */
export const TAG_ON_VALUES: readonly string[] = ['on', 'true', 'enabled', 'yes'];
const ON_VALUES = new Set(TAG_ON_VALUES);

/** The instance's own tag wins over its group's; the mode decides what no tag means. */
export function decideByTags(
  policy: { mode: 'opt-out' | 'opt-in'; key: string },
  instanceTags: Record<string, string>,
  groupTags: Record<string, string> | undefined,
): TagDecision {
  const [where, value] =
    policy.key in instanceTags
      ? ['instance', instanceTags[policy.key]]
      : groupTags && policy.key in groupTags
        ? ['Auto Scaling group', groupTags[policy.key]]
        : [null, undefined];
  const normalized = value?.trim().toLowerCase() ?? '';
  if (policy.mode === 'opt-out') {
    return where && OFF_VALUES.has(normalized)
      ? { included: false, reason: `excluded by tag ${policy.key}=${value} on the ${where}` }
      : { included: true };
  }
  return where && ON_VALUES.has(normalized)
    ? { included: true }
    : {
        included: false,
        reason: `opt-in mode: neither the instance nor its group is tagged ${policy.key}=on`,
      };
}

export type ReplacementPath =
  | { path: 'detach'; groupName: string }
  | { path: 'terminate-in-group'; groupName: string }
  | { path: 'none'; groupName: string | null; reason: string };

/**
 * Detaching bypasses the group's EC2_INSTANCE_TERMINATING hooks; when the group has one,
 * TerminateInstanceInAutoScalingGroup (no decrement) still launches a replacement and lets
 * the user's hook run before the instance goes.
 */
export function decideReplacement(membership: AsgMembership | null, group: AsgFacts | null): ReplacementPath {
  const detach = decideDetach(membership);
  if (!detach.detach) return { path: 'none', groupName: detach.groupName, reason: detach.reason };
  if (group && group.terminatingHooks.length > 0) return { path: 'terminate-in-group', groupName: detach.groupName };
  return { path: 'detach', groupName: detach.groupName };
}

/** A skip as the plan decides it: its kind and the reason a reader sees. */
export interface Skip {
  skipKind: SkipKind;
  reason: string;
}

/** A rebalance recommendation acts only when asked to, and never where AWS already replaces. */
export function rebalanceSkip(
  rebalanceAction: 'record' | 'replace',
  membership: AsgMembership | null,
  group: AsgFacts | null,
): Skip | undefined {
  if (rebalanceAction === 'record') {
    return { skipKind: 'record-only', reason: 'rebalance recommendations are recorded only (rebalanceAction: record)' };
  }
  if (!membership) {
    return {
      skipKind: 'no-group',
      reason: 'instance is in no Auto Scaling group: there is nothing to launch a replacement early',
    };
  }
  if (group?.suspendedProcesses.includes('Launch')) {
    return {
      skipKind: 'launch-suspended',
      reason: `Launch is suspended on ${group.groupName}: no replacement can be launched early`,
    };
  }
  if (group?.capacityRebalance) {
    return {
      skipKind: 'capacity-rebalancing',
      reason: `Capacity Rebalancing is on for ${group.groupName}: Auto Scaling replaces the instance itself`,
    };
  }
  return undefined;
}

/** The milestone a state change adds to the record of the response that touched the instance. */
export function stateMilestone(state: string, role: string): TimelineEvent | null {
  if (role === 'replacement') {
    // A redelivered or late `pending` of a replacement already named: its milestone is there (kept).
    return state === 'running' ? 'replacement-running' : state === 'pending' ? 'replacement-launched' : null;
  }
  switch (state) {
    case 'running':
      return 'instance-restarted';
    case 'stopping':
      return 'instance-stopping';
    case 'stopped':
      return 'instance-stopped';
    case 'shutting-down':
      return 'instance-shutting-down';
    case 'terminated':
      return 'instance-terminated';
    default:
      return null;
  }
}
