// What operators watch: the dashboard, the stale-index and throttling alarms, the notification
// topic and the metrics namespace the functions emit to. cdk-nag runs on the topic variants.
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { METRICS, OUTCOMES, POWERTOOLS_ENV, SIGNALS_ENV, SKIP_KINDS } from '../../lambda/contract';
import { SpotResponder } from '../../lib/spot-responder';
import { statementsOf, testApp } from './helpers';

let app: ReturnType<typeof testApp>;
let created: { stack: Stack; template: Template; responder: SpotResponder };
let given: { stack: Stack; template: Template; responder: SpotResponder; topic: sns.Topic };
let bare: { template: Template; responder: SpotResponder };

beforeAll(() => {
  app = testApp();
  const createdStack = new Stack(app, 'CreatedTopic');
  const createdResponder = new SpotResponder(createdStack, 'SpotResponder', {
    notificationTopic: true,
    indexRefreshInterval: Duration.minutes(10),
  });
  const givenStack = new Stack(app, 'GivenTopic');
  const key = new kms.Key(givenStack, 'TopicKey', { enableKeyRotation: true });
  const topic = new sns.Topic(givenStack, 'Team', { masterKey: key, enforceSSL: true });
  const givenResponder = new SpotResponder(givenStack, 'SpotResponder', { notificationTopic: topic });
  const bareStack = new Stack(app, 'Bare');
  const bareResponder = new SpotResponder(bareStack, 'SpotResponder', { dashboard: false });
  app.synth();
  created = { stack: createdStack, template: Template.fromStack(createdStack), responder: createdResponder };
  given = { stack: givenStack, template: Template.fromStack(givenStack), responder: givenResponder, topic };
  bare = { template: Template.fromStack(bareStack), responder: bareResponder };
}, 120_000);

const serviceDimension = [{ Name: METRICS.dimensions.service, Value: 'spot-responder' }];

function variablesOf(template: Template, stack: Stack, roleArn: string): Record<string, unknown> {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Role: stack.resolve(roleArn) } }));
  return (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
}

describe('alarms', () => {
  test('stale index: fewer than one completed refresh in each of three intervals, and silence counts', () => {
    created.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS.namespace,
      MetricName: METRICS.names.indexRefreshes,
      Dimensions: serviceDimension,
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  test("throttling: the functions' throttled AWS calls, and Lambda throttling the responder", () => {
    created.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS.namespace,
      MetricName: METRICS.names.throttles,
      Dimensions: serviceDimension,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    created.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: created.stack.resolve(created.responder.responderFunction.functionName) }],
      Threshold: 1,
    });
    expect(created.responder.alarms).toContain(created.responder.staleIndexAlarm);
    expect(created.responder.alarms).toContain(created.responder.throttlingAlarm);
    expect(created.responder.alarms).toContain(created.responder.responderThrottledAlarm);
  });
});

describe('the failed-responses alarm', () => {
  test('fires on the first failed response to a warning or a rebalance recommendation in a minute, summed over both signals', () => {
    const alarm = Object.values(created.template.findResources('AWS::CloudWatch::Alarm')).find((a) =>
      JSON.stringify(a).includes('failed interruption responses'),
    ) as { Properties: { Metrics: Array<Record<string, any>>; Threshold: number; ComparisonOperator: string; TreatMissingData: string } };
    expect(alarm).toBeDefined();
    const { Metrics, ...rest } = alarm.Properties;
    expect(rest).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    const expression = Metrics.find((m) => m.Expression);
    expect(expression).toMatchObject({ Expression: 'failed0 + failed1', ReturnData: true });
    const read = Metrics.filter((m) => m.MetricStat).map((m) => ({
      name: m.MetricStat.Metric.MetricName,
      namespace: m.MetricStat.Metric.Namespace,
      dimensions: Object.fromEntries((m.MetricStat.Metric.Dimensions as Array<{ Name: string; Value: string }>).map((d) => [d.Name, d.Value])),
      stat: m.MetricStat.Stat,
      period: m.MetricStat.Period,
    }));
    expect(read).toEqual(
      ['spot-interruption-warning', 'rebalance-recommendation'].map((signal) => ({
        name: METRICS.names.responses,
        namespace: METRICS.namespace,
        dimensions: { service: 'spot-responder', signal, outcome: 'failed' },
        stat: 'Sum',
        period: 60,
      })),
    );
    expect(created.responder.alarms).toContain(created.responder.failedResponsesAlarm);
  });
});

describe('metrics namespace', () => {
  test('both functions emit to METRICS.namespace, which the alarms and the dashboard read', () => {
    for (const fn of [created.responder.responderFunction, created.responder.indexRefresherFunction]) {
      expect(variablesOf(created.template, created.stack, fn.role!.roleArn)[POWERTOOLS_ENV.metricsNamespace]).toBe(METRICS.namespace);
    }
  });
});

describe('dashboard', () => {
  const body = () => {
    const [dashboard] = Object.values(created.template.findResources('AWS::CloudWatch::Dashboard'));
    // The body is an Fn::Join of strings and tokens (function names, alarm ARNs); the strings suffice.
    const parts = (dashboard as { Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } } }).Properties.DashboardBody[
      'Fn::Join'
    ][1];
    return parts.map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  };

  test('one dashboard by default, none with dashboard: false', () => {
    created.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    bare.template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(bare.responder.dashboard).toBeUndefined();
  });

  test('graphs every outcome, every skip kind and every figure the functions emit', () => {
    const text = body();
    const widgets = (JSON.parse(text) as { widgets: { type: string; properties: { title?: string; metrics?: unknown[][] } }[] }).widgets;
    const metricNames = new Set(
      widgets.flatMap((w) => (w.properties.metrics ?? []).filter((m) => m[0] === METRICS.namespace).map((m) => m[1])),
    );
    for (const name of Object.values(METRICS.names)) expect(metricNames).toContain(name);
    for (const outcome of OUTCOMES) expect(text).toContain(`"${METRICS.dimensions.outcome}","${outcome}"`);
    for (const kind of SKIP_KINDS.filter((k) => k !== 'not-acted-on')) expect(text).toContain(`"${METRICS.dimensions.skipKind}","${kind}"`);
    expect(widgets.map((w) => w.type)).toContain('alarm');
    const titles = widgets.map((w) => w.properties.title);
    expect(titles).toEqual(expect.arrayContaining(['Interruption responses by outcome', 'Target index age (s)', 'Throttling']));
  });

  test('the index-age graph marks where entries expire: three refresh intervals', () => {
    expect(body()).toContain(`"value":${3 * 10 * 60},"label":"entries expire (3 intervals)"`);
  });
});

describe('notification topic', () => {
  test('none unless asked for', () => {
    bare.template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(bare.responder.notificationTopic).toBeUndefined();
    expect(Object.keys(variablesOf(bare.template, created.stack, bare.responder.responderFunction.role!.roleArn))).not.toContain(
      SIGNALS_ENV.notificationTopicArn,
    );
  });

  test('true: a topic encrypted with alias/aws/sns that refuses plain HTTP; the responder may publish and knows its ARN', () => {
    const { template, stack, responder } = created;
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: 'alias/aws/sns',
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const topicArn = stack.resolve(responder.notificationTopic!.topicArn);
    expect(variablesOf(template, stack, responder.responderFunction.role!.roleArn)[SIGNALS_ENV.notificationTopicArn]).toEqual(topicArn);
    const statements = statementsOf(template, responder.responderFunction.role!);
    const publish = statements.filter((s) =>
      [s.Action].flat().includes('sns:Publish'),
    );
    expect(publish).toEqual([expect.objectContaining({ Effect: 'Allow', Resource: topicArn })]);
    // The AWS managed key's policy lets the account use it through SNS: no kms grant needed.
    expect(statements.filter((s) => [s.Action].flat().some((a) => String(a).startsWith('kms:')))).toEqual([]);
    // The refresher never notifies.
    expect(Object.keys(variablesOf(template, stack, responder.indexRefresherFunction.role!.roleArn))).not.toContain(
      SIGNALS_ENV.notificationTopicArn,
    );
  });

  test("a topic of yours: used as is, with publish and its key's data-key rights granted", () => {
    const { template, stack, responder, topic } = given;
    template.resourceCountIs('AWS::SNS::Topic', 1);
    expect(responder.notificationTopic).toBe(topic);
    const statements = statementsOf(template, responder.responderFunction.role!);
    expect(statements).toEqual(
      expect.arrayContaining([expect.objectContaining({ Action: 'sns:Publish', Resource: stack.resolve(topic.topicArn) })]),
    );
    const keyStatement = statements.find((s) => [s.Action].flat().some((a) => String(a).startsWith('kms:')));
    expect(keyStatement).toBeDefined();
    expect([keyStatement!.Action].flat()).toEqual(expect.arrayContaining(['kms:GenerateDataKey*', 'kms:Decrypt']));
  });

  test('cdk-nag (AwsSolutions) reports nothing on either variant', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});
