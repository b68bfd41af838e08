// The operators' page: what the responder did (outcomes, skips), how well (time to traffic
// stopped, time left, real notice, replacement lag), whether it can keep doing it (index age,
// throttles, errors, the dead-letter queue) and every alarm's state. Wiring only: the metrics
// are the functions' own (METRICS in lambda/contract.ts) and Lambda's and SQS's.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS, OUTCOMES, SKIP_KINDS } from '../lambda/contract';
import { spotResponderMetric } from './alarms';

export interface SpotResponderDashboardProps {
  readonly responder: lambda.IFunction;
  readonly indexRefresher: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** Minutes between index refreshes: the index-age graphs mark three of them, where entries expire. */
  readonly indexRefreshMinutes: number;
}

/** The interruption signals, as the `signal` dimension spells them; state changes are drawn apart. */
const INTERRUPTION_SIGNALS = ['spot-interruption-warning', 'rebalance-recommendation'] as const;
const PERIOD = Duration.minutes(5);
const WIDTH = 8;
const HEIGHT = 6;

/** The dashboard `Dashboard` in `scope`; its name is left to CloudFormation (unique per stack). */
export function createDashboard(scope: Construct, props: SpotResponderDashboardProps): cloudwatch.Dashboard {
  const N = METRICS.names;
  const D = METRICS.dimensions;
  const sum = (name: string, label: string, dimensions?: Record<string, string>) =>
    spotResponderMetric(name, { statistic: cloudwatch.Stats.SUM, period: PERIOD, label, ...(dimensions ? { dimensions } : {}) });
  const percentiles = (name: string, what: string, stats: string[] = ['p50', 'p90', 'Maximum']) =>
    stats.map((statistic) => spotResponderMetric(name, { statistic, period: PERIOD, label: `${what} ${statistic}` }));

  // One line per outcome, interruption signals summed: the counts an operator reads first.
  // The ids must be unique across the whole graph, hence the outcome's index in them.
  const outcomes = OUTCOMES.map((outcome, o) => {
    const bySignal = Object.fromEntries(
      INTERRUPTION_SIGNALS.map((signal, i) => [`o${o}s${i}`, sum(N.responses, signal, { [D.signal]: signal, [D.outcome]: outcome })]),
    );
    return new cloudwatch.MathExpression({
      expression: Object.keys(bySignal).map((id) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics: bySignal,
      label: outcome,
      period: PERIOD,
    });
  });
  const stateChanges = OUTCOMES.filter((o) => o !== 'duplicate').map((outcome) =>
    sum(N.responses, outcome, { [D.signal]: 'instance-state-change', [D.outcome]: outcome }),
  );
  const skips = SKIP_KINDS.filter((k) => k !== 'not-acted-on').map((kind) => sum(N.skips, kind, { [D.skipKind]: kind }));
  const staleAfter = {
    value: props.indexRefreshMinutes * 3 * 60,
    label: 'entries expire (3 intervals)',
    color: cloudwatch.Color.RED,
  };

  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(7) });
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown:
        '## spot-responder\nInterruption responses, their speed, and the health of the index and the functions. ' +
        'Figures come from each closed record (`spot-responder history` has the records themselves).',
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 3 }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Interruption responses by outcome', left: outcomes, stacked: true, width: WIDTH, height: HEIGHT }),
    new cloudwatch.GraphWidget({ title: 'Skips by kind', left: skips, stacked: true, width: WIDTH, height: HEIGHT }),
    new cloudwatch.GraphWidget({ title: 'State changes by outcome', left: stateChanges, stacked: true, width: WIDTH, height: HEIGHT }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Time to traffic stopped (ms from the signal)',
      left: percentiles(N.timeToTrafficStopped, 'traffic stopped'),
      leftAnnotations: [{ value: 120_000, label: 'two-minute notice', color: cloudwatch.Color.RED }],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Time left at finish (ms before the deadline)',
      left: percentiles(N.timeLeftAtFinish, 'time left', ['Minimum', 'p10', 'p50']),
      leftAnnotations: [{ value: 0, label: 'deadline', color: cloudwatch.Color.RED }],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Real notice and replacement lag (ms from the signal)',
      left: [
        ...percentiles(N.noticeLength, 'notice', ['Minimum', 'p50']),
        ...percentiles(N.replacementLag, 'replacement seen', ['p50', 'Maximum']),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Target index age (s)',
      left: [
        spotResponderMetric(N.indexAgeAtResponse, { statistic: 'Maximum', period: PERIOD, label: 'read by a response (max)' }),
        spotResponderMetric(N.indexAge, { statistic: 'Maximum', period: PERIOD, label: 'new snapshot when written (max)' }),
      ],
      leftAnnotations: [staleAfter],
      right: [sum(N.indexRefreshes, 'refreshes completed')],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Throttling',
      left: [sum(N.throttles, 'AWS call attempts throttled')],
      right: [
        props.responder.metricThrottles({ period: PERIOD, statistic: cloudwatch.Stats.SUM, label: 'responder invocations throttled' }),
        // Input refused for its source (lambda/events/delivery.ts): not the queues, never acted on.
        sum(N.rejectedDeliveries, 'input refused: not from the queues'),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Functions and dead-letter queue',
      left: [
        props.responder.metricErrors({ period: PERIOD, statistic: cloudwatch.Stats.SUM, label: 'responder errors' }),
        props.indexRefresher.metricErrors({ period: PERIOD, statistic: cloudwatch.Stats.SUM, label: 'refresher errors' }),
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: cloudwatch.Stats.MAXIMUM,
          label: 'dead-lettered events',
        }),
      ],
      right: [
        props.responder.metricDuration({ period: PERIOD, statistic: 'p90', label: 'responder duration p90 (ms)' }),
        props.indexRefresher.metricDuration({ period: PERIOD, statistic: 'Maximum', label: 'refresher duration max (ms)' }),
      ],
      width: WIDTH,
      height: HEIGHT,
    }),
  );
  return dashboard;
}
