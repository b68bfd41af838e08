import * as path from 'path';
import { Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../lambda/aws/table-schema';
import { REBALANCE_ACTIONS, RebalanceAction, TAG_MODES, TagMode } from '../lambda/config';
import {
  INSTANCE_STATE_CHANGE_PATTERN,
  INTERRUPTION_WARNING_PATTERN,
  REBALANCE_RECOMMENDATION_PATTERN,
} from './event-patterns';
import { acknowledge, wildcardActionFinding, wildcardResourceFinding } from './nag';
import { ResponderFunction } from './responder-function';
import {
  LogLevel,
  SpotResponderConfigError,
  checkAccounts,
  checkAutoScalingGroupNames,
  checkEcsClusters,
  checkIntegerInRange,
  checkLogLevel,
  checkOneOf,
  checkRegions,
  checkTagKey,
  checkTargetGroupNames,
  ecsClusterName,
} from './validation';

const LAMBDA_DIR = path.join(__dirname, '..', 'lambda');

const TABLE_READ_WRITE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DescribeTable',
];

/** EC2 warns two minutes ahead; after that there is nothing left to drain or detach. */
const NOTICE = Duration.minutes(2);

/**
 * How long EventBridge keeps retrying delivery of each kind of event to the responder (it
 * backs off exponentially, so the retry counts are sized to roughly fill each window).
 * - A warning is a race against the notice: late is useless, so it goes to the DLQ instead.
 * - A rebalance recommendation has no deadline, but its worth is being early; ten minutes
 *   on, the warning has usually overtaken it (or the risk has passed).
 * - A state change only adds to the history of an interruption, which is no race: it may
 *   wait out an hour of delivery trouble.
 * Once Lambda has accepted an event, the function's own async settings (one retry, two
 * minutes, for every kind) take over; what still fails lands in the DLQ, replayable.
 */
const DELIVERY = {
  interruptionWarning: { retryAttempts: 4, maxEventAge: NOTICE },
  rebalanceRecommendation: { retryAttempts: 8, maxEventAge: Duration.minutes(10) },
  instanceStateChange: { retryAttempts: 24, maxEventAge: Duration.hours(1) },
} as const;

export interface SpotResponderProps {
  /**
   * Accounts whose interruption warnings the responder acts on; `'*'` accepts any account.
   * Events from other accounts are rejected by the handler. The function's role can act only
   * in the stack's own account and region, whatever this says.
   * @default - the stack's own account
   */
  readonly acceptedAccounts?: string[] | '*';

  /**
   * Regions whose interruption warnings the responder acts on; `'*'` accepts any region.
   * @default - the stack's own region
   */
  readonly acceptedRegions?: string[] | '*';

  /**
   * Names of the Auto Scaling groups the responder may detach instances from, in this account
   * and region. IAM wildcards (`*`, `?`) are allowed; each name becomes one group ARN in the
   * policy, so `['*']` still means "groups of this account and region", never any resource.
   * @default ['*']
   */
  readonly autoScalingGroupNames?: string[];

  /**
   * Names of the ELBv2 target groups the responder may deregister instances from, in this
   * account and region. IAM wildcards (`*`, `?`) are allowed.
   * @default ['*']
   */
  readonly targetGroupNames?: string[];

  /**
   * What the responder does on an EC2 Instance Rebalance Recommendation: `'record'` only
   * records it; `'replace'` treats it like an early interruption warning (drain, then detach
   * or terminate in the Auto Scaling group, which launches a replacement).
   * @default 'record'
   */
  readonly rebalanceAction?: RebalanceAction;

  /**
   * Which instances the responder may act on, decided by the `tagKey` tag on the instance or
   * its Auto Scaling group. `'opt-out'`: every instance except those tagged off/false/disabled;
   * `'opt-in'`: only instances tagged on/true/enabled.
   * @default 'opt-out'
   */
  readonly tagMode?: TagMode;

  /**
   * The tag key `tagMode` reads. 1 to 128 characters, not starting with `aws:`.
   * @default 'spot-responder'
   */
  readonly tagKey?: string;

  /**
   * ECS clusters (names, or full cluster ARNs in the stack's account and region) in which the
   * responder looks for the interrupted instance and sets its container instance to DRAINING.
   * The function's role gets ECS permissions on these clusters only, and none when empty.
   * A token (such as `cluster.clusterName`) is taken as a cluster name, not an ARN.
   * @default [] - ECS draining off
   */
  readonly ecsClusters?: string[];

  /**
   * Days an event record stays in the table before DynamoDB's TTL removes it.
   * @default 90
   */
  readonly recordRetentionDays?: number;

  /**
   * How often the index refresher rebuilds the instance-to-target-group index.
   * Whole minutes, from 1 to 60.
   * @default Duration.minutes(5)
   */
  readonly indexRefreshInterval?: Duration;

  /**
   * ELBv2 Describe* calls per second the index refresher allows itself. The account's
   * Describe bucket refills at about 10 per second and is shared with everything else
   * that reads ELBv2 (consoles, controllers, Terraform), so leave headroom. 1 to 10.
   * @default 4
   */
  readonly indexDescribeCallsPerSecond?: number;

  /**
   * Run the index refresher once at the end of every deployment that creates or changes it,
   * so the index is complete from the start instead of after the first scheduled refresh.
   * @default true
   */
  readonly refreshIndexOnDeploy?: boolean;

  /**
   * Log level of both functions (POWERTOOLS_LOG_LEVEL).
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;

  /**
   * How long the functions' log groups keep their logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The bus the responder rules listen on. EC2 delivers its instance events to the default
   * bus of the instance's account and region only; a custom bus sees them only if something
   * forwards them there.
   * @default - the default event bus
   */
  readonly eventBus?: events.IEventBus;

  /**
   * Customer managed KMS key for the table.
   * @default - the AWS managed key for DynamoDB (aws/dynamodb)
   */
  readonly tableEncryptionKey?: kms.IKey;

  /**
   * What happens to the table and the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Topic that every alarm notifies when it goes into ALARM.
   * @default - the alarms have no actions
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * Handles the Spot interruption lifecycle. On an interruption warning (and, if configured, a
 * rebalance recommendation) the responder deregisters the instance from its target groups,
 * drains it in ECS, detaches it from its Auto Scaling group with replacement (or terminates it
 * in the group when lifecycle hooks must run) and records what it did in DynamoDB; instance
 * state changes then complete that record with the replacement coming up and the instance
 * going away. A scheduled refresher keeps the instance-to-target-group index the responder
 * reads, so the hot path never has to walk every target group.
 *
 * Events whose delivery fails (EventBridge) or whose handling fails (Lambda async invoke)
 * both end in `deadLetterQueue`, in the two different shapes those services write.
 */
export class SpotResponder extends Construct {
  public readonly table: dynamodb.Table;
  public readonly responderFunction: ResponderFunction;
  public readonly indexRefresherFunction: ResponderFunction;
  public readonly deadLetterQueue: sqs.Queue;
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
  /** Every alarm above, for dashboards and composite alarms. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: SpotResponderProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    const acceptedAccounts = props.acceptedAccounts ?? [stack.account];
    const acceptedRegions = props.acceptedRegions ?? [stack.region];
    const autoScalingGroupNames = props.autoScalingGroupNames ?? ['*'];
    const targetGroupNames = props.targetGroupNames ?? ['*'];
    const recordRetentionDays = props.recordRetentionDays ?? 90;
    const refreshInterval = props.indexRefreshInterval ?? Duration.minutes(5);
    const describeCallsPerSecond = props.indexDescribeCallsPerSecond ?? 4;
    const logLevel = props.logLevel ?? 'INFO';
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const rebalanceAction = props.rebalanceAction ?? 'record';
    const tagMode = props.tagMode ?? 'opt-out';
    const tagKey = props.tagKey ?? 'spot-responder';
    const ecsClusters = props.ecsClusters ?? [];

    checkAccounts('SpotResponderProps.acceptedAccounts', acceptedAccounts);
    checkRegions('SpotResponderProps.acceptedRegions', acceptedRegions);
    checkAutoScalingGroupNames('SpotResponderProps.autoScalingGroupNames', autoScalingGroupNames);
    checkTargetGroupNames('SpotResponderProps.targetGroupNames', targetGroupNames);
    checkIntegerInRange('SpotResponderProps.recordRetentionDays', recordRetentionDays, 1, 3650);
    checkIntegerInRange('SpotResponderProps.indexDescribeCallsPerSecond', describeCallsPerSecond, 1, 10);
    checkLogLevel('SpotResponderProps.logLevel', logLevel);
    checkOneOf('SpotResponderProps.rebalanceAction', rebalanceAction, REBALANCE_ACTIONS);
    checkOneOf('SpotResponderProps.tagMode', tagMode, TAG_MODES);
    checkTagKey('SpotResponderProps.tagKey', tagKey);
    checkEcsClusters('SpotResponderProps.ecsClusters', ecsClusters);
    checkClustersInStackEnv('SpotResponderProps.ecsClusters', stack, ecsClusters);
    const refreshMinutes = wholeMinutes('SpotResponderProps.indexRefreshInterval', refreshInterval);

    const functionDefaults = {
      logGroupRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      logGroupRemovalPolicy: removalPolicy,
    };
    const powertools = { POWERTOOLS_SERVICE_NAME: 'spot-responder', POWERTOOLS_LOG_LEVEL: logLevel };

    // Table, not TableV2: a TableV2 with a customer managed key cannot be synthesized in an
    // environment-agnostic stack, and ours is one.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      encryption: props.tableEncryptionKey
        ? dynamodb.TableEncryption.CUSTOMER_MANAGED
        : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.tableEncryptionKey,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.historyIndex.name,
      partitionKey: { name: TABLE_SCHEMA.historyIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.historyIndex.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SQS-managed keys: EventBridge can write to the queue without a key policy to maintain.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'This queue is itself the dead-letter queue of the responder rule target and of the ' +
        "responder's async invocations; a DLQ for it would only move the same messages again.",
      'AwsSolutions-SQS3',
    );

    this.responderFunction = new ResponderFunction(this, 'Responder', {
      ...functionDefaults,
      entry: path.join(LAMBDA_DIR, 'handler.ts'),
      description: 'Drains, replaces and records EC2 Spot instances through their interruption lifecycle',
      // The handler gives up at the 120 s deadline; the margin lets it still write its record.
      timeout: Duration.seconds(150),
      environment: {
        ...powertools,
        TABLE_NAME: this.table.tableName,
        ACCEPTED_ACCOUNTS: allowListEnv(acceptedAccounts),
        ACCEPTED_REGIONS: allowListEnv(acceptedRegions),
        RECORD_RETENTION_DAYS: String(recordRetentionDays),
        // Every variable of the contract is set, defaults included, so the function never
        // falls back on a default of its own that could drift from the construct's.
        REBALANCE_ACTION: rebalanceAction,
        TAG_MODE: tagMode,
        TAG_KEY: tagKey,
        ECS_CLUSTERS: ecsClusters.join(','),
      },
      // A handler error is Lambda's to retry, not EventBridge's. Lambda retries an async
      // event about a minute after a failure, so one retry can still land inside the notice
      // (the handler is idempotent per event and per warning); later ones cannot. Events that
      // still fail, or outlive the notice in the queue, go to the DLQ for the record.
      retryAttempts: 1,
      maxEventAge: NOTICE,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    // One rule per detail-type rather than one combined pattern: each then has its own
    // delivery policy (see DELIVERY), its own EventBridge metrics (Invocations,
    // FailedInvocations) and its own aws:SourceArn in the DLQ policy, so a dead-lettered
    // event says which rule it came through. All three share the function and the DLQ.
    const responderTarget = (delivery: { retryAttempts: number; maxEventAge: Duration }) =>
      new targets.LambdaFunction(this.responderFunction, { ...delivery, deadLetterQueue: this.deadLetterQueue });
    this.interruptionWarningRule = new events.Rule(this, 'InterruptionWarningRule', {
      description: 'EC2 Spot interruption warnings to the spot-responder function',
      eventBus: props.eventBus,
      eventPattern: ruleEventPattern(INTERRUPTION_WARNING_PATTERN),
      targets: [responderTarget(DELIVERY.interruptionWarning)],
    });
    this.rebalanceRecommendationRule = new events.Rule(this, 'RebalanceRecommendationRule', {
      description: `EC2 rebalance recommendations to the spot-responder function (action: ${rebalanceAction})`,
      eventBus: props.eventBus,
      eventPattern: ruleEventPattern(REBALANCE_RECOMMENDATION_PATTERN),
      targets: [responderTarget(DELIVERY.rebalanceRecommendation)],
    });
    // Matches the state changes of every instance in the account, not only Spot ones: EC2
    // puts nothing in the event to tell them apart. The function ignores the state changes
    // of instances it never acted on (nor launched as their replacement) without writing
    // anything, so the table holds only the histories of actual interruptions.
    this.instanceStateChangeRule = new events.Rule(this, 'InstanceStateChangeRule', {
      description: 'EC2 instance state changes to the spot-responder function, for its interruption records',
      eventBus: props.eventBus,
      eventPattern: ruleEventPattern(INSTANCE_STATE_CHANGE_PATTERN),
      targets: [responderTarget(DELIVERY.instanceStateChange)],
    });
    this.rules = [this.interruptionWarningRule, this.rebalanceRecommendationRule, this.instanceStateChangeRule];

    const responderRole = this.responderFunction.role!;
    responderRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeFleet',
        actions: [
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeAutoScalingGroups',
          // Tells whether a group has EC2_INSTANCE_TERMINATING hooks that a detach would skip.
          'autoscaling:DescribeLifecycleHooks',
          'ec2:DescribeInstances',
        ],
        resources: ['*'],
      }),
    );
    const groupArns = autoScalingGroupNames.map((name) =>
      stack.formatArn({
        service: 'autoscaling',
        resource: 'autoScalingGroup',
        resourceName: `*:autoScalingGroupName/${name}`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    responderRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DetachInstances', actions: ['autoscaling:DetachInstances'], resources: groupArns }),
    );
    // The path taken instead of a detach when the group has terminating lifecycle hooks: the
    // group still launches a replacement, and the user's hooks run. Same groups, never "*".
    responderRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TerminateInstanceInGroup',
        actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: groupArns,
      }),
    );
    const targetGroupArns = targetGroupNames.map((name) =>
      stack.formatArn({
        service: 'elasticloadbalancing',
        resource: 'targetgroup',
        resourceName: `${name}/*`,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      }),
    );
    responderRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeregisterTargets',
        actions: ['elasticloadbalancing:DeregisterTargets'],
        resources: targetGroupArns,
      }),
    );
    const containerInstanceArns = this.grantEcsDraining(responderRole, ecsClusters);
    this.grantTableReadWrite(responderRole, props.tableEncryptionKey);

    acknowledge(
      responderRole,
      'autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups, ' +
        'autoscaling:DescribeLifecycleHooks and ec2:DescribeInstances do not support resource-level ' +
        'permissions, and neither do the X-Ray PutTraceSegments/PutTelemetryRecords that active ' +
        'tracing adds; they are the only actions on "*".',
      'AwsSolutions-IAM5[Resource::*]',
    );
    acknowledge(
      responderRole,
      'DetachInstances and TerminateInstanceInAutoScalingGroup are limited to Auto Scaling group ARNs ' +
        'of this account and region. The group id in such an ARN is a generated UUID, so it must be a ' +
        'wildcard; the group name is the autoScalingGroupNames prop ("*" unless the deployer narrows it).',
      ...groupArns.map((arn) => wildcardResourceFinding(this, arn)),
    );
    if (containerInstanceArns.length > 0) {
      acknowledge(
        responderRole,
        'DescribeContainerInstances and UpdateContainerInstancesState are limited to the container ' +
          'instances of the configured ecsClusters (resource ARN and ecs:cluster condition). The last ' +
          'ARN segment is the id ECS gives each container instance when it registers, so it must be a wildcard.',
        ...containerInstanceArns.map((arn) => wildcardResourceFinding(this, arn)),
      );
    }
    acknowledge(
      responderRole,
      'DeregisterTargets is limited to target group ARNs of this account and region. The last ARN ' +
        'segment is a generated id, so it must be a wildcard; the name is the targetGroupNames prop ' +
        '("*" unless the deployer narrows it).',
      ...targetGroupArns.map((arn) => wildcardResourceFinding(this, arn)),
    );

    this.indexRefresherFunction = new ResponderFunction(this, 'IndexRefresher', {
      ...functionDefaults,
      entry: path.join(LAMBDA_DIR, 'index-refresher.ts'),
      description: 'Rebuilds the instance-to-target-group index the spot-responder reads',
      // Finish (or be stopped) before the next scheduled run is due.
      timeout: Duration.seconds(Math.min(900, Math.floor(refreshMinutes * 60 * 0.8))),
      // Refreshes never overlap: a run that is due while one is still going waits its turn.
      reservedConcurrentExecutions: 1,
      // A failed or late refresh is superseded by the next scheduled one; retrying it would
      // only queue up duplicate work behind the reserved concurrency of one.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(refreshMinutes),
      // Old versions serve only the deploy-time trigger; nothing else calls them.
      currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
      environment: {
        ...powertools,
        TABLE_NAME: this.table.tableName,
        INDEX_REFRESH_MINUTES: String(refreshMinutes),
        INDEX_DESCRIBE_CALLS_PER_SECOND: String(describeCallsPerSecond),
      },
    });

    const refresherRole = this.indexRefresherFunction.role!;
    refresherRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeTargets',
        actions: [
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
          'ec2:DescribeNetworkInterfaces',
        ],
        resources: ['*'],
      }),
    );
    this.grantTableReadWrite(refresherRole, props.tableEncryptionKey);
    acknowledge(
      refresherRole,
      'elasticloadbalancing:DescribeTargetGroups, elasticloadbalancing:DescribeTargetHealth and ' +
        'ec2:DescribeNetworkInterfaces do not support resource-level permissions, and neither do the ' +
        'X-Ray PutTraceSegments/PutTelemetryRecords that active tracing adds; they are the only ' +
        'actions on "*".',
      'AwsSolutions-IAM5[Resource::*]',
    );

    this.indexRefreshSchedule = new events.Rule(this, 'IndexRefreshSchedule', {
      description: 'Rebuilds the spot-responder target index',
      schedule: events.Schedule.rate(Duration.minutes(refreshMinutes)),
      targets: [
        new targets.LambdaFunction(this.indexRefresherFunction, {
          retryAttempts: 2,
          maxEventAge: Duration.minutes(refreshMinutes),
        }),
      ],
    });

    if (props.refreshIndexOnDeploy ?? true) {
      this.addDeployTimeRefresh();
    }

    this.responderErrorsAlarm = new cloudwatch.Alarm(this, 'ResponderErrorsAlarm', {
      alarmDescription:
        'The spot-responder function failed; the event is retried once, then lands in the dead-letter queue.',
      metric: this.responderFunction.metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterQueueAlarm = new cloudwatch.Alarm(this, 'DeadLetterQueueAlarm', {
      alarmDescription:
        'An EC2 event was not delivered to, or not handled by, the spot-responder; see the dead-letter queue.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.indexRefresherErrorsAlarm = new cloudwatch.Alarm(this, 'IndexRefresherErrorsAlarm', {
      alarmDescription:
        'The spot-responder index refresher failed; the target index ages until a refresh succeeds.',
      metric: this.indexRefresherFunction.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms = [this.responderErrorsAlarm, this.deadLetterQueueAlarm, this.indexRefresherErrorsAlarm];

    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) alarm.addAlarmAction(action);
    }
  }

  /**
   * ECS draining, on the configured clusters only; nothing at all without clusters. As the
   * Service Authorization Reference documents: ListContainerInstances acts on the `cluster`
   * resource type; DescribeContainerInstances and UpdateContainerInstancesState act on the
   * `container-instance` type (`container-instance/<cluster name>/<id>`) and support the
   * `ecs:cluster` condition key. Both scopes are used for those two: the ARN covers the long
   * ARN format, the only one ECS issues now, and the condition is the check AWS documents for
   * these actions whatever the format (it is also what CDK's own ECS drain hook relies on).
   * The adapter must therefore always name the cluster in those calls.
   * @returns the wildcard container-instance ARNs, for their nag acknowledgement
   */
  private grantEcsDraining(role: iam.IRole, clusters: readonly string[]): string[] {
    if (clusters.length === 0) return [];
    const stack = Stack.of(this);
    const clusterArns = clusters.map((cluster) =>
      isClusterArn(cluster) ? cluster : stack.formatArn({ service: 'ecs', resource: 'cluster', resourceName: cluster }),
    );
    const containerInstanceArns = clusters.map((cluster) => {
      if (!isClusterArn(cluster)) {
        return stack.formatArn({ service: 'ecs', resource: 'container-instance', resourceName: `${cluster}/*` });
      }
      const arn = Arn.split(cluster, ArnFormat.SLASH_RESOURCE_NAME);
      return Arn.format({
        ...arn,
        resource: 'container-instance',
        resourceName: `${ecsClusterName(cluster)}/*`,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListContainerInstances',
        actions: ['ecs:ListContainerInstances'],
        resources: clusterArns,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DrainContainerInstances',
        actions: ['ecs:DescribeContainerInstances', 'ecs:UpdateContainerInstancesState'],
        resources: containerInstanceArns,
        conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
      }),
    );
    return containerInstanceArns;
  }

  /**
   * Item reads and writes on the table and its one index. Written out instead of
   * `table.grantReadWriteData`, which would add "<table ARN>/index/*" and the stream
   * actions of a table that has no stream.
   */
  private grantTableReadWrite(role: iam.IRole, key: kms.IKey | undefined): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteTable',
        actions: TABLE_READ_WRITE_ACTIONS,
        resources: [this.table.tableArn, `${this.table.tableArn}/index/${TABLE_SCHEMA.historyIndex.name}`],
      }),
    );
    if (!key) return;
    key.grantEncryptDecrypt(role);
    acknowledge(
      role,
      'kms:ReEncrypt* and kms:GenerateDataKey* are the action families CDK grants for using the ' +
        "table's customer managed key; the statement is limited to that one key.",
      wildcardActionFinding('kms:ReEncrypt*'),
      wildcardActionFinding('kms:GenerateDataKey*'),
    );
  }

  /**
   * Build the index right after deployment instead of up to one interval later. The trigger
   * invokes asynchronously: a refresh that fails (or is throttled by the reserved concurrency
   * of one while a scheduled run is going) then shows up on the refresher's alarm instead of
   * failing and rolling back the deployment, and the schedule repairs it anyway.
   */
  private addDeployTimeRefresh(): void {
    new triggers.Trigger(this, 'RefreshIndexOnDeploy', {
      handler: this.indexRefresherFunction,
      invocationType: triggers.InvocationType.EVENT,
      executeAfter: [this.table],
    });
    acknowledge(
      this.indexRefresherFunction,
      'The trigger invokes published versions of the refresher through an identity-based ' +
        'permission on "<function ARN>:*" in its own role; the only resource-based permission, ' +
        "the schedule rule's, is for the unqualified function, which is what the rule invokes.",
      'Annotation::@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
    );
  }
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

/** A literal cluster ARN; anything else, tokens included, is a cluster name. */
function isClusterArn(cluster: string): boolean {
  return !Token.isUnresolved(cluster) && cluster.startsWith('arn:');
}

/**
 * The role can act only in its own account and region, and the function calls ECS in its own
 * region: a cluster ARN elsewhere would fail on every interruption. Checked when the stack's
 * environment is known at synth; an environment-agnostic stack can only document it.
 */
function checkClustersInStackEnv(label: string, stack: Stack, clusters: readonly string[]): void {
  for (const cluster of clusters.filter(isClusterArn)) {
    const { account, region } = Arn.split(cluster, ArnFormat.SLASH_RESOURCE_NAME);
    const foreignAccount = !Token.isUnresolved(stack.account) && account !== stack.account;
    const foreignRegion = !Token.isUnresolved(stack.region) && region !== stack.region;
    if (foreignAccount || foreignRegion) {
      throw new SpotResponderConfigError(
        `${label}: ${JSON.stringify(cluster)} is not in the stack's account and region (${stack.account}, ${stack.region})`,
      );
    }
  }
}

function allowListEnv(value: readonly string[] | '*'): string {
  return value === '*' ? '*' : value.join(',');
}

function wholeMinutes(label: string, interval: Duration): number {
  const minutes = interval.toSeconds() / 60;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new SpotResponderConfigError(
      `${label} must be a whole number of minutes from 1 to 60, got ${interval.toHumanString()}`,
    );
  }
  return minutes;
}
