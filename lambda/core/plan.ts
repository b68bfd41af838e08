// Pure decisions: given what AWS told us about an instance, what must be done to it.
// No I/O here, so every rule is testable with plain data and shared by the Lambda,
// the CLI replay and the dry run.
import {
  NOTICE_MS,
  type ActionResult,
  type AsgFacts,
  type AsgMembership,
  type Deregistration,
  type DetachDecision,
  type InstanceFacts,
  type Outcome,
  type TargetIndexLookup,
} from './model';

/** Auto Scaling refuses DetachInstances for any other lifecycle state. */
export const DETACHABLE_STATES: ReadonlySet<string> = new Set(['InService', 'Standby']);

export function deadlineOf(eventTime: string): number {
  return Date.parse(eventTime) + NOTICE_MS;
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

/** A response fails if any action failed; it is skipped if there was nothing to do at all. */
export function decideOutcome(actions: readonly ActionResult[]): { outcome: Outcome; reason?: string } {
  const failed = actions.filter((a) => a.result === 'failed');
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
    };
  }
  return { outcome: 'handled' };
}

function uniqueDeregistrations(items: Deregistration[]): Deregistration[] {
  const seen = new Map<string, Deregistration>();
  for (const d of items) seen.set(`${d.targetGroupArn}|${d.targetId}|${d.port ?? ''}`, d);
  return [...seen.values()];
}
