// The three alarms that tell an operator the responder needs attention. Each fires on the
// first occurrence: one failed interruption is already worth a look.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface SpotResponderAlarmsProps {
  readonly responder: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly indexRefresher: lambda.IFunction;
  /** @default - the alarms have no actions */
  readonly alarmTopic?: sns.ITopic;
}

export interface SpotResponderAlarms {
  readonly responderErrorsAlarm: cloudwatch.Alarm;
  readonly deadLetterQueueAlarm: cloudwatch.Alarm;
  readonly indexRefresherErrorsAlarm: cloudwatch.Alarm;
}

/** The alarms in `scope`, each notifying `alarmTopic` when set. */
export function createAlarms(scope: Construct, props: SpotResponderAlarmsProps): SpotResponderAlarms {
  const alarms = {
    responderErrorsAlarm: firstOccurrenceAlarm(scope, 'ResponderErrorsAlarm', {
      alarmDescription:
        'The spot-responder function failed; the event is retried once, then lands in the dead-letter queue.',
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
