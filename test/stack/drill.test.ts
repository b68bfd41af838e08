// The drill (lib/drill.ts): an opt-in FIS experiment template that sends Spot interruption
// notices to drill-tagged instances, its least-privilege role, the stack output the CLI reads,
// the checks on its props, and cdk-nag on a stack that has it.
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FIS_SPOT_TARGETS_PER_EXPERIMENT } from '../../lib/defaults';
import { SpotResponder, type SpotResponderProps } from '../../lib/spot-responder';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { testApp } from './helpers';

const ENV = { account: '111122223333', region: 'eu-west-1' };

function synth(drill: SpotResponderProps['drill']) {
  const app = testApp();
  const stack = new SpotResponderStack(app, 'Drilled', { env: ENV, responder: { dashboard: false, ...(drill ? { drill } : {}) } });
  return { app, stack, template: Template.fromStack(stack) };
}

describe('without the drill prop', () => {
  it('creates no experiment template, role or output', () => {
    const { template } = synth(undefined);
    template.resourceCountIs('AWS::FIS::ExperimentTemplate', 0);
    expect(Object.keys(template.findOutputs('DrillExperimentTemplateId'))).toEqual([]);
  });
});

describe('drill: true', () => {
  const { template } = synth(true);

  it("interrupts up to FIS's per-experiment quota of running Spot instances tagged for the drill, with two minutes' notice", () => {
    expect(FIS_SPOT_TARGETS_PER_EXPERIMENT).toBe(5);
    template.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      Targets: {
        SpotInstances: {
          ResourceType: 'aws:ec2:spot-instance',
          ResourceTags: { 'spot-responder:drill': 'true' },
          Filters: [{ Path: 'State.Name', Values: ['running'] }],
          SelectionMode: 'COUNT(5)',
        },
      },
      Actions: {
        interrupt: {
          ActionId: 'aws:ec2:send-spot-instance-interruptions',
          Parameters: { durationBeforeInterruption: 'PT2M' },
          Targets: { SpotInstances: 'SpotInstances' },
        },
      },
      StopConditions: [{ Source: 'none' }],
    });
  });

  it('runs under a role FIS may assume only for experiments of this account', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'fis.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': ENV.account },
              ArnLike: { 'aws:SourceArn': 'arn:aws:fis:eu-west-1:111122223333:experiment/*' },
            },
          }),
        ],
      },
    });
  });

  it('may interrupt only drill-tagged instances of this account and region, and describe instances', () => {
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'InterruptDrillInstances' })]) } },
    });
    const statements = Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      {
        Sid: 'InterruptDrillInstances',
        Effect: 'Allow',
        Action: 'ec2:SendSpotInstanceInterruptions',
        Resource: 'arn:aws:ec2:eu-west-1:111122223333:instance/*',
        Condition: { StringEquals: { 'aws:ResourceTag/spot-responder:drill': 'true' } },
      },
      { Sid: 'FindTargets', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    ]);
  });

  it('names the template in the stack outputs, for `spot-responder drill --stack-name`', () => {
    template.hasOutput('DrillExperimentTemplateId', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('Drill'), 'Id'] } });
  });
});

describe('drill settings', () => {
  it('takes its own tag, instance count, notice and an alarm as the stop condition', () => {
    const app = testApp();
    const stack = new Stack(app, 'Custom', { env: ENV });
    const alarm = cloudwatch.Alarm.fromAlarmArn(stack, 'Errors', 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-5xx');
    new SpotResponder(stack, 'Spot', {
      dashboard: false,
      drill: { tagKey: 'chaos', tagValue: 'spot', instancesPerExperiment: 2, durationBeforeInterruption: Duration.minutes(5), stopAlarm: alarm },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      Targets: { SpotInstances: Match.objectLike({ ResourceTags: { chaos: 'spot' }, SelectionMode: 'COUNT(2)' }) },
      Actions: { interrupt: Match.objectLike({ Parameters: { durationBeforeInterruption: 'PT5M' } }) },
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:web-5xx' }],
    });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['more instances than the quota', { instancesPerExperiment: 6 }, /drill\.instancesPerExperiment/],
    ['a notice shorter than FIS allows', { durationBeforeInterruption: Duration.minutes(1) }, /whole minutes from 2 to 15/],
    ['a notice of part minutes', { durationBeforeInterruption: Duration.seconds(150) }, /whole minutes from 2 to 15/],
    ['a notice longer than FIS allows', { durationBeforeInterruption: Duration.minutes(16) }, /whole minutes from 2 to 15/],
    ['an aws: tag key', { tagKey: 'aws:drill' }, /drill\.tagKey must not start with "aws:"/],
  ])('refuses %s', (_what, drill, message) => {
    const stack = new Stack(testApp(), 'Bad', { env: ENV });
    expect(() => new SpotResponder(stack, 'Spot', { dashboard: false, drill })).toThrow(message);
  });

  it('allows more instances per experiment once the quota is raised (targetLimit)', () => {
    const stack = new Stack(testApp(), 'Raised', { env: ENV });
    new SpotResponder(stack, 'Spot', { dashboard: false, drill: { targetLimit: 20, instancesPerExperiment: 12 } });
    Template.fromStack(stack).hasResourceProperties('AWS::FIS::ExperimentTemplate', {
      Targets: { SpotInstances: Match.objectLike({ SelectionMode: 'COUNT(12)' }) },
    });
  });
});

test('cdk-nag AwsSolutions: no finding on a stack with the drill', () => {
  const { app } = synth({ stopAlarm: undefined });
  app.synth();
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
  expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
});
