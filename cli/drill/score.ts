// How a drill is scored: for each instance the experiment interrupted, what the records say the
// responder did. Pure (records in, verdicts out), so the same scoring runs on the records of a
// real drill, of a replay against the emulator, and of a unit test.
import { NOTICE_MS, type ResponseRecord, type TimelineEvent } from '../../lambda/core/model';
import { SPOT_INTERRUPTION_WARNING } from '../../lambda/events/detail-types';

/** pass / fail, or n/a when the check does not apply (an instance in no target group has no traffic to stop). */
export type CheckResult = 'pass' | 'fail' | 'n/a';

export interface Check {
  result: CheckResult;
  /** Warning to the milestone, ms; null when it never came (or does not apply). */
  ms: number | null;
  detail: string;
}

/** The verdict on one interrupted instance. */
export interface InstanceScore {
  instanceId: string;
  /** The record the verdict comes from; null when none names the instance. */
  eventId: string | null;
  warnedAt: string | null;
  warned: Check;
  trafficStoppedBeforeDeadline: Check;
  replacementLaunched: Check;
  replacementHealthy: Check;
  pass: boolean;
}

export interface DrillScore {
  instances: InstanceScore[];
  passed: number;
  failed: number;
  /** Every instance passed (and there was at least one). */
  pass: boolean;
}

const milestone = (record: ResponseRecord, event: TimelineEvent) => record.timeline?.find((e) => e.event === event);
const since = (from: number, iso: string | undefined): number | null => {
  const at = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(at) || Number.isNaN(from) ? null : at - from;
};
const seconds = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);

/**
 * The record of each instance's interruption: the newest record (by event time) of a warning
 * for it, or of a response whose timeline received its warning, that is neither a duplicate nor
 * rejected, with its warning at or after `notBefore` (ISO: the experiment's start, so an older
 * interruption of the same instance does not count).
 */
export function recordsByInstance(records: readonly ResponseRecord[], notBefore: string): Map<string, ResponseRecord> {
  const from = Date.parse(notBefore);
  const chosen = new Map<string, ResponseRecord>();
  for (const record of records) {
    if (!record.instanceId || record.outcome === 'duplicate' || record.outcome === 'rejected') continue;
    const warnedAt = warningTime(record);
    if (warnedAt === null || warnedAt < from) continue;
    const held = chosen.get(record.instanceId);
    if (!held || (warningTime(held) ?? 0) < warnedAt) chosen.set(record.instanceId, record);
  }
  return chosen;
}

function warningTime(record: ResponseRecord): number | null {
  const at = milestone(record, 'warning-received')?.at ?? (record.detailType === SPOT_INTERRUPTION_WARNING ? record.eventTime : null);
  const ms = at ? Date.parse(at) : Number.NaN;
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Scores each instance (in the order given) from its record (recordsByInstance). The checks:
 * - warned: the responder recorded the instance's interruption warning;
 * - traffic stopped before the deadline: the traffic-stopped milestone within 120 s of the
 *   warning (n/a when the instance was in no target group and nothing failed to deregister);
 * - replacement launched: the record names the replacement Auto Scaling launched (n/a when the
 *   instance was in no group);
 * - replacement healthy: the index refresher saw the replacement healthy in all its target
 *   groups (n/a without a replacement in a target group).
 * A failed or abandoned response fails `warned` with its reason.
 */
export function scoreDrill(instanceIds: readonly string[], records: ReadonlyMap<string, ResponseRecord>): DrillScore {
  const instances = instanceIds.map((id) => scoreInstance(id, records.get(id)));
  const passed = instances.filter((i) => i.pass).length;
  return { instances, passed, failed: instances.length - passed, pass: instances.length > 0 && passed === instances.length };
}

function scoreInstance(instanceId: string, record: ResponseRecord | undefined): InstanceScore {
  if (!record) {
    const missing: Check = { result: 'fail', ms: null, detail: 'no record: the warning never reached the responder, or it has not written yet' };
    return {
      instanceId,
      eventId: null,
      warnedAt: null,
      warned: missing,
      trafficStoppedBeforeDeadline: { ...missing, detail: 'no record' },
      replacementLaunched: { ...missing, detail: 'no record' },
      replacementHealthy: { ...missing, detail: 'no record' },
      pass: false,
    };
  }
  const warned = warningTime(record) ?? Number.NaN;
  const warnedAt = Number.isNaN(warned) ? null : new Date(warned).toISOString();
  const warnedCheck: Check =
    record.outcome === 'failed' || record.outcome === 'abandoned' || record.outcome === 'in-progress'
      ? { result: 'fail', ms: 0, detail: `warned, but the response is ${record.outcome}: ${record.reason ?? 'no reason recorded'}` }
      : { result: 'pass', ms: 0, detail: `warned (${record.outcome}${record.skipKind ? `, ${record.skipKind}` : ''})` };

  const stoppedMs = since(warned, milestone(record, 'traffic-stopped')?.at);
  const failedDeregistration = record.actions.some((a) => a.action === 'deregister' && a.result === 'failed');
  const traffic: Check =
    stoppedMs !== null
      ? stoppedMs <= NOTICE_MS
        ? { result: 'pass', ms: stoppedMs, detail: `traffic stopped ${seconds(stoppedMs)} after the warning (${seconds(NOTICE_MS - stoppedMs)} before the deadline)` }
        : { result: 'fail', ms: stoppedMs, detail: `traffic stopped ${seconds(stoppedMs)} after the warning: past the 120 s deadline` }
      : record.targetGroups.length === 0 && !failedDeregistration
        ? { result: 'n/a', ms: null, detail: 'in no target group: no traffic to stop' }
        : { result: 'fail', ms: null, detail: `traffic not stopped (target groups: ${record.targetGroups.length}${failedDeregistration ? ', a deregistration failed' : ''})` };

  const launchedMs = record.replacement ? since(warned, record.replacement.seenAt) : null;
  const launched: Check = record.replacement
    ? { result: 'pass', ms: launchedMs, detail: `replacement ${record.replacement.instanceId} in the group ${seconds(launchedMs)} after the warning` }
    : !record.autoScalingGroup
      ? { result: 'n/a', ms: null, detail: 'in no Auto Scaling group: no replacement expected' }
      : { result: 'fail', ms: null, detail: `no replacement seen in ${record.autoScalingGroup}${record.detached ? ' (detached)' : ' (not detached)'}` };

  const healthyEntry = milestone(record, 'replacement-healthy');
  const healthyMs = healthyEntry ? since(warned, healthyEntry.at) : null;
  const healthy: Check = healthyEntry
    ? { result: 'pass', ms: healthyMs, detail: `replacement healthy in every target group ${seconds(healthyMs)} after the warning (to the index refresh that saw it)` }
    : launched.result !== 'pass'
      ? { result: launched.result, ms: null, detail: launched.result === 'n/a' ? 'no replacement expected' : 'no replacement to be healthy' }
      : record.targetGroups.length === 0
        ? { result: 'n/a', ms: null, detail: 'the group has no target group: nothing to be healthy in' }
        : { result: 'fail', ms: null, detail: 'replacement not yet seen healthy (the index refresher checks every refresh interval)' };

  const checks = [warnedCheck, traffic, launched, healthy];
  return {
    instanceId,
    eventId: record.eventId,
    warnedAt,
    warned: warnedCheck,
    trafficStoppedBeforeDeadline: traffic,
    replacementLaunched: launched,
    replacementHealthy: healthy,
    pass: checks.every((c) => c.result !== 'fail'),
  };
}
