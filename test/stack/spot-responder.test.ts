import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { TABLE_SCHEMA } from '../../lambda/aws/table-schema';
import {
  INSTANCE_STATE_CHANGE_PATTERN,
  INTERRUPTION_WARNING_PATTERN,
  REBALANCE_RECOMMENDATION_PATTERN,
} from '../../lib/event-patterns';
import { SpotResponder } from '../../lib/spot-responder';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { SpotResponderConfigError } from '../../lib/validation';
import { allStatements, arnText, asArray, statementWithSid, statementsOf, testApp } from './helpers';

// The stacks, synthesized once: one with every default, the defaults acting, one with every option changed.
let defaults: { stack: SpotResponderStack; template: Template; responder: SpotResponder };
let acting: { stack: SpotResponderStack; template: Template; responder: SpotResponder };
let custom: { stack: SpotResponderStack; template: Template; responder: SpotResponder };
let withKey: { stack: Stack; template: Template; responder: SpotResponder; key: kms.Key };

beforeAll(() => {
  const app = testApp();
  const defaultStack = new SpotResponderStack(app, 'Defaults');
  // The defaults, acting: the IAM of act mode with every other default (observe mode's IAM: mode.test.ts).
  const actingStack = new SpotResponderStack(app, 'Acting', { responder: { mode: 'act' } });
  const customStack = new SpotResponderStack(app, 'Custom', {
    alarmEmail: 'oncall@example.com',
    responder: {
      mode: 'act',
      acceptedAccounts: '*',
      acceptedRegions: ['eu-west-1', 'eu-central-1'],
      autoScalingGroupNames: ['web-*', 'batch'],
      targetGroupNames: ['web-tg'],
      rebalanceAction: 'replace',
      tagMode: 'opt-in',
      tagKey: 'team:spot/respond',
      permissionScope: 'tagged',
      ecsClusters: ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch_1'],
      recordRetentionDays: 30,
      indexRefreshInterval: Duration.minutes(10),
      indexDescribeCallsPerSecond: 2,
      refreshIndexOnDeploy: false,
      logLevel: 'DEBUG',
      logRetention: logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    },
  });
  // The key has to exist before the construct; SpotResponderStack does not take one, so
  // the customer-managed-key case is a construct in a plain stack.
  const keyStack = new Stack(app, 'WithKey');
  const key = new kms.Key(keyStack, 'TableKey', { enableKeyRotation: true });
  const keyed = new SpotResponder(keyStack, 'SpotResponder', { tableEncryptionKey: key });
  app.synth();
  defaults = { stack: defaultStack, template: Template.fromStack(defaultStack), responder: defaultStack.responder };
  acting = { stack: actingStack, template: Template.fromStack(actingStack), responder: actingStack.responder };
  custom = { stack: customStack, template: Template.fromStack(customStack), responder: customStack.responder };
  withKey = { stack: keyStack, template: Template.fromStack(keyStack), responder: keyed, key };
}, 120_000);

const resolve = (stack: Stack, value: unknown) => stack.resolve(value);
// The minimizePolicies feature flag sorts actions and resources within a statement.
const sorted = (items: string[]) => [...items].sort();

describe('rules', () => {
  const warning = { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] };
  const rebalance = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] };
  const stateChange = {
    source: ['aws.ec2'],
    'detail-type': ['EC2 Instance State-change Notification'],
    detail: { state: ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] },
  };

  /** The responder's rules (those whose target is one of its queues), by the detail-type each matches. */
  function responderRules(template: Template, stack: Stack, responder: SpotResponder) {
    const queueArns = [responder.warningBuffer.queue, responder.stateChangeBuffer.queue].map((queue) =>
      JSON.stringify(resolve(stack, queue.queueArn)),
    );
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((rule) =>
      (rule.Properties.Targets as { Arn: unknown }[]).some((target) => queueArns.includes(JSON.stringify(target.Arn))),
    );
    return new Map(rules.map((rule) => [rule.Properties.EventPattern['detail-type'][0] as string, rule.Properties]));
  }

  test('the patterns in lib/event-patterns.ts are exactly the three this responder handles', () => {
    expect(INTERRUPTION_WARNING_PATTERN).toEqual(warning);
    expect(REBALANCE_RECOMMENDATION_PATTERN).toEqual(rebalance);
    expect(INSTANCE_STATE_CHANGE_PATTERN).toEqual(stateChange);
  });

  test('one rule per detail-type feeds its queue, each with exactly its pattern, on the default bus', () => {
    const { template, stack, responder } = defaults;
    const rules = responderRules(template, stack, responder);
    expect([...rules.keys()].sort()).toEqual([
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
      'EC2 Spot Instance Interruption Warning',
    ]);
    const warningQueue = resolve(stack, responder.warningBuffer.queue.queueArn);
    const stateChangeQueue = resolve(stack, responder.stateChangeBuffer.queue.queueArn);
    for (const [pattern, queue] of [
      [warning, warningQueue],
      [rebalance, warningQueue],
      [stateChange, stateChangeQueue],
    ] as const) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.exact(pattern),
        EventBusName: Match.absent(),
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: queue })],
      });
    }
    expect(responder.rules).toHaveLength(3);
  });

  test('the state-change rule lists exactly the handled states (pending names a replacement), no anything-but', () => {
    const { template, stack, responder } = defaults;
    const { EventPattern } = responderRules(template, stack, responder).get('EC2 Instance State-change Notification')!;
    expect(EventPattern.detail).toEqual({ state: ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] });
    expect(JSON.stringify(EventPattern)).not.toMatch(/anything-but/);
  });

  test('each rule retries delivery within its own window, then dead-letters', () => {
    const { template, stack, responder } = defaults;
    const rules = responderRules(template, stack, responder);
    const dlq = { Arn: resolve(stack, responder.deadLetterQueue.queueArn) };
    const policies = Object.fromEntries(
      [...rules].map(([detailType, rule]) => {
        const [target] = rule.Targets as { DeadLetterConfig: unknown; RetryPolicy: unknown }[];
        expect(target!.DeadLetterConfig).toEqual(dlq);
        return [detailType, target!.RetryPolicy];
      }),
    );
    expect(policies).toEqual({
      // A warning is useless after its two-minute notice...
      'EC2 Spot Instance Interruption Warning': { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 120 },
      'EC2 Instance Rebalance Recommendation': { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 600 },
      // ...a state change is history and may wait.
      'EC2 Instance State-change Notification': { MaximumRetryAttempts: 24, MaximumEventAgeInSeconds: 3600 },
    });
  });

  test('EventBridge may write to the dead-letter queue for these three rules only', () => {
    const { template, stack, responder } = defaults;
    const [policy] = Object.values(
      template.findResources('AWS::SQS::QueuePolicy', {
        Properties: { Queues: [resolve(stack, responder.deadLetterQueue.queueUrl)] },
      }),
    );
    const sendMessage = (policy!.Properties.PolicyDocument.Statement as Record<string, unknown>[]).filter(
      (statement) => statement.Effect === 'Allow',
    );
    expect(sendMessage).toHaveLength(3);
    for (const statement of sendMessage) {
      expect(statement).toMatchObject({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sqs:SendMessage' });
    }
    expect(sendMessage.map((statement) => statement.Condition)).toEqual(
      expect.arrayContaining(
        responder.rules.map((rule) => ({ ArnEquals: { 'aws:SourceArn': resolve(stack, rule.ruleArn) } })),
      ),
    );
  });
});

describe('responder function', () => {
  test('is invoked by its event source mappings only: no async settings, and its log group follows the props', () => {
    const { template, stack, responder } = defaults;
    expect(
      template.findResources('AWS::Lambda::EventInvokeConfig', {
        Properties: { FunctionName: resolve(stack, responder.responderFunction.functionName) },
      }),
    ).toEqual({});
  });

  test('runs Node.js 22 on arm64 with tracing, source maps and a 150 s timeout', () => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: Match.absent(),
      Role: resolve(stack, responder.responderFunction.role!.roleArn),
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 150,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: resolve(stack, responder.responderFunction.logGroup.logGroupName) },
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) },
    });
  });

  test('sets every variable of the env contract, defaults included', () => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: resolve(stack, responder.responderFunction.role!.roleArn),
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          TABLE_NAME: resolve(stack, responder.table.tableName),
          ACCEPTED_ACCOUNTS: { Ref: 'AWS::AccountId' },
          ACCEPTED_REGIONS: { Ref: 'AWS::Region' },
          RECORD_RETENTION_DAYS: '90',
          REBALANCE_ACTION: 'record',
          TAG_MODE: 'opt-out',
          TAG_KEY: 'spot-responder',
          ECS_CLUSTERS: '',
          POWERTOOLS_SERVICE_NAME: 'spot-responder',
          POWERTOOLS_LOG_LEVEL: 'INFO',
        },
      },
    });
  });

  test('takes every variable of the env contract from props', () => {
    const { template, stack, responder } = custom;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: resolve(stack, responder.responderFunction.role!.roleArn),
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          TABLE_NAME: resolve(stack, responder.table.tableName),
          ACCEPTED_ACCOUNTS: '*',
          ACCEPTED_REGIONS: 'eu-west-1,eu-central-1',
          RECORD_RETENTION_DAYS: '30',
          REBALANCE_ACTION: 'replace',
          TAG_MODE: 'opt-in',
          TAG_KEY: 'team:spot/respond',
          ECS_CLUSTERS: 'web,arn:aws:ecs:eu-west-1:111111111111:cluster/batch_1',
          POWERTOOLS_SERVICE_NAME: 'spot-responder',
          POWERTOOLS_LOG_LEVEL: 'DEBUG',
        },
      },
    });
  });

  test('logs to its own log group, kept 30 days and retained by default', () => {
    const { template, stack, responder } = defaults;
    const logGroupId = (resolve(stack, responder.responderFunction.logGroup.logGroupName) as { Ref: string }).Ref;
    expect(template.toJSON().Resources[logGroupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Retain',
    });
  });
});

describe('table', () => {
  test('has the key schema, index and TTL of TABLE_SCHEMA', () => {
    const { template } = defaults;
    expect(TABLE_SCHEMA).toMatchObject({ partitionKey: 'pk', ttlAttribute: 'expiresAt' });
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: Match.arrayEquals([
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'day', AttributeType: 'S' },
        { AttributeName: 'eventTimeAndId', AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byDay',
          KeySchema: [
            { AttributeName: 'day', KeyType: 'HASH' },
            { AttributeName: 'eventTimeAndId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  test('is encrypted with the AWS managed key by default and retained', () => {
    const { template } = defaults;
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      // SSEEnabled without a key: KMS with the AWS managed key (aws/dynamodb).
      Properties: Match.objectLike({ SSESpecification: { SSEEnabled: true } }),
    });
  });

  test('uses the customer managed key when one is given', () => {
    const { template, stack, key } = withKey;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: resolve(stack, key.keyArn) },
    });
  });

  test('follows removalPolicy', () => {
    custom.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    custom.template.hasResource('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Delete',
      Properties: { RetentionInDays: 7 },
    });
  });
});

describe('dead-letter queue', () => {
  test('is encrypted, keeps messages 14 days and refuses plain HTTP', () => {
    const { template, stack, responder } = defaults;
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [resolve(stack, responder.deadLetterQueue.queueUrl)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });
});

describe('IAM', () => {
  test('no role of a function has a managed policy', () => {
    for (const { template, stack, responder } of [defaults, custom]) {
      for (const fn of [responder.responderFunction, responder.indexRefresherFunction]) {
        const roleId = (resolve(stack, fn.role!.roleArn) as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
        const role = template.toJSON().Resources[roleId];
        expect(role.Type).toBe('AWS::IAM::Role');
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ]);
      }
    }
  });

  test('every statement on Resource "*" holds only describe actions (and X-Ray, which cannot be scoped)', () => {
    const xray = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
    for (const { template } of [defaults, custom, withKey]) {
      const onStar = allStatements(template).filter((s) => asArray(s.Resource).includes('*'));
      expect(onStar.length).toBeGreaterThan(0);
      for (const statement of onStar) {
        for (const action of asArray(statement.Action)) {
          expect(/^[a-z0-9-]+:Describe[A-Za-z]+$/.test(action) || xray.includes(action)).toBe(true);
        }
      }
    }
  });

  test('no statement grants a wildcard action', () => {
    for (const { template } of [defaults, custom]) {
      const actions = allStatements(template).flatMap((s) => asArray(s.Action));
      expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    }
  });

  test('the responder may describe the fleet on "*"', () => {
    const { template, responder } = defaults;
    const statement = statementWithSid(statementsOf(template, responder.responderFunction.role!), 'DescribeFleet');
    expect(statement).toEqual({
      Sid: 'DescribeFleet',
      Effect: 'Allow',
      Action: sorted([
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
        'ec2:DescribeInstances',
      ]),
      Resource: '*',
    });
  });

  test('DetachInstances, TerminateInstanceInAutoScalingGroup and DeregisterTargets are limited to ARNs of this account and region', () => {
    const { template, responder } = acting;
    const statements = statementsOf(template, responder.responderFunction.role!);
    const groupArns = ['arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*'];

    const detach = statementWithSid(statements, 'DetachInstances');
    expect(detach.Action).toBe('autoscaling:DetachInstances');
    expect(detach.Resource).not.toBe('*');
    expect(asArray(detach.Resource).map(arnText)).toEqual(groupArns);

    const terminate = statementWithSid(statements, 'TerminateInstanceInGroup');
    expect(terminate).toEqual({
      Sid: 'TerminateInstanceInGroup',
      Effect: 'Allow',
      Action: 'autoscaling:TerminateInstanceInAutoScalingGroup',
      Resource: expect.anything(),
    });
    expect(asArray(terminate.Resource)).not.toContain('*');
    expect(asArray(terminate.Resource).map(arnText)).toEqual(groupArns);

    const deregister = statementWithSid(statements, 'DeregisterTargets');
    expect(deregister.Action).toBe('elasticloadbalancing:DeregisterTargets');
    expect(deregister.Resource).not.toBe('*');
    expect(asArray(deregister.Resource).map(arnText)).toEqual([
      'arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:targetgroup/*/*',
    ]);

    // Nowhere else: the only statements with these actions are the three above.
    const mutatingActions = [
      'autoscaling:DetachInstances',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'elasticloadbalancing:DeregisterTargets',
    ];
    const mutating = allStatements(template).filter((s) => asArray(s.Action).some((a) => mutatingActions.includes(a)));
    expect(mutating).toHaveLength(3);
  });

  test('group and target group names from props narrow those ARNs', () => {
    const { template, responder } = custom;
    const statements = statementsOf(template, responder.responderFunction.role!);
    const groupArns = sorted([
      'arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/web-*',
      'arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/batch',
    ]);
    for (const sid of ['DetachInstances', 'TerminateInstanceInGroup']) {
      expect(sorted(asArray(statementWithSid(statements, sid).Resource).map(arnText))).toEqual(groupArns);
    }
    expect(asArray(statementWithSid(statements, 'DeregisterTargets').Resource).map(arnText)).toEqual([
      'arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:targetgroup/web-tg/*',
    ]);
  });

  test('without ecsClusters, no role has any ECS permission', () => {
    const ecsActions = allStatements(defaults.template).flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('ecs:'));
    expect(ecsActions).toEqual([]);
  });

  test('with ecsClusters, the responder may list, describe and drain container instances of those clusters only', () => {
    const { template, responder } = custom;
    const statements = statementsOf(template, responder.responderFunction.role!);
    const webCluster = 'arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:cluster/web';
    const batchCluster = 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch_1';

    const list = statementWithSid(statements, 'ListContainerInstances');
    expect(list).toMatchObject({ Effect: 'Allow', Action: 'ecs:ListContainerInstances' });
    expect(list.Condition).toBeUndefined();
    expect(sorted(asArray(list.Resource).map(arnText))).toEqual(sorted([webCluster, batchCluster]));

    const drain = statementWithSid(statements, 'DrainContainerInstances');
    expect(drain).toMatchObject({
      Effect: 'Allow',
      Action: sorted(['ecs:DescribeContainerInstances', 'ecs:UpdateContainerInstancesState']),
    });
    expect(sorted(asArray(drain.Resource).map(arnText))).toEqual(sorted([
      'arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/web/*',
      'arn:aws:ecs:eu-west-1:111111111111:container-instance/batch_1/*',
    ]));
    const condition = drain.Condition as { ArnEquals: { 'ecs:cluster': unknown } };
    expect(Object.keys(condition)).toEqual(['ArnEquals']);
    expect(sorted(asArray(condition.ArnEquals['ecs:cluster']).map(arnText))).toEqual(sorted([webCluster, batchCluster]));

    // Those two statements are all the ECS there is, and the refresher has none.
    const ecsStatements = allStatements(template).filter((s) => asArray(s.Action).some((a) => a.startsWith('ecs:')));
    expect(ecsStatements).toHaveLength(2);
    expect(ecsStatements.flatMap((s) => asArray(s.Resource))).not.toContain('*');
  });

  test('each function gets exactly the table actions its code sends, on the table alone (no Query, Scan, index)', () => {
    const { template, stack, responder } = defaults;
    const tableArn = resolve(stack, responder.table.tableArn) as { 'Fn::GetAtt': [string, string] };
    const tableId = tableArn['Fn::GetAtt'][0];
    const granted = (fn: typeof responder.responderFunction) => {
      const statement = statementWithSid(statementsOf(template, fn.role!), 'ReadWriteTable');
      expect(asArray(statement.Resource).map(arnText)).toEqual([`<${tableId}.Arn>`]);
      return sorted(asArray(statement.Action));
    };
    expect(granted(responder.responderFunction)).toEqual(
      sorted(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
    );
    expect(granted(responder.indexRefresherFunction)).toEqual(
      sorted(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']),
    );
    const everyTableAction = allStatements(template).flatMap((s) => asArray(s.Action)).filter((a) => a.startsWith('dynamodb:'));
    for (const wide of ['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:ConditionCheckItem']) {
      expect(everyTableAction).not.toContain(wide);
    }
  });

  test("issue 9.9: permissionScope 'tagged' makes the three mutating actions require the opt-in tag on the group or target group", () => {
    const tagged = { StringEqualsIgnoreCase: { 'aws:ResourceTag/team:spot/respond': ['on', 'true', 'enabled', 'yes'] } };
    const customStatements = statementsOf(custom.template, custom.responder.responderFunction.role!);
    // The default scope, acting (observe mode has none of these statements: mode.test.ts).
    const actingStatements = statementsOf(acting.template, acting.responder.responderFunction.role!);
    for (const sid of ['DetachInstances', 'TerminateInstanceInGroup', 'DeregisterTargets']) {
      expect(statementWithSid(customStatements, sid).Condition).toEqual(tagged);
      expect(statementWithSid(actingStatements, sid).Condition).toBeUndefined();
    }
  });

  test("the responder may consume its two queues (and shorten a failed message's visibility: make-handler.ts), and send to no queue", () => {
    const { template, stack, responder } = defaults;
    const statements = statementsOf(template, responder.responderFunction.role!);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl']),
        Resource: expect.arrayContaining(
          [responder.warningBuffer.queue, responder.stateChangeBuffer.queue].map((queue) =>
            resolve(stack, queue.queueArn),
          ),
        ),
      }),
    );
    expect(statements.flatMap((statement) => asArray(statement.Action))).not.toContain('sqs:SendMessage');
  });

  test('the refresher may only describe target groups, network interfaces and Auto Scaling groups, and use the table', () => {
    const { template, responder } = defaults;
    const statements = statementsOf(template, responder.indexRefresherFunction.role!);
    expect(statementWithSid(statements, 'DescribeTargets')).toEqual({
      Sid: 'DescribeTargets',
      Effect: 'Allow',
      Action: sorted([
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'ec2:DescribeNetworkInterfaces',
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
      ]),
      Resource: '*',
    });
    const actions = statements.flatMap((s) => asArray(s.Action));
    const services = new Set(actions.map((a) => a.split(':')[0]));
    expect([...services].sort()).toEqual(['autoscaling', 'dynamodb', 'ec2', 'elasticloadbalancing', 'logs', 'xray']);
  });

  test('with a customer managed key, both functions may use that key only', () => {
    const { template, stack, responder, key } = withKey;
    const keyArn = resolve(stack, key.keyArn);
    for (const fn of [responder.responderFunction, responder.indexRefresherFunction]) {
      const kmsStatements = statementsOf(template, fn.role!).filter((s) => asArray(s.Action).some((a) => a.startsWith('kms:')));
      expect(kmsStatements).toHaveLength(1);
      expect(kmsStatements[0]!.Resource).toEqual(keyArn);
    }
  });
});

describe('index refresher', () => {
  test('runs on a 5-minute schedule by default, with no reserved concurrency (single-flight is a lease in the table)', () => {
    const { template, stack, responder } = defaults;
    const fn = responder.indexRefresherFunction;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({
          Arn: resolve(stack, fn.functionArn),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: resolve(stack, fn.role!.roleArn),
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 240,
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: resolve(stack, responder.table.tableName),
          INDEX_REFRESH_MINUTES: '5',
          INDEX_DESCRIBE_CALLS_PER_SECOND: '4',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: resolve(stack, fn.functionName),
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 300,
    });
  });

  test('reserves no concurrency: a fresh account keeps its minimum of 10 unreserved executions', () => {
    for (const { template } of [defaults, custom]) {
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
        expect((fn as { Properties: Record<string, unknown> }).Properties.ReservedConcurrentExecutions).toBeUndefined();
      }
    }
  });

  test('the responder judges index entries on the same interval as the refresher', () => {
    for (const [{ template, stack, responder }, minutes] of [[defaults, '5'], [custom, '10']] as const) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Role: resolve(stack, responder.responderFunction.role!.roleArn),
        Environment: { Variables: Match.objectLike({ INDEX_REFRESH_MINUTES: minutes }) },
      });
    }
  });

  test('follows indexRefreshInterval and indexDescribeCallsPerSecond', () => {
    const { template, stack, responder } = custom;
    const fn = responder.indexRefresherFunction;
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Role: resolve(stack, fn.role!.roleArn),
      Timeout: 480,
      Environment: {
        Variables: Match.objectLike({ INDEX_REFRESH_MINUTES: '10', INDEX_DESCRIBE_CALLS_PER_SECOND: '2' }),
      },
    });
  });

  test('runs once, asynchronously, after every deployment that changes it', () => {
    const { template, stack, responder } = defaults;
    const handlerArn = new Capture();
    template.resourceCountIs('Custom::Trigger', 1);
    template.hasResourceProperties('Custom::Trigger', { InvocationType: 'Event', HandlerArn: handlerArn });
    // The trigger invokes the current version of the refresher function.
    const versionId = (handlerArn.asObject() as { Ref: string }).Ref;
    expect(template.toJSON().Resources[versionId]).toMatchObject({
      Type: 'AWS::Lambda::Version',
      Properties: { FunctionName: resolve(stack, responder.indexRefresherFunction.functionName) },
    });
    // ...and only after the table exists.
    const tableId = (resolve(stack, responder.table.tableArn) as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const trigger = Object.values(template.findResources('Custom::Trigger'))[0]!;
    expect(trigger.DependsOn).toContain(tableId);
  });

  test('the deploy-time run can be turned off', () => {
    custom.template.resourceCountIs('Custom::Trigger', 0);
  });
});

describe('alarms', () => {
  const common = {
    Threshold: 1,
    EvaluationPeriods: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
  };

  test('on responder errors, failed interruption responses, refresher errors, dead-lettered events, a stale index, throttling and the buffers, without actions by default', () => {
    const { template, stack, responder } = defaults;
    template.resourceCountIs('AWS::CloudWatch::Alarm', 11);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      Dimensions: [{ Name: 'FunctionName', Value: resolve(stack, responder.responderFunction.functionName) }],
      AlarmActions: Match.absent(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Period: 60,
      Dimensions: [{ Name: 'QueueName', Value: resolve(stack, responder.deadLetterQueue.queueName) }],
      AlarmActions: Match.absent(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: resolve(stack, responder.indexRefresherFunction.functionName) }],
      AlarmActions: Match.absent(),
    });
    expect(responder.alarms).toHaveLength(11);
  });

  test('alarmEmail adds a topic, subscribed by email, that every alarm notifies', () => {
    const { template, stack } = custom;
    const topicRef = resolve(stack, stack.alarmTopic!.topicArn);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: topicRef,
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(11);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
    defaults.template.resourceCountIs('AWS::SNS::Topic', 0);
  });
});

describe('props validation', () => {
  const app = testApp();
  let stacks = 0;
  const build = (props: ConstructorParameters<typeof SpotResponder>[2]) => () =>
    new SpotResponder(new Stack(app, `Bad${stacks++}`), 'SpotResponder', props);

  test.each([
    ['acceptedAccounts', { acceptedAccounts: [] }],
    ['acceptedAccounts', { acceptedAccounts: ['12345'] }],
    ['acceptedRegions', { acceptedRegions: ['Europe'] }],
    ['autoScalingGroupNames', { autoScalingGroupNames: [] }],
    ['autoScalingGroupNames', { autoScalingGroupNames: ['a:b'] }],
    ['targetGroupNames', { targetGroupNames: ['name_with_underscore'] }],
    ['targetGroupNames', { targetGroupNames: ['web', 'web'] }],
    ['recordRetentionDays', { recordRetentionDays: 0 }],
    ['indexRefreshInterval', { indexRefreshInterval: Duration.seconds(90) }],
    ['indexRefreshInterval', { indexRefreshInterval: Duration.hours(2) }],
    ['indexDescribeCallsPerSecond', { indexDescribeCallsPerSecond: 50 }],
    ['logLevel', { logLevel: 'LOUD' as never }],
    ['rebalanceAction', { rebalanceAction: 'terminate' as never }],
    ['tagMode', { tagMode: 'opt_in' as never }],
    ['permissionScope', { permissionScope: 'tags' as never }],
    ['tagKey', { tagKey: '' }],
    ['tagKey', { tagKey: 'k'.repeat(129) }],
    ['tagKey', { tagKey: ' spot-responder' }],
    ['tagKey', { tagKey: 'aws:autoscaling:groupName' }],
    ['ecsClusters', { ecsClusters: ['my cluster'] }],
    ['ecsClusters', { ecsClusters: ['c'.repeat(256)] }],
    ['ecsClusters', { ecsClusters: ['arn:aws:ecs:eu-west-1:111111111111:service/web/api'] }],
    ['ecsClusters', { ecsClusters: ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/web'] }],
  ])('rejects a bad %s', (prop, props) => {
    expect(build(props)).toThrow(SpotResponderConfigError);
    expect(build(props)).toThrow(new RegExp(`SpotResponderProps\\.${prop}`));
  });

  test('accepts a 128-character tag key, 255-character cluster names and cluster ARNs', () => {
    expect(
      build({
        tagKey: 'k'.repeat(128),
        ecsClusters: ['c'.repeat(255), 'arn:aws-cn:ecs:cn-north-1:111111111111:cluster/Batch-2'],
      }),
    ).not.toThrow();
  });

  test('rejects a cluster ARN outside the stack, when the stack knows its environment', () => {
    const stack = new Stack(app, 'Pinned', { env: { account: '111111111111', region: 'eu-west-1' } });
    const build = (cluster: string) => () => new SpotResponder(stack, `R${stacks++}`, { ecsClusters: [cluster] });
    expect(build('arn:aws:ecs:eu-west-1:222222222222:cluster/web')).toThrow(/ecsClusters.*not in the stack's account and region/);
    expect(build('arn:aws:ecs:us-east-1:111111111111:cluster/web')).toThrow(SpotResponderConfigError);
    expect(build('arn:aws:ecs:eu-west-1:111111111111:cluster/web')).not.toThrow();
  });
});

describe('stack outputs', () => {
  it('names the table, the dead-letter queue and the function an operator needs after deploy', () => {
    const outputs = defaults.template.findOutputs('*');
    const table = defaults.stack.resolve(defaults.responder.table.tableName) as unknown;
    const queue = defaults.stack.resolve(defaults.responder.deadLetterQueue.queueUrl) as unknown;
    const fn = defaults.stack.resolve(defaults.responder.responderFunction.functionName) as unknown;
    expect(Object.values(outputs).map((o) => (o as { Value: unknown }).Value)).toEqual(
      expect.arrayContaining([table, queue, fn]),
    );
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['TableName', 'DeadLetterQueueUrl', 'ResponderFunctionName']));
  });

  it('names both queues and their dead-letter queues, so dlq list reads every DLQ and redrive finds the queue a rule feeds', () => {
    const outputs = defaults.template.findOutputs('*') as Record<string, { Value: unknown }>;
    const url = (queue: { queueUrl: string }) => defaults.stack.resolve(queue.queueUrl) as unknown;
    const { warningBuffer, stateChangeBuffer } = defaults.responder;
    expect(outputs.WarningQueueUrl?.Value).toEqual(url(warningBuffer.queue));
    expect(outputs.WarningDeadLetterQueueUrl?.Value).toEqual(url(warningBuffer.deadLetterQueue));
    expect(outputs.StateChangeQueueUrl?.Value).toEqual(url(stateChangeBuffer.queue));
    expect(outputs.StateChangeDeadLetterQueueUrl?.Value).toEqual(url(stateChangeBuffer.deadLetterQueue));
    expect(Object.keys(outputs).filter((key) => key.endsWith('DeadLetterQueueUrl')).sort()).toEqual([
      'DeadLetterQueueUrl',
      'StateChangeDeadLetterQueueUrl',
      'WarningDeadLetterQueueUrl',
    ]);
  });
});
