// The alarms that tell an operator the responder needs attention. The failure alarms fire on
// the first occurrence: one failed interruption is already worth a look. The stale-index and
// throttling alarms watch the functions' own metrics (lambda/response/metrics.ts): a refresher
// that is throttled or never invoked raises no error, only silence.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULTS, METRICS } from '../lambda/contract';
import { OPERATOR_ALARMS } from './defaults';

export interface SpotResponderAlarmsProps {
  readonly responder: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly indexRefresher: lambda.IFunction;
  /** Minutes between scheduled index refreshes: the stale-index alarm allows three. */
  readonly indexRefreshMinutes: number;
  /** @default - the alarms have no actions */
  readonly alarmTopic?: sns.ITopic;
}

export interface SpotResponderAlarms {
  readonly responderErrorsAlarm: cloudwatch.Alarm;
  readonly deadLetterQueueAlarm: cloudwatch.Alarm;
  readonly indexRefresherErrorsAlarm: cloudwatch.Alarm;
  /** No index refresh completed for OPERATOR_ALARMS.staleIndexRefreshIntervals intervals. */
  readonly staleIndexAlarm: cloudwatch.Alarm;
  /** AWS calls of either function throttled (retried or not) at least OPERATOR_ALARMS.throttledAttempts times in 5 minutes. */
  readonly throttlingAlarm: cloudwatch.Alarm;
  /** Lambda throttled a responder invocation: warnings wait for concurrency while the notice runs out. */
  readonly responderThrottledAlarm: cloudwatch.Alarm;
  /**
   * A response to a Spot interruption warning or rebalance recommendation ended failed (metric
   * Responses, outcome failed). In a batch a failed event does not fail the invocation, so the
   * Errors alarm cannot see it; its message is retried and dead-lettered, this fires at once.
   */
  readonly failedResponsesAlarm: cloudwatch.Alarm;
}

/** The signals whose failed response is an interruption not (yet) answered. */
const INTERRUPTION_SIGNALS = ['spot-interruption-warning', 'rebalance-recommendation'] as const;

/** A metric the functions emit (METRICS in lambda/contract.ts), dimension service only. */
export function spotResponderMetric(
  name: string,
  props: { statistic: string; period: Duration; label?: string; dimensions?: Record<string, string> },
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS.namespace,
    metricName: name,
    ...props,
    dimensionsMap: { [METRICS.dimensions.service]: DEFAULTS.serviceName, ...props.dimensions },
  });
}

/** The alarms in `scope`, each notifying `alarmTopic` when set. */
export function createAlarms(scope: Construct, props: SpotResponderAlarmsProps): SpotResponderAlarms {
  const alarms = {
    responderErrorsAlarm: firstOccurrenceAlarm(scope, 'ResponderErrorsAlarm', {
      alarmDescription:
        'The spot-responder function failed as a whole (a crash, a timeout, or a store error); the batch returns to its ' +
        'queue and, after its receives are spent, to that queue\'s dead-letter queue.',
      metric: props.responder.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
    }),
    deadLetterQueueAlarm: firstOccurrenceAlarm(scope, 'DeadLetterQueueAlarm', {
      alarmDescription:
        'An EC2 event was not delivered to, or not handled by, the spot-responder; see the dead-letter queue.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
    }),
    // Five minutes: the refresher runs only every few minutes, and one late index is no emergency.
    indexRefresherErrorsAlarm: firstOccurrenceAlarm(scope, 'IndexRefresherErrorsAlarm', {
      alarmDescription:
        'The spot-responder index refresher failed; the target index ages until a refresh succeeds.',
      metric: props.indexRefresher.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    }),
    // Each of the last N periods of one interval saw no completed refresh; missing data (the
    // refresher never ran, or runs and never finishes) is what this alarm exists to catch.
    staleIndexAlarm: new cloudwatch.Alarm(scope, 'StaleIndexAlarm', {
      alarmDescription:
        `No target index refresh completed in ${OPERATOR_ALARMS.staleIndexRefreshIntervals} refresh intervals: ` +
        'index entries have expired, so warnings miss registrations outside the Auto Scaling groups\' own target groups. ' +
        'Check the index refresher: its schedule, errors, throttling and duration.',
      metric: spotResponderMetric(METRICS.names.indexRefreshes, {
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(props.indexRefreshMinutes),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: OPERATOR_ALARMS.staleIndexRefreshIntervals,
      datapointsToAlarm: OPERATOR_ALARMS.staleIndexRefreshIntervals,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }),
    throttlingAlarm: new cloudwatch.Alarm(scope, 'ThrottlingAlarm', {
      alarmDescription:
        `AWS throttled at least ${OPERATOR_ALARMS.throttledAttempts} calls of the spot-responder in 5 minutes ` +
        '(retries absorb a few; this many slow responses down). The log lines with throttlesByService name the service.',
      metric: spotResponderMetric(METRICS.names.throttles, {
        statistic: cloudwatch.Stats.SUM,
        period: OPERATOR_ALARMS.throttlePeriod,
      }),
      threshold: OPERATOR_ALARMS.throttledAttempts,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    responderThrottledAlarm: firstOccurrenceAlarm(scope, 'ResponderThrottledAlarm', {
      alarmDescription:
        'Lambda throttled the spot-responder (account concurrency exhausted): interruption events wait in the ' +
        'warning queue while their two-minute notice runs out.',
      metric: props.responder.metricThrottles({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
    }),
    failedResponsesAlarm: firstOccurrenceAlarm(scope, 'FailedResponsesAlarm', {
      alarmDescription:
        'A response to a Spot interruption warning or rebalance recommendation failed: the record (spot-responder history) ' +
        'names the action and its error. The event is retried about 21 s after its invocation ends; one still failing after 3 receives lands in the warning DLQ.',
      metric: new cloudwatch.MathExpression({
        // One metric per signal: CloudWatch matches dimensions exactly, and Responses carries the signal.
        expression: INTERRUPTION_SIGNALS.map((_, i) => `failed${i}`).join(' + '),
        usingMetrics: Object.fromEntries(
          INTERRUPTION_SIGNALS.map((signal, i) => [
            `failed${i}`,
            spotResponderMetric(METRICS.names.responses, {
              statistic: cloudwatch.Stats.SUM,
              period: Duration.minutes(1),
              dimensions: { [METRICS.dimensions.signal]: signal, [METRICS.dimensions.outcome]: 'failed' },
            }),
          ]),
        ),
        label: 'failed interruption responses',
        period: Duration.minutes(1),
      }),
    }),
  };
  if (props.alarmTopic) {
    const action = new cloudwatchActions.SnsAction(props.alarmTopic);
    for (const alarm of Object.values(alarms)) alarm.addAlarmAction(action);
  }
  return alarms;
}

/** ALARM on one or more in a period; no data is no trouble (nothing ran, nothing failed). */
function firstOccurrenceAlarm(
  scope: Construct,
  id: string,
  props: { alarmDescription: string; metric: cloudwatch.IMetric },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
