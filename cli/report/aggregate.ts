// What the recorded history says about interruptions: per Spot pool (instance type x
// Availability Zone), per Auto Scaling group, and per interruption. Pure: records in, figures
// out, so the table, the JSON and the HTML page all show the same numbers, and every rule is
// testable on plain records (test/unit/cli/report-aggregate.test.ts).
import type { Outcome, ResponseRecord, TimelineEvent } from '../../lambda/core/model';
import { REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../../lambda/events/detail-types';
import { recordFigures } from '../../lambda/response/metrics';

/** The pool of a record that does not name one (written before records carried it, or its DescribeInstances failed). */
export const UNKNOWN = 'unknown';

/** The milestones that end the notice: the instance going away (or stopping), as its state change reported it. */
const NOTICE_ENDS: readonly TimelineEvent[] = ['instance-stopping', 'instance-shutting-down', 'instance-stopped', 'instance-terminated'];

/** Outcomes that are no response of their own: the same interruption again, or an event we could not read. */
const NOT_AN_INTERRUPTION: ReadonlySet<Outcome> = new Set(['duplicate', 'rejected']);

/** Outcomes that mean the response did not complete: failed calls, or a claim whose holder died. */
const FAILED: ReadonlySet<Outcome> = new Set(['failed', 'abandoned']);

/** One interruption warning and what the response made of it. Times in ms, ISO strings for instants. */
export interface InterruptionRow {
  eventId: string;
  instanceId: string | null;
  instanceType: string | null;
  availabilityZone: string | null;
  /** `<instanceType> <availabilityZone>`, or `unknown`. */
  pool: string;
  autoScalingGroup: string | null;
  instanceAction: string | null;
  /** When the warning came (its milestone, else the record's event time): ISO. */
  warnedAt: string;
  outcome: Outcome;
  skipKind: string | null;
  /** Real notice: warning to the instance stopping, shutting down or terminated (state changes on the timeline). */
  noticeMs: number | null;
  /** Signal to traffic stopped (the last DeregisterTargets returning): the metrics' TimeToTrafficStopped. */
  trafficStoppedMs: number | null;
  /** Signal to the replacement first seen in the group: the metrics' ReplacementLag. */
  replacementLagMs: number | null;
  /** Signal to the replacement healthy in every target group (late by up to one index refresh). */
  healthyMs: number | null;
  /** Why this counts as a failure; null when it does not. */
  failure: string | null;
}

/** Spread of one figure over several interruptions (ms); null fields when there is no value. */
export interface Spread {
  count: number;
  median: number | null;
  p90: number | null;
  min: number | null;
  max: number | null;
}

/** The counters and spreads every grouping (pool, group, total) shares. */
export interface Summary {
  interruptions: number;
  /** Rebalance recommendations that were not followed by a warning on the same record. */
  rebalanceRecommendations: number;
  /** Interruptions per day over the report's window. */
  perDay: number;
  /** Share of all interruptions in the window, 0..1. */
  share: number;
  failures: number;
  notice: Spread;
  trafficStopped: Spread;
  replacementLag: Spread;
}

export interface PoolSummary extends Summary {
  pool: string;
  instanceType: string | null;
  availabilityZone: string | null;
}

export interface GroupSummary extends Summary {
  /** The group's name, or `(no group)`. */
  group: string;
  /** Distinct pools the group's interrupted instances ran in. */
  pools: string[];
}

/** The whole report: what `--json` prints and the page draws. */
export interface InterruptionReport {
  /** The window, ISO. */
  since: string;
  until: string;
  /** Records read, of every kind. */
  recordsRead: number;
  totals: Summary;
  pools: PoolSummary[];
  groups: GroupSummary[];
  /** Newest first. */
  interruptions: InterruptionRow[];
  /** Interruptions per UTC day, oldest first, every day of the window listed. */
  daily: { day: string; interruptions: number; failures: number }[];
}

export const NO_GROUP = '(no group)';

/**
 * The report of `records` over [since, until] (ISO). An interruption is a record of a Spot
 * interruption warning, or a record whose timeline has `warning-received` (a rebalance response
 * the warning then landed on), except duplicates, rejected events and warnings for instances
 * EC2 does not know (skipKind unknown-instance). A rebalance recommendation
 * counts as one without a warning only when no interruption of the same instance is in `records`. A failure is an
 * interruption whose outcome is failed or abandoned, a warning that arrived too late to act on,
 * or a response that finished after its deadline. Throws RangeError when since/until are no ISO times.
 */
export function buildReport(records: readonly ResponseRecord[], since: string, until: string): InterruptionReport {
  const from = Date.parse(since);
  const to = Date.parse(until);
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) {
    throw new RangeError(`report: the window must be two ISO times in order, got ${since} .. ${until}`);
  }
  const days = Math.max((to - from) / 86_400_000, 1 / 24);
  const rows = records
    .map(interruptionRow)
    .filter((r): r is InterruptionRow => r !== null)
    .sort((a, b) => Date.parse(b.warnedAt) - Date.parse(a.warnedAt) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  // A recommendation counts on its own only when no warning for that instance came in the window:
  // a record-only recommendation and the warning that follows are two records of one interruption.
  const warned = new Set(rows.map((r) => r.instanceId).filter((id): id is string => id !== null));
  const rebalances = records.filter((r) => isRebalanceOnly(r) && !(r.instanceId && warned.has(r.instanceId)));
  const total = rows.length;
  const summarize = (of: InterruptionRow[], recommendations: number): Summary => ({
    interruptions: of.length,
    rebalanceRecommendations: recommendations,
    perDay: round(of.length / days, 3),
    share: total === 0 ? 0 : round(of.length / total, 4),
    failures: of.filter((r) => r.failure !== null).length,
    notice: spread(of.map((r) => r.noticeMs)),
    trafficStopped: spread(of.map((r) => r.trafficStoppedMs)),
    replacementLag: spread(of.map((r) => r.replacementLagMs)),
  });

  const poolKeys = new Set([...rows.map((r) => r.pool), ...rebalances.map((r) => poolOf(r).pool)]);
  const pools: PoolSummary[] = [...poolKeys].map((pool) => {
    const of = rows.filter((r) => r.pool === pool);
    const sample = of[0] ?? poolOf(rebalances.find((r) => poolOf(r).pool === pool) as ResponseRecord);
    return {
      pool,
      instanceType: sample.instanceType,
      availabilityZone: sample.availabilityZone,
      ...summarize(of, rebalances.filter((r) => poolOf(r).pool === pool).length),
    };
  });
  const groupKeys = new Set([...rows.map((r) => r.autoScalingGroup ?? NO_GROUP), ...rebalances.map((r) => r.autoScalingGroup ?? NO_GROUP)]);
  const groups: GroupSummary[] = [...groupKeys].map((group) => {
    const of = rows.filter((r) => (r.autoScalingGroup ?? NO_GROUP) === group);
    return {
      group,
      pools: [...new Set(of.map((r) => r.pool))].sort(),
      ...summarize(of, rebalances.filter((r) => (r.autoScalingGroup ?? NO_GROUP) === group).length),
    };
  });
  const byCount = <T extends Summary & { pool?: string; group?: string }>(a: T, b: T) =>
    b.interruptions - a.interruptions || b.rebalanceRecommendations - a.rebalanceRecommendations || String(a.pool ?? a.group).localeCompare(String(b.pool ?? b.group));
  return {
    since,
    until,
    recordsRead: records.length,
    totals: summarize(rows, rebalances.length),
    pools: pools.sort(byCount),
    groups: groups.sort(byCount),
    interruptions: rows,
    daily: dailyCounts(rows, from, to),
  };
}

/** The interruption a record stands for, or null when it stands for none. */
export function interruptionRow(record: ResponseRecord): InterruptionRow | null {
  if (NOT_AN_INTERRUPTION.has(record.outcome)) return null;
  // EC2 does not know the instance: a replayed sample or an instance long gone, with no pool to
  // count it in; not an interruption of this fleet.
  if (record.skipKind === 'unknown-instance') return null;
  const warning = record.timeline?.find((e) => e.event === 'warning-received');
  const isWarning = record.detailType === SPOT_INTERRUPTION_WARNING;
  if (!warning && !isWarning) return null;
  const warnedAt = warning?.at ?? record.eventTime ?? record.receivedAt;
  const figures = recordFigures(record);
  return {
    eventId: record.eventId,
    instanceId: record.instanceId,
    ...poolOf(record),
    autoScalingGroup: record.autoScalingGroup,
    instanceAction: record.instanceAction,
    warnedAt,
    outcome: record.outcome,
    skipKind: record.skipKind ?? null,
    noticeMs: noticeOf(record, warnedAt),
    trafficStoppedMs: figures.timeToTrafficStoppedMs ?? null,
    replacementLagMs: figures.replacementLagMs ?? null,
    healthyMs: typeof record.msToHealthy === 'number' ? record.msToHealthy : null,
    failure: failureOf(record),
  };
}

function isRebalanceOnly(record: ResponseRecord): boolean {
  return (
    record.detailType === REBALANCE_RECOMMENDATION &&
    !NOT_AN_INTERRUPTION.has(record.outcome) &&
    !record.timeline?.some((e) => e.event === 'warning-received')
  );
}

function poolOf(record: Pick<ResponseRecord, 'instanceType' | 'availabilityZone'>) {
  const instanceType = record.instanceType ?? null;
  const availabilityZone = record.availabilityZone ?? null;
  return {
    instanceType,
    availabilityZone,
    pool: instanceType || availabilityZone ? `${instanceType ?? UNKNOWN} ${availabilityZone ?? UNKNOWN}` : UNKNOWN,
  };
}

/**
 * Warning to the first state change that ends the notice (stopping, shutting-down, stopped,
 * terminated) on the timeline, at or after the warning; else the record's own noticeMs (the
 * responder measured it on stopping/shutting-down); else null (no state change came, or not yet).
 */
function noticeOf(record: ResponseRecord, warnedAt: string): number | null {
  const warned = Date.parse(warnedAt);
  const ends = (record.timeline ?? [])
    .filter((e) => NOTICE_ENDS.includes(e.event))
    .map((e) => Date.parse(e.at))
    .filter((at) => !Number.isNaN(at) && at >= warned);
  if (!Number.isNaN(warned) && ends.length > 0) return Math.min(...ends) - warned;
  return typeof record.noticeMs === 'number' ? record.noticeMs : null;
}

function failureOf(record: ResponseRecord): string | null {
  if (FAILED.has(record.outcome)) return `${record.outcome}: ${record.reason ?? 'no reason recorded'}`;
  if (record.skipKind === 'too-late') return `too late: ${record.reason ?? 'the warning arrived after its deadline'}`;
  if ((record.outcome === 'handled' || record.outcome === 'skipped') && typeof record.msLeftAtFinish === 'number' && record.msLeftAtFinish < 0) {
    return `finished ${(-record.msLeftAtFinish / 1000).toFixed(1)} s after the deadline`;
  }
  return null;
}

/**
 * Median and 90th percentile by nearest rank (the value at rank ceil(p x n) of the sorted
 * values: always one that occurred), min and max; nulls and non-finite values are left out.
 * Written here because it is five lines and the only statistics the report needs.
 */
export function spread(values: readonly (number | null)[]): Spread {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null;
  return {
    count: sorted.length,
    median: rank(0.5),
    p90: rank(0.9),
    min: sorted[0] ?? null,
    max: sorted[sorted.length - 1] ?? null,
  };
}

function dailyCounts(rows: readonly InterruptionRow[], from: number, to: number): InterruptionReport['daily'] {
  const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const counts = new Map<string, { interruptions: number; failures: number }>();
  const first = Date.parse(`${dayOf(from)}T00:00:00Z`);
  for (let day = first; day <= to; day += 86_400_000) counts.set(dayOf(day), { interruptions: 0, failures: 0 });
  for (const row of rows) {
    const at = Date.parse(row.warnedAt);
    if (Number.isNaN(at)) continue;
    const entry = counts.get(dayOf(at)) ?? { interruptions: 0, failures: 0 };
    entry.interruptions++;
    if (row.failure) entry.failures++;
    counts.set(dayOf(at), entry);
  }
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, c]) => ({ day, ...c }));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
