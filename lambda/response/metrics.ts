// The signals operators watch, from one place. The responder reports every record it closes and
// the index refresher every snapshot it writes; this module turns them into CloudWatch metrics
// (names, units and dimensions: METRICS in contract.ts, which the dashboard and alarms read too).
// The Lambda emits them through Powertools Metrics as EMF log lines (no PutMetricData call, no
// latency on the hot path); the CLI and the tests use `noMetrics` or their own sink.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DEFAULTS, METRICS, OUTCOMES, POWERTOOLS_ENV, SKIP_KINDS } from '../contract';
import type { Outcome, ResponseRecord, SkipKind } from '../core/model';
import type { ThrottleCounter } from '../aws/throttles';
import { INSTANCE_STATE_CHANGE, REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../events/detail-types';

// The contract's lists must name exactly the model's outcomes and skip kinds: the dashboard
// draws one line per value, so a new value missing here would never be seen.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const OUTCOMES_MATCH: Same<(typeof OUTCOMES)[number], Outcome> = true;
const SKIP_KINDS_MATCH: Same<(typeof SKIP_KINDS)[number], SkipKind> = true;
void OUTCOMES_MATCH;
void SKIP_KINDS_MATCH;

/** The metrics' `signal` dimension: which EC2 signal a record answers; unidentified for an unreadable event. */
export type SignalDimension =
  | 'spot-interruption-warning'
  | 'rebalance-recommendation'
  | 'instance-state-change'
  | 'unidentified';

/** A completed index refresh, as the refresher reports it. */
export interface IndexRefreshReport {
  /** ISO time the snapshot's scan started (the index's refreshedAt). */
  snapshotAt: string;
  /** Epoch ms the snapshot's write completed. */
  completedAt: number;
}

/** The port both functions report to. Implementations must never throw: metrics are not worth a failed response. */
export interface MetricsSink {
  /** One closed record of the responder, whatever its outcome. */
  recordClosed(record: ResponseRecord): void;
  /** One index refresh whose snapshot was written. */
  indexRefreshed(report: IndexRefreshReport): void;
  /** One input refused for its source (lambda/events/delivery.ts); `source` says which, in words. */
  deliveryRejected(source: string): void;
}

/** For the CLI, the dry run and tests that do not look at metrics. */
export const noMetrics: MetricsSink = {
  recordClosed: () => undefined,
  indexRefreshed: () => undefined,
  deliveryRejected: () => undefined,
};

/** The figures one record contributes; absent when the record has no such figure. Units in the names. */
export interface RecordFigures {
  signal: SignalDimension;
  outcome: Outcome;
  skipKind?: SkipKind;
  /** Signal time to the traffic-stopped milestone (the last DeregisterTargets returning). */
  timeToTrafficStoppedMs?: number;
  /** Only for interruption responses that acted (handled or failed): the safety margin left. */
  timeLeftAtFinishMs?: number;
  /** Warning to stopping/shutting-down, from the state change that measured it. */
  noticeLengthMs?: number;
  /** Signal to the replacement first seen in the group. */
  replacementLagMs?: number;
  /** How old the target index was when the response read it. */
  indexAgeAtResponseS?: number;
}

const SIGNALS: Record<string, SignalDimension> = {
  [SPOT_INTERRUPTION_WARNING]: 'spot-interruption-warning',
  [REBALANCE_RECOMMENDATION]: 'rebalance-recommendation',
  [INSTANCE_STATE_CHANGE]: 'instance-state-change',
};

/** What a record says as metrics: pure, so the EMF adapter stays a thin mapping. */
export function recordFigures(record: ResponseRecord): RecordFigures {
  const signal = (record.detailType && SIGNALS[record.detailType]) || 'unidentified';
  const interruption = signal === 'spot-interruption-warning' || signal === 'rebalance-recommendation';
  const acted = interruption && (record.outcome === 'handled' || record.outcome === 'failed');
  const signalMs = record.eventTime ? Date.parse(record.eventTime) : Number.NaN;
  const trafficStopped = record.timeline?.find((t) => t.event === 'traffic-stopped');
  const figures: RecordFigures = { signal, outcome: record.outcome };
  if (record.skipKind) figures.skipKind = record.skipKind;
  if (interruption && trafficStopped && !Number.isNaN(signalMs)) {
    figures.timeToTrafficStoppedMs = Date.parse(trafficStopped.at) - signalMs;
  }
  if (acted && typeof record.msLeftAtFinish === 'number') figures.timeLeftAtFinishMs = record.msLeftAtFinish;
  if (typeof record.noticeMs === 'number') figures.noticeLengthMs = record.noticeMs;
  // Carried by the record of the state change that named the replacement (the response's own
  // record is reported before the replacement launches).
  if (record.replacement) figures.replacementLagMs = record.replacement.msFromSignal;
  if (interruption && record.indexRefreshedAt && record.outcome !== 'duplicate') {
    const age = Date.parse(record.receivedAt) - Date.parse(record.indexRefreshedAt);
    if (!Number.isNaN(age)) figures.indexAgeAtResponseS = Math.max(0, age) / 1000;
  }
  return figures;
}

export interface PowertoolsMetricsOptions {
  /** @default a Metrics of METRICS.namespace (or POWERTOOLS_METRICS_NAMESPACE) and DEFAULTS.serviceName */
  metrics?: Metrics;
  /** Throttled attempts of the function's SDK clients, emitted with each report. */
  throttles?: ThrottleCounter;
  /** Where a failure to emit is reported; the report is then dropped. */
  onError?: (err: unknown) => void;
}

/**
 * The Lambda's sink: each report becomes EMF lines on stdout, which CloudWatch Logs turns into
 * metrics of METRICS.namespace with the dimension service (Powertools Metrics, "Amazon
 * CloudWatch Embedded Metric Format": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * Per record: Responses (service, signal, outcome), Skips (service, skipKind) for a skip, then
 * the record's figures and Throttles (service) in one line that also carries the event and
 * instance ids and the per-AWS-service throttle counts as metadata (searchable in Logs Insights).
 * Per input refused for its source: RejectedDeliveries (service), the source as metadata.
 */
export function powertoolsMetrics(options: PowertoolsMetricsOptions = {}): MetricsSink {
  const metrics =
    options.metrics ??
    new Metrics({ namespace: process.env[POWERTOOLS_ENV.metricsNamespace] ?? METRICS.namespace, serviceName: DEFAULTS.serviceName });
  const onError = options.onError ?? ((err: unknown) => console.error('metrics not emitted', err));
  const N = METRICS.names;
  const D = METRICS.dimensions;

  /** Adds Throttles (total, with the by-service split as metadata) to the pending line. */
  const addThrottles = (): void => {
    const taken = options.throttles?.take();
    if (!taken) return;
    let total = 0;
    for (const count of taken.values()) total += count;
    metrics.addMetric(N.throttles, MetricUnit.Count, total);
    if (total > 0) metrics.addMetadata('throttlesByService', JSON.stringify(Object.fromEntries(taken)));
  };
  const guarded = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
    try {
      fn(...args);
    } catch (err) {
      metrics.clearMetrics();
      metrics.clearDimensions();
      onError(err);
    }
  };

  return {
    recordClosed: guarded((record: ResponseRecord) => {
      const f = recordFigures(record);
      metrics.singleMetric().addDimensions({ [D.signal]: f.signal, [D.outcome]: f.outcome }).addMetric(N.responses, MetricUnit.Count, 1);
      if (f.skipKind) metrics.singleMetric().addDimension(D.skipKind, f.skipKind).addMetric(N.skips, MetricUnit.Count, 1);
      const figures: [string, (typeof MetricUnit)[keyof typeof MetricUnit], number | undefined][] = [
        [N.timeToTrafficStopped, MetricUnit.Milliseconds, f.timeToTrafficStoppedMs],
        [N.timeLeftAtFinish, MetricUnit.Milliseconds, f.timeLeftAtFinishMs],
        [N.noticeLength, MetricUnit.Milliseconds, f.noticeLengthMs],
        [N.replacementLag, MetricUnit.Milliseconds, f.replacementLagMs],
        [N.indexAgeAtResponse, MetricUnit.Seconds, f.indexAgeAtResponseS],
      ];
      for (const [name, unit, value] of figures) if (value !== undefined) metrics.addMetric(name, unit, value);
      addThrottles();
      if (!metrics.hasStoredMetrics()) return;
      metrics.addMetadata('eventId', record.eventId);
      if (record.instanceId) metrics.addMetadata('instanceId', record.instanceId);
      metrics.publishStoredMetrics();
    }),
    indexRefreshed: guarded((report: IndexRefreshReport) => {
      metrics.addMetric(N.indexRefreshes, MetricUnit.Count, 1);
      metrics.addMetric(N.indexAge, MetricUnit.Seconds, Math.max(0, report.completedAt - Date.parse(report.snapshotAt)) / 1000);
      addThrottles();
      metrics.addMetadata('snapshotAt', report.snapshotAt);
      metrics.publishStoredMetrics();
    }),
    deliveryRejected: guarded((source: string) => {
      metrics.addMetric(N.rejectedDeliveries, MetricUnit.Count, 1);
      metrics.addMetadata('source', source);
      metrics.publishStoredMetrics();
    }),
  };
}
