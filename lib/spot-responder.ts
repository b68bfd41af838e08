import * as path from 'path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { EC2_EVENT_SOURCE, RESPONDER_DETAIL_TYPES } from './event-patterns';
import { acknowledge, wildcardActionFinding, wildcardResourceFinding } from './nag';
import { ResponderFunction } from './responder-function';
import {
  LogLevel,
  SpotResponderConfigError,
  checkAccounts,
  checkAutoScalingGroupNames,
  checkIntegerInRange,
  checkLogLevel,
  checkRegions,
  checkTargetGroupNames,
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
   * The bus the responder rule listens on. EC2 delivers Spot interruption warnings to the
   * default bus of the instance's account and region only; a custom bus sees them only if
   * something forwards them there.
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
 * Responds to EC2 Spot interruption warnings: an EventBridge rule invokes the responder,
 * which deregisters the instance from its target groups, detaches it from its Auto Scaling
 * group with replacement and records what it did in DynamoDB. A scheduled refresher keeps
 * the instance-to-target-group index the responder reads, so the hot path never has to
 * walk every target group.
 *
 * Events whose delivery fails (EventBridge) or whose handling fails (Lambda async invoke)
 * both end in `deadLetterQueue`, in the two different shapes those services write.
 */
export class SpotResponder extends Construct {
  public readonly table: dynamodb.Table;
  public readonly responderFunction: ResponderFunction;
  public readonly indexRefresherFunction: ResponderFunction;
  public readonly deadLetterQueue: sqs.Queue;
  /** Routes interruption warnings to the responder. */
  public readonly rule: events.Rule;
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

    checkAccounts('SpotResponderProps.acceptedAccounts', acceptedAccounts);
    checkRegions('SpotResponderProps.acceptedRegions', acceptedRegions);
    checkAutoScalingGroupNames('SpotResponderProps.autoScalingGroupNames', autoScalingGroupNames);
    checkTargetGroupNames('SpotResponderProps.targetGroupNames', targetGroupNames);
    checkIntegerInRange('SpotResponderProps.recordRetentionDays', recordRetentionDays, 1, 3650);
    checkIntegerInRange('SpotResponderProps.indexDescribeCallsPerSecond', describeCallsPerSecond, 1, 10);
    checkLogLevel('SpotResponderProps.logLevel', logLevel);
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
      description: 'Deregisters, detaches and records EC2 Spot instances on their interruption warning',
      // The handler gives up at the 120 s deadline; the margin lets it still write its record.
      timeout: Duration.seconds(150),
      environment: {
        ...powertools,
        TABLE_NAME: this.table.tableName,
        ACCEPTED_ACCOUNTS: allowListEnv(acceptedAccounts),
        ACCEPTED_REGIONS: allowListEnv(acceptedRegions),
        RECORD_RETENTION_DAYS: String(recordRetentionDays),
      },
      // A handler error is Lambda's to retry, not EventBridge's. Lambda retries an async
      // event about a minute after a failure, so one retry can still land inside the notice
      // (the handler is idempotent per event and per warning); later ones cannot. Events that
      // still fail, or outlive the notice in the queue, go to the DLQ for the record.
      retryAttempts: 1,
      maxEventAge: NOTICE,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    this.rule = new events.Rule(this, 'InterruptionWarningRule', {
      description: 'EC2 Spot interruption warnings to the spot-responder function',
      eventBus: props.eventBus,
      eventPattern: { source: [EC2_EVENT_SOURCE], detailType: [...RESPONDER_DETAIL_TYPES] },
      targets: [
        new targets.LambdaFunction(this.responderFunction, {
          // Delivery retries (throttling, a function being updated) back off exponentially;
          // four of them span well under two minutes. An event delivered after the notice
          // is of no use to the fleet, so it goes straight to the DLQ to be recorded instead.
          retryAttempts: 4,
          maxEventAge: NOTICE,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });

    const responderRole = this.responderFunction.role!;
    responderRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeFleet',
        actions: [
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeAutoScalingGroups',
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
    this.grantTableReadWrite(responderRole, props.tableEncryptionKey);

    acknowledge(
      responderRole,
      'autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups and ' +
        'ec2:DescribeInstances do not support resource-level permissions, and neither do the X-Ray ' +
        'PutTraceSegments/PutTelemetryRecords that active tracing adds; they are the only actions on "*".',
      'AwsSolutions-IAM5[Resource::*]',
    );
    acknowledge(
      responderRole,
      'DetachInstances is limited to Auto Scaling group ARNs of this account and region. The group ' +
        'id in such an ARN is a generated UUID, so it must be a wildcard; the group name is the ' +
        'autoScalingGroupNames prop ("*" unless the deployer narrows it).',
      ...groupArns.map((arn) => wildcardResourceFinding(this, arn)),
    );
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
        'An interruption warning was not delivered to, or not handled by, the spot-responder; see the dead-letter queue.',
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
