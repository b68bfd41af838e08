// How events reach the functions: the EventBridge rules that route EC2's events to the
// responder, the dead-letter queue behind them, and the schedule and deploy-time trigger of
// the index refresher.
import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
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

/** The queue `DeadLetterQueue` in `scope`, for both the rules' failed deliveries and the responder's failed invocations. */
export function createDeadLetterQueue(scope: Construct): sqs.Queue {
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    // SQS-managed keys: EventBridge can write to the queue without a key policy to maintain.
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DEAD_LETTER_RETENTION,
  });
  acknowledge(
    queue,
    'This queue is itself the dead-letter queue of the responder rule target and of the ' +
      "responder's async invocations; a DLQ for it would only move the same messages again.",
    'AwsSolutions-SQS3',
  );
  return queue;
}

export interface ResponderRules {
  readonly interruptionWarningRule: events.Rule;
  readonly rebalanceRecommendationRule: events.Rule;
  readonly instanceStateChangeRule: events.Rule;
}

export interface ResponderRulesProps {
  readonly responder: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** @default - the default event bus */
  readonly eventBus?: events.IEventBus;
  /** Only named in the rebalance rule's description. */
  readonly rebalanceAction: RebalanceAction;
}

/**
 * One rule per detail-type rather than one combined pattern: each then has its own delivery
 * policy (see DELIVERY), its own EventBridge metrics (Invocations, FailedInvocations) and its
 * own aws:SourceArn in the DLQ policy, so a dead-lettered event says which rule it came
 * through. All three share the function and the DLQ.
 */
export function routeEc2EventsToResponder(scope: Construct, props: ResponderRulesProps): ResponderRules {
  const responderTarget = (delivery: { retryAttempts: number; maxEventAge: Duration }) =>
    new targets.LambdaFunction(props.responder, { ...delivery, deadLetterQueue: props.deadLetterQueue });
  const interruptionWarningRule = new events.Rule(scope, 'InterruptionWarningRule', {
    description: 'EC2 Spot interruption warnings to the spot-responder function',
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(INTERRUPTION_WARNING_PATTERN),
    targets: [responderTarget(DELIVERY.interruptionWarning)],
  });
  const rebalanceRecommendationRule = new events.Rule(scope, 'RebalanceRecommendationRule', {
    description: `EC2 rebalance recommendations to the spot-responder function (action: ${props.rebalanceAction})`,
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(REBALANCE_RECOMMENDATION_PATTERN),
    targets: [responderTarget(DELIVERY.rebalanceRecommendation)],
  });
  // Matches the state changes of every instance in the account, not only Spot ones: EC2
  // puts nothing in the event to tell them apart. The function ignores the state changes
  // of instances it never acted on (nor launched as their replacement) without writing
  // anything, so the table holds only the histories of actual interruptions.
  const instanceStateChangeRule = new events.Rule(scope, 'InstanceStateChangeRule', {
    description: 'EC2 instance state changes to the spot-responder function, for its interruption records',
    eventBus: props.eventBus,
    eventPattern: ruleEventPattern(INSTANCE_STATE_CHANGE_PATTERN),
    targets: [responderTarget(DELIVERY.instanceStateChange)],
  });
  return { interruptionWarningRule, rebalanceRecommendationRule, instanceStateChangeRule };
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
