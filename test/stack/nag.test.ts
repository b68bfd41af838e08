// cdk-nag 3 is a policy-validation plugin, not an Aspect: it reports violations instead of
// adding annotations, and reads acknowledgements from `Validations.of(...).acknowledge()`.
// So the check here is the plugin's own report on the synthesized app, which includes
// warnings as well as errors.
import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations as TemplateAnnotations, Match } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { MODE_DEFAULTED_WARNING, SpotResponder } from '../../lib/spot-responder';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { testApp } from './helpers';

let app: ReturnType<typeof testApp>;
let stacks: Stack[];

// Defaults has no ECS clusters (and observes), Everything has two and acts, Observing has two and
// observes: nag must be clean with and without ECS, in both modes; both of the last two deploy
// the graceful-shutdown document.
beforeAll(() => {
  app = testApp();
  const defaults = new SpotResponderStack(app, 'Defaults');
  // The warning that mode is unset is meant for deployers; acknowledged as a deployer would.
  Annotations.of(defaults).acknowledgeWarning(MODE_DEFAULTED_WARNING, 'observe mode is what this stack wants');
  const everything = new SpotResponderStack(app, 'Everything', {
    alarmEmail: 'oncall@example.com',
    responder: {
      mode: 'act',
      autoScalingGroupNames: ['web-*', 'batch'],
      targetGroupNames: ['web-tg', 'api-?'],
      rebalanceAction: 'replace',
      tagMode: 'opt-in',
      permissionScope: 'tagged',
      // Both spellings, so both kinds of container-instance ARN are checked.
      ecsClusters: ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch'],
      indexRefreshInterval: Duration.minutes(1),
      refreshIndexOnDeploy: false,
      gracefulShutdown: { systemdUnit: 'app.service' },
    },
  });
  const observing = new SpotResponderStack(app, 'Observing', {
    responder: { mode: 'observe', ecsClusters: ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch'], gracefulShutdown: true },
  });
  const withKey = new Stack(app, 'WithKey');
  new SpotResponder(withKey, 'SpotResponder', {
    mode: 'act',
    tableEncryptionKey: new kms.Key(withKey, 'TableKey', { enableKeyRotation: true }),
  });
  stacks = [defaults, everything, observing, withKey];
  app.synth();
}, 120_000);

test('AwsSolutions reports no errors and no warnings', () => {
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
  expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  expect(report.success).toBe(true);
});

test('the CDK itself reports no errors and no unacknowledged warnings', () => {
  for (const stack of stacks) {
    expect(TemplateAnnotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    expect(TemplateAnnotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  }
});

test('every acknowledgement gives a reason', () => {
  const acknowledgements = allAcknowledgements(app);
  expect(acknowledgements.length).toBeGreaterThan(0);
  for (const { id, reason } of acknowledgements) {
    expect({ id, reason: reason.length >= 60 }).toEqual({ id, reason: true });
  }
});

test('the check does find what is not acknowledged', () => {
  const other = testApp();
  new sqs.Queue(new Stack(other, 'Plain'), 'Queue', { encryption: sqs.QueueEncryption.SQS_MANAGED });
  other.synth();
  const rules = new AwsSolutionsChecks().validateScope(other).violations.map((v) => v.ruleName);
  expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
});

function allAcknowledgements(root: IConstruct): { id: string; reason: string }[] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ id, reason })));
}
