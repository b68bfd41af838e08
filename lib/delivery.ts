// How events reach the functions: the EventBridge rules that route EC2's events to the
// responder's buffer queues (drained in batches by event source mappings), the dead-letter
// queues behind them, and the schedule and deploy-time trigger of
// the index refresher.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaEventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import type { RebalanceAction } from '../lambda/contract';
import { DEAD_LETTER_RETENTION, DELIVERY, INDEX_REFRESH_SCHEDULE_RETRY_ATTEMPTS } from './defaults';
import {
  INSTANCE_STATE_CHANGE_PATTERN,
  INTERRUPTION_WARNING_PATTERN,
  REBALANCE_RECOMMENDATION_PATTERN,
} from './event-patterns';
import { acknowledge } from './nag';

/** The queue `DeadLetterQueue` in `scope`, for the events the rules could not deliver to their queues. */
export function createDeadLetterQueue(scope: Construct): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    // SQS-managed keys: EventBridge can write to the queue without a key policy to maintain.
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
  });
  acknowledge(
    queue,
    'This queue is itself the dead-letter queue of the rule targets; a DLQ for it would only ' +
      'move the same messages again.',
    'AwsSolutions-SQS3',
  );
  return queue;
}

/** The batching of one buffer's event source mapping. */
export interface BufferBatching {
  /** Messages per invocation, 1 to 10,000. */
  readonly batchSize: number;
  /** How long the poller gathers a batch; at least 1 s when batchSize is above 10. */
  readonly maxBatchingWindow: Duration;
  /** Invocations at once for this queue, 2 to 1,000. */
  readonly maxConcurrency: number;
}

/** How one buffer holds and redrives its messages. */
export interface BufferRedrive {
  /** At least the consumer's timeout (Lambda refuses the mapping otherwise). */
  readonly visibilityTimeout: Duration;
  /** Receives before a message moves to the buffer's DLQ. */
  readonly maxReceiveCount: number;
  readonly retentionPeriod: Duration;
}

/** A queue in front of the responder, its own dead-letter queue, and the mapping that drains it. */
export interface EventBuffer {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly eventSource: lambdaEventSources.SqsEventSource;
}

/**
 * The queue `<id>Queue` (SSE-SQS, TLS only) with its dead-letter queue `<id>DeadLetterQueue`
 * (by redrive policy), drained by `consumer` through an event source mapping that reports
 * partial batch failures: only the messages the function names in `batchItemFailures` come
 * back, the rest of the batch is deleted.
 *
 * SSE-SQS rather than a KMS key: EventBridge can send to an SSE-SQS queue with no key policy to
 * maintain (with a customer managed key the key policy must allow events.amazonaws.com
 * kms:GenerateDataKey and Decrypt, and the AWS managed aws/sqs key cannot be used by
 * EventBridge at all); the messages carry instance ids and event times, no secrets.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export function createEventBuffer(
  scope: Construct,
  id: string,
  props: { consumer: lambda.IFunction; batching: BufferBatching; redrive: BufferRedrive },
): EventBuffer {
  const deadLetterQueue = new sqs.Queue(scope, `${id}DeadLetterQueue`, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
  });
  acknowledge(
    deadLetterQueue,
    `This queue is the dead-letter queue of ${id}Queue; a DLQ for it would only move the same messages again.`,
    'AwsSolutions-SQS3',
  );
  const queue = new sqs.Queue(scope, `${id}Queue`, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: props.redrive.visibilityTimeout,
    retentionPeriod: props.redrive.retentionPeriod,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.redrive.maxReceiveCount },
  });
  const eventSource = new lambdaEventSources.SqsEventSource(queue, {
    batchSize: props.batching.batchSize,
    maxBatchingWindow: props.batching.maxBatchingWindow,
    maxConcurrency: props.batching.maxConcurrency,
    reportBatchItemFailures: true,
  });
  props.consumer.addEventSource(eventSource);
  return { queue, deadLetterQueue, eventSource };
}

export interface ResponderRules {
  readonly interruptionWarningRule: events.Rule;
  readonly rebalanceRecommendationRule: events.Rule;
  readonly instanceStateChangeRule: events.Rule;
}

export interface ResponderRulesProps {
  /** Warnings and rebalance recommendations go here. */
  readonly warningQueue: sqs.IQueue;
  /** Instance state changes go here. */
  readonly stateChangeQueue: sqs.IQueue;
  /** Where EventBridge puts an event it could not deliver to its queue. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default - the default event bus */
  readonly eventBus?: events.IEventBus;
  /** Only named in the rebalance rule's description. */
  readonly rebalanceAction: RebalanceAction;
}

/**
 * One rule per detail-type rather than one combined pattern: each then has its own delivery
 * policy (see DELIVERY), its own EventBridge metrics (Invocations, FailedInvocations) and its
 * own aws:SourceArn in the queue policies, so a dead-lettered event says which rule it came
 * through. Warnings and rebalance recommendations share one queue (both may act, and a batch
 * may hold both for the same instance: the claims make them act once); state changes, which
 * never act and can come by the hundred in a scale-in, have their own.
 */
export function routeEc2EventsToResponder(scope: Construct, props: ResponderRulesProps): ResponderRules {
  const queueTarget = (queue: sqs.IQueue, delivery: { retryAttempts: number; maxEventAge: Duration }) =>
    new targets.SqsQueue(queue, { ...delivery, deadLetterQueue: props.deadLetterQueue });
  const interruptionWarningRule = new events.Rule(scope, 'InterruptionWarningRule', {
    description: 'EC2 Spot interruption warnings to the spot-responder warning queue',
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(INTERRUPTION_WARNING_PATTERN),
    targets: [queueTarget(props.warningQueue, DELIVERY.interruptionWarning)],
  });
  const rebalanceRecommendationRule = new events.Rule(scope, 'RebalanceRecommendationRule', {
    description: `EC2 rebalance recommendations to the spot-responder warning queue (action: ${props.rebalanceAction})`,
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(REBALANCE_RECOMMENDATION_PATTERN),
    targets: [queueTarget(props.warningQueue, DELIVERY.rebalanceRecommendation)],
  });
  // Matches the state changes of every instance in the account, not only Spot ones: EC2
  // puts nothing in the event to tell them apart. The function ignores the state changes
  // of instances it never acted on (nor launched as their replacement) without writing
  // anything, so the table holds only the histories of actual interruptions.
  const instanceStateChangeRule = new events.Rule(scope, 'InstanceStateChangeRule', {
    description: 'EC2 instance state changes to the spot-responder state-change queue, for its interruption records',
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(INSTANCE_STATE_CHANGE_PATTERN),
    targets: [queueTarget(props.stateChangeQueue, DELIVERY.instanceStateChange)],
  });
  return { interruptionWarningRule, rebalanceRecommendationRule, instanceStateChangeRule };
}

/** The two alarms of one buffer: events waiting too long in it, and any event in its DLQ. */
export function createBufferAlarms(
  scope: Construct,
  id: string,
  buffer: EventBuffer,
  maxAge: Duration,
): { oldestMessageAlarm: cloudwatch.Alarm; deadLetterQueueAlarm: cloudwatch.Alarm } {
  const period = Duration.minutes(1);
  return {
    oldestMessageAlarm: new cloudwatch.Alarm(scope, `${id}OldestMessageAlarm`, {
      alarmDescription:
        `Events wait more than ${maxAge.toHumanString()} in the spot-responder ${id} queue: ` +
        'the function is failing, throttled or at its maximum concurrency.',
      metric: buffer.queue.metricApproximateAgeOfOldestMessage({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: maxAge.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    deadLetterQueueAlarm: new cloudwatch.Alarm(scope, `${id}DeadLetterQueueAlarm`, {
      alarmDescription: `The spot-responder failed to handle an event of its ${id} queue; see that queue's dead-letter queue.`,
      metric: buffer.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  };
}

/** The rule `IndexRefreshSchedule` in `scope`: runs `refresher` every `refreshMinutes` minutes. */
export function scheduleIndexRefresh(scope: Construct, refresher: lambda.IFunction, refreshMinutes: number): events.Rule {
  return new events.Rule(scope, 'IndexRefreshSchedule', {
    description: 'Rebuilds the spot-responder target index',
    schedule: events.Schedule.rate(Duration.minutes(refreshMinutes)),
    targets: [
      new targets.LambdaFunction(refresher, {
        retryAttempts: INDEX_REFRESH_SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge: Duration.minutes(refreshMinutes),
      }),
    ],
  });
}

/**
 * Build the index right after deployment instead of up to one interval later. The trigger
 * invokes asynchronously: a refresh that fails (or is throttled by the reserved concurrency
 * of one while a scheduled run is going) then shows up on the refresher's alarm instead of
 * failing and rolling back the deployment, and the schedule repairs it anyway.
 */
export function refreshIndexOnDeploy(scope: Construct, refresher: lambda.Function, table: dynamodb.ITable): void {
  new triggers.Trigger(scope, 'RefreshIndexOnDeploy', {
    handler: refresher,
    invocationType: triggers.InvocationType.EVENT,
    executeAfter: [table],
  });
  acknowledge(
    refresher,
    'The trigger invokes published versions of the refresher through an identity-based ' +
      'permission on "<function ARN>:*" in its own role; the only resource-based permission, ' +
      "the schedule rule's, is for the unqualified function, which is what the rule invokes.",
    'Annotation::@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
  );
}

/** A pattern of lib/event-patterns.ts in the shape events.Rule takes. */
function ruleEventPattern(pattern: {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail?: Readonly<Record<string, readonly string[]>>;
}): events.EventPattern {
  return {
    source: [...pattern.source],
    detailType: [...pattern['detail-type']],
    ...(pattern.detail ? { detail: pattern.detail } : {}),
  };
}
