// How records look on a terminal (human) and to a script (one JSON object per line).
import { humanDuration } from '../lambda/core/durations';
import type { ActionResult, ResponseRecord } from '../lambda/core/model';
import type { PlanStep } from '../lambda/dry-run/guard';
import { observedSummary } from '../lambda/response/notifications';

/** The JSON shape of `replay --json` and `history --json`: stable field names, nulls not omitted. */
export function recordSummary(record: ResponseRecord & { deliveries?: number }): Record<string, unknown> {
  return {
    eventId: record.eventId,
    eventTime: record.eventTime,
    detailType: record.detailType,
    instanceId: record.instanceId,
    instanceAction: record.instanceAction,
    outcome: record.outcome,
    reason: record.reason ?? null,
    skipKind: record.skipKind ?? null,
    duplicateOf: record.duplicateOf ?? null,
    autoScalingGroup: record.autoScalingGroup,
    instanceType: record.instanceType ?? null,
    availabilityZone: record.availabilityZone ?? null,
    detached: record.detached,
    targetGroups: record.targetGroups,
    deregisteredFrom: record.deregisteredFrom,
    actions: record.actions,
    msLeftAtFinish: record.msLeftAtFinish,
    replacement: record.replacement ?? null,
    timeline: record.timeline ?? [],
    noticeMs: record.noticeMs ?? null,
    msToHealthy: record.msToHealthy ?? null,
    notes: record.notes ?? [],
    ...(record.attempts && record.attempts.length > 1 ? { attempts: record.attempts } : {}),
    ...(record.dryRun ? { dryRun: true } : {}),
    ...(record.mode ? { mode: record.mode } : {}),
    ...(record.deliveries ? { deliveries: record.deliveries } : {}),
  };
}

/** `arn:...:targetgroup/web/73e2d6bc24d8a067` -> `web` */
export function shortTargetName(target: string): string {
  const match = /targetgroup\/([^/]+)\//.exec(target);
  return match?.[1] ?? target;
}

const MARK: Record<ActionResult['result'], string> = {
  ok: '✓',
  'not-registered': '·',
  skipped: '–',
  failed: '✗',
  planned: '→',
};

function describeAction(a: ActionResult): string {
  const what =
    a.action === 'deregister'
      ? `deregister from ${shortTargetName(a.target)} (${a.targetId ?? '?'}${a.port ? `:${a.port}` : ''})`
      : a.action === 'detach'
        ? `detach from ${a.target} with replacement`
        : a.action === 'terminate-in-group'
          ? `terminate in ${a.target} with replacement`
          : a.action === 'ecs-drain'
            ? `set ECS container instance ${a.target.split('/').pop() ?? a.target} DRAINING`
            : a.action === 'shutdown'
              ? `graceful shutdown: SSM ${a.target}`
              : `look up ${a.target}`;
  const reason = a.commandId ? `command ${a.commandId}${a.reason ? `, ${a.reason}` : ''}` : a.reason;
  const detail = a.error ? `${a.error.name}: ${a.error.message}` : reason;
  return `  ${MARK[a.result]} ${what.padEnd(58)} ${a.result.padEnd(14)} ${String(a.latencyMs).padStart(5)} ms${
    detail ? `  ${detail}` : ''
  }`;
}

export function formatRecord(record: ResponseRecord & { deliveries?: number }): string {
  const mode = record.dryRun ? ' (dry run)' : record.mode === 'observe' ? ' (observe mode)' : '';
  const head = `${record.outcome.toUpperCase()}${mode}  event ${record.eventId}  ${record.instanceId ?? '(no instance)'}${
    record.instanceAction ? ` ${record.instanceAction}` : ''
  }${record.eventTime ? `  at ${record.eventTime}` : ''}`;
  const lines = [head];
  if (record.reason) lines.push(`  reason: ${record.reason}${record.skipKind ? ` [${record.skipKind}]` : ''}`);
  if (record.actions.length > 0 || record.autoScalingGroup || record.targetGroups.length > 0) {
    lines.push(
      `  found: ${record.autoScalingGroup ? `Auto Scaling group ${record.autoScalingGroup} (${record.lifecycleState ?? '?'})` : 'no Auto Scaling group'}; ` +
        `target groups: ${record.targetGroups.map(shortTargetName).join(', ') || 'none'}`,
    );
  }
  if (record.instanceType || record.availabilityZone) {
    lines.push(`  pool: ${record.instanceType ?? '?'} in ${record.availabilityZone ?? '?'}`);
  }
  if (record.outcome === 'observed') lines.push(`  observe: would ${observedSummary(record)}; nothing was changed`);
  lines.push(...record.actions.map(describeAction));
  if (record.replacement) {
    const r = record.replacement;
    lines.push(`  replacement: ${r.instanceId}, in the group ${(r.msFromSignal / 1000).toFixed(1)} s after the signal`);
  }
  if (record.timeline && record.timeline.length > 0) {
    lines.push(`  timeline: ${record.timeline.map((e) => `${e.event} ${e.at.slice(11, 23)}`).join(' → ')}`);
  }
  if (record.msToHealthy !== undefined && record.msToHealthy !== null) {
    lines.push(`  replacement healthy in every target group ${(record.msToHealthy / 1000).toFixed(1)} s after the signal (to the refresh that saw it)`);
  }
  if (record.noticeMs !== undefined && record.noticeMs !== null) {
    lines.push(`  real notice: ${(record.noticeMs / 1000).toFixed(1)} s from warning to stop/shutdown`);
  }
  if (record.attempts && record.attempts.length > 1) {
    lines.push(`  attempts: ${record.attempts.map((a) => `${a.attempt} ${a.outcome} at ${a.at.slice(11, 23)}`).join(', ')}`);
  }
  for (const note of record.notes ?? []) lines.push(`  note: ${note}`);
  if (record.msLeftAtFinish !== null && record.outcome !== 'rejected') {
    lines.push(
      record.msLeftAtFinish >= 0
        ? `  finished with ${humanDuration(record.msLeftAtFinish)} left before the deadline`
        : `  finished ${humanDuration(-record.msLeftAtFinish)} after the deadline`,
    );
  }
  if (record.deliveries && record.deliveries > 1) lines.push(`  delivered ${record.deliveries} times in all; handled once`);
  return lines.join('\n');
}

/** The JSON shape of `replay --dry-run --json`: replay's fields, plus the plan. */
export function dryRunSummary(record: ResponseRecord, plan: readonly PlanStep[]): Record<string, unknown> {
  return {
    ...recordSummary(record),
    dryRun: true,
    plan: plan.map(({ step, kind, service, command, input, note }) => ({
      step,
      kind,
      service,
      command,
      input,
      ...(note ? { note } : {}),
    })),
  };
}

/** A dry-run batch: the batch's merged calls once, then every event's record. */
export function formatDryRunBatch(records: readonly ResponseRecord[], plan: readonly PlanStep[]): string {
  const reads = plan.filter((s) => s.kind === 'read').length;
  const writes = plan.length - reads;
  return [
    `DRY RUN  batch of ${records.length} event${records.length === 1 ? '' : 's'}: ${reads} read${reads === 1 ? '' : 's'} made, ` +
      `${writes} write${writes === 1 ? '' : 's'} planned (WOULD) and not made, merged across the batch`,
    formatPlan(plan),
    ...records.map((record) => formatRecord(record)),
  ].join('\n');
}

/** One numbered line per call, in order: the reads made, and the writes that WOULD have been made. */
export function formatPlan(plan: readonly PlanStep[]): string {
  if (plan.length === 0) return '  (no AWS calls)';
  const number = String(plan.length).length;
  const service = Math.max(...plan.map((s) => s.service.length));
  const command = Math.max(...plan.map((s) => s.command.length));
  return plan
    .map(
      (s) =>
        `  ${String(s.step).padStart(number)}. ${s.kind === 'read' ? 'read ' : 'WOULD'} ${s.service.padEnd(service)} ` +
        `${s.command.padEnd(command)} ${JSON.stringify(s.input)}${s.note ? `  (${s.note})` : ''}`,
    )
    .join('\n');
}

/** A dry run of one event: what it read, what it would have written, then the record it would have made. */
export function formatDryRun(record: ResponseRecord, plan: readonly PlanStep[]): string {
  const reads = plan.filter((s) => s.kind === 'read').length;
  const writes = plan.length - reads;
  return [
    `DRY RUN  event ${record.eventId}: ${reads} read${reads === 1 ? '' : 's'} made, ` +
      `${writes} write${writes === 1 ? '' : 's'} planned (WOULD) and not made`,
    formatPlan(plan),
    formatRecord(record),
  ].join('\n');
}

/**
 * Rows under a header, each column as wide as its widest cell, two spaces apart; a column whose
 * every cell is a number (or –) is right-aligned. The report's and any other tabular output.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '  (none)';
  const numeric = headers.map((_, i) => rows.every((r) => /^(-?[\d.]+%?|–|[\d.]+ \/ [\d.]+)$/.test(r[i] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
