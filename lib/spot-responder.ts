// The SpotResponder construct: the architecture of the README, wired from one small piece
// per concern. Defaults and their reasons live in defaults.ts; each piece in its own file.
import { Annotations, CfnOutput, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ResponseMode } from '../lambda/contract';
import { createAlarms } from './alarms';
import { createDashboard } from './dashboard';
import { SpotDrill } from './drill';
import { BUFFER_AGE_ALARM, STATE_CHANGE_BUFFER, WARNING_BUFFER } from './defaults';
import {
  createBufferAlarms,
  createDeadLetterQueue,
  createEventBuffer,
  type EventBuffer,
  refreshIndexOnDeploy,
  routeEc2EventsToResponder,
  scheduleIndexRefresh,
} from './delivery';
import { acceptQueues, createIndexRefresherFunction, createResponderFunction } from './functions';
import { GracefulShutdown } from './graceful-shutdown';
import { wireNotificationTopic } from './notifications';
import { grantIndexRefresherPermissions, grantResponderPermissions } from './permissions';
import { ResponderFunction } from './responder-function';
import { resolveSpotResponderProps, type SpotResponderProps } from './spot-responder-props';
import { createRecordsTable } from './table';
import { SpotResponderConfigError } from './validation';

/**
 * The CloudFormation export every SpotResponder creates (its table's name). Export names are
 * unique per account and region, so the deployment of a second responder there fails with
 * "Export with name spot-responder:table is already exported by stack <the first>": two
 * responders would both act on every warning and each keep half the history.
 */
export const SINGLETON_EXPORT_NAME = 'spot-responder:table';

export type { SpotResponderProps } from './spot-responder-props';

/** The id of the synth warning while `mode` is unset (acknowledge it with Annotations.acknowledgeWarning). */
export const MODE_DEFAULTED_WARNING = 'spot-responder:mode-defaulted';

/**
 * Handles the Spot interruption lifecycle. On an interruption warning (and, if configured, a
 * rebalance recommendation) the responder deregisters the instance from its target groups,
 * drains it in ECS, detaches it from its Auto Scaling group with replacement (or terminates it
 * in the group when lifecycle hooks must run) and records what it did in DynamoDB; instance
 * state changes then complete that record with the replacement coming up and the instance
 * going away. A scheduled refresher keeps the instance-to-target-group index the responder
 * reads, so the hot path never has to walk every target group.
 *
 * EventBridge puts warnings and rebalance recommendations on `warningQueue` and state changes
 * on `stateChangeQueue`; event source mappings hand them to the responder in batches. Events
 * EventBridge could not deliver end in `deadLetterQueue`; events the responder failed to
 * handle, after each queue's receive count, in that queue's own dead-letter queue.
 */
export class SpotResponder extends Construct {
  /** `observe`: records what it would do and changes nothing; `act`: acts. */
  public readonly mode: ResponseMode;
  public readonly table: dynamodb.Table;
  public readonly responderFunction: ResponderFunction;
  public readonly indexRefresherFunction: ResponderFunction;
  /** Events EventBridge could not deliver to their queue. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Warnings and rebalance recommendations, with their own DLQ and event source mapping. */
  public readonly warningBuffer: EventBuffer;
  /** Instance state changes, with their own DLQ and event source mapping. */
  public readonly stateChangeBuffer: EventBuffer;
  /** Routes Spot interruption warnings to the responder. */
  public readonly interruptionWarningRule: events.Rule;
  /** Routes rebalance recommendations to the responder. */
  public readonly rebalanceRecommendationRule: events.Rule;
  /** Routes the instance state changes the responder records to it. */
  public readonly instanceStateChangeRule: events.Rule;
  /** The three rules above, one per detail-type. */
  public readonly rules: readonly events.Rule[];
  /** Runs the index refresher every `indexRefreshInterval`. */
  public readonly indexRefreshSchedule: events.Rule;
  public readonly responderErrorsAlarm: cloudwatch.Alarm;
  public readonly deadLetterQueueAlarm: cloudwatch.Alarm;
  public readonly indexRefresherErrorsAlarm: cloudwatch.Alarm;
  /** No index refresh completed in three intervals. */
  public readonly staleIndexAlarm: cloudwatch.Alarm;
  /** The functions' AWS calls are being throttled. */
  public readonly throttlingAlarm: cloudwatch.Alarm;
  /** Lambda throttled the responder itself. */
  public readonly responderThrottledAlarm: cloudwatch.Alarm;
  /** A response to a warning or rebalance recommendation failed (metric Responses, outcome failed). */
  public readonly failedResponsesAlarm: cloudwatch.Alarm;
  /** Warnings waiting in their queue longer than a quarter of the notice. */
  public readonly warningQueueAgeAlarm: cloudwatch.Alarm;
  /** A warning or recommendation the responder failed to handle, in the warning queue's DLQ. */
  public readonly warningDeadLetterQueueAlarm: cloudwatch.Alarm;
  /** State changes waiting in their queue for ten minutes. */
  public readonly stateChangeQueueAgeAlarm: cloudwatch.Alarm;
  /** A state change the responder failed to record, in the state-change queue's DLQ. */
  public readonly stateChangeDeadLetterQueueAlarm: cloudwatch.Alarm;
  /** Every alarm above, for dashboards and composite alarms. */
  public readonly alarms: readonly cloudwatch.Alarm[];
  /** The topic of handled interruptions and failures; present when `notificationTopic` is set. */
  public readonly notificationTopic?: sns.ITopic;
  /** The operators' dashboard; present unless `dashboard` is false. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The FIS drill (experiment template and its role); present when `drill` is set. */
  public readonly drill?: SpotDrill;
  /** The graceful-shutdown SSM document and its status rule; present when `gracefulShutdown` is set. */
  public readonly gracefulShutdown?: GracefulShutdown;

  constructor(scope: Construct, id: string, props: SpotResponderProps = {}) {
    super(scope, id);
    const config = resolveSpotResponderProps(Stack.of(this), props);
    refuseSecondResponder(this);
    this.mode = config.mode;
    if (config.modeDefaulted) {
      // Loud, not silent: an app upgraded from a version that always acted would otherwise stop
      // acting unnoticed. Setting `mode` (either value) or acknowledging the id silences it.
      Annotations.of(this).addWarningV2(
        MODE_DEFAULTED_WARNING,
        `mode is not set, so this responder only OBSERVES: it records what it would do on each Spot ` +
          `interruption and changes nothing. Set mode: 'act' (context spotResponder:mode=act) to act, ` +
          `or mode: 'observe' to keep observing without this warning.`,
      );
    }

    // EC2 events -> rules -> queues -> responder in batches -> AWS calls and a record in the
    // table; what EventBridge cannot deliver -> DLQ; what the responder fails -> each queue's DLQ.
    this.table = createRecordsTable(this, {
      encryptionKey: config.tableEncryptionKey,
      removalPolicy: config.removalPolicy,
    });
    this.deadLetterQueue = createDeadLetterQueue(this);
    this.responderFunction = createResponderFunction(this, config, this.table);
    this.warningBuffer = createEventBuffer(this, 'Warning', {
      consumer: this.responderFunction,
      batching: config.warningBatching,
      redrive: WARNING_BUFFER,
    });
    this.stateChangeBuffer = createEventBuffer(this, 'StateChange', {
      consumer: this.responderFunction,
      batching: STATE_CHANGE_BUFFER,
      redrive: STATE_CHANGE_BUFFER,
    });
    acceptQueues(this.responderFunction, [this.warningBuffer.queue, this.stateChangeBuffer.queue]);
    const rules = routeEc2EventsToResponder(this, {
      warningQueue: this.warningBuffer.queue,
      stateChangeQueue: this.stateChangeBuffer.queue,
      deadLetterQueue: this.deadLetterQueue,
      eventBus: config.eventBus,
      rebalanceAction: config.rebalanceAction,
    });
    this.interruptionWarningRule = rules.interruptionWarningRule;
    this.rebalanceRecommendationRule = rules.rebalanceRecommendationRule;
    this.instanceStateChangeRule = rules.instanceStateChangeRule;
    this.rules = [this.interruptionWarningRule, this.rebalanceRecommendationRule, this.instanceStateChangeRule];
    grantResponderPermissions(this, this.responderFunction.role!, {
      table: this.table,
      tableEncryptionKey: config.tableEncryptionKey,
      autoScalingGroupNames: config.autoScalingGroupNames,
      targetGroupNames: config.targetGroupNames,
      ecsClusters: config.ecsClusters,
      permissionScope: config.permissionScope,
      tagKey: config.tagKey,
      mode: config.mode,
    });

    // Warning -> SSM Run Command on the instance; its final status -> the state-change queue.
    if (config.gracefulShutdown) {
      this.gracefulShutdown = new GracefulShutdown(this, 'GracefulShutdown', {
        responder: this.responderFunction,
        stateChangeQueue: this.stateChangeBuffer.queue,
        deadLetterQueue: this.deadLetterQueue,
        eventBus: config.eventBus,
        defaultCommand: config.gracefulShutdown.defaultCommand,
        mode: config.mode,
        permissionScope: config.permissionScope,
        tagKey: config.tagKey,
      });
    }

    // Schedule (and deploy) -> index refresher -> the target index in the table.
    this.indexRefresherFunction = createIndexRefresherFunction(this, config, this.table);
    grantIndexRefresherPermissions(this.indexRefresherFunction.role!, {
      table: this.table,
      tableEncryptionKey: config.tableEncryptionKey,
    });
    this.indexRefreshSchedule = scheduleIndexRefresh(this, this.indexRefresherFunction, config.indexRefreshMinutes);
    if (config.refreshIndexOnDeploy) refreshIndexOnDeploy(this, this.indexRefresherFunction, this.table);

    // Alarms -> the operator's topic.
    const alarms = createAlarms(this, {
      responder: this.responderFunction,
      deadLetterQueue: this.deadLetterQueue,
      indexRefresher: this.indexRefresherFunction,
      indexRefreshMinutes: config.indexRefreshMinutes,
      alarmTopic: config.alarmTopic,
    });
    this.responderErrorsAlarm = alarms.responderErrorsAlarm;
    this.deadLetterQueueAlarm = alarms.deadLetterQueueAlarm;
    this.indexRefresherErrorsAlarm = alarms.indexRefresherErrorsAlarm;
    this.staleIndexAlarm = alarms.staleIndexAlarm;
    this.throttlingAlarm = alarms.throttlingAlarm;
    this.responderThrottledAlarm = alarms.responderThrottledAlarm;
    this.failedResponsesAlarm = alarms.failedResponsesAlarm;
    const warningAlarms = createBufferAlarms(this, 'Warning', this.warningBuffer, BUFFER_AGE_ALARM.warnings);
    const stateChangeAlarms = createBufferAlarms(
      this,
      'StateChange',
      this.stateChangeBuffer,
      BUFFER_AGE_ALARM.stateChanges,
    );
    this.warningQueueAgeAlarm = warningAlarms.oldestMessageAlarm;
    this.warningDeadLetterQueueAlarm = warningAlarms.deadLetterQueueAlarm;
    this.stateChangeQueueAgeAlarm = stateChangeAlarms.oldestMessageAlarm;
    this.stateChangeDeadLetterQueueAlarm = stateChangeAlarms.deadLetterQueueAlarm;
    const bufferAlarms = [
      this.warningQueueAgeAlarm,
      this.warningDeadLetterQueueAlarm,
      this.stateChangeQueueAgeAlarm,
      this.stateChangeDeadLetterQueueAlarm,
    ];
    if (config.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(config.alarmTopic);
      for (const alarm of bufferAlarms) alarm.addAlarmAction(action);
    }
    this.alarms = [...Object.values(alarms), ...bufferAlarms];

    // Responses -> the notification topic; metrics and alarms -> the dashboard.
    if (config.notificationTopic) {
      this.notificationTopic = wireNotificationTopic(this, config.notificationTopic, this.responderFunction);
    }
    if (config.dashboard) {
      this.dashboard = createDashboard(this, {
        responder: this.responderFunction,
        indexRefresher: this.indexRefresherFunction,
        deadLetterQueue: this.deadLetterQueue,
        alarms: this.alarms,
        indexRefreshMinutes: config.indexRefreshMinutes,
      });
    }

    // Rehearsal: FIS -> real interruption notices -> the same path as above.
    if (props.drill) this.drill = new SpotDrill(this, 'Drill', props.drill === true ? {} : props.drill);

    new CfnOutput(this, 'SingletonGuard', {
      value: this.table.tableName,
      exportName: SINGLETON_EXPORT_NAME,
      description: 'one spot-responder per account and region: a second deployment fails on this export',
    });
  }
}

/**
 * Fail synth when a second SpotResponder would share an account and region with one already in
 * the app: in the same stack, or in a stack whose account and region are both known and the
 * same. (Environment-agnostic stacks land wherever their credentials point, so for them the
 * export above decides, at deploy.) Only responders whose construction completed count.
 */
function refuseSecondResponder(responder: SpotResponder): void {
  const stack = Stack.of(responder);
  const env = (s: Stack) =>
    Token.isUnresolved(s.account) || Token.isUnresolved(s.region) ? undefined : `${s.account}/${s.region}`;
  const clash = (other: SpotResponder) => {
    const otherStack = Stack.of(other);
    return otherStack === stack || (env(stack) !== undefined && env(otherStack) === env(stack));
  };
  const other = responder.node.root.node
    .findAll()
    .find((c): c is SpotResponder => c !== responder && c instanceof SpotResponder && c.table !== undefined && clash(c));
  if (other) {
    throw new SpotResponderConfigError(
      `${responder.node.path}: ${other.node.path} already responds in ${env(stack) ?? 'the same stack'}; ` +
        'one spot-responder per account and region (two would both act on every warning)',
    );
  }
}
