import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CONTEXT_KEYS, readSpotResponderContext } from '../../lib/context';
import { SpotResponderConfigError } from '../../lib/validation';
import { CDK_JSON, testApp } from './helpers';

const read = (context: Record<string, unknown>) => readSpotResponderContext(testApp({ context }).node);

describe('cdk.json', () => {
  test('runs the app with tsx, without notices or CLI telemetry', () => {
    expect(CDK_JSON).toMatchObject({ app: 'npx tsx bin/app.ts', notices: false, context: { 'cli-telemetry': false } });
  });

  test('sets only known spotResponder keys, and they parse to the construct defaults', () => {
    const keys = Object.keys(CDK_JSON.context).filter((k) => k.startsWith('spotResponder:'));
    expect(keys.sort()).toEqual(Object.values(CONTEXT_KEYS).sort());

    const config = read(CDK_JSON.context);
    expect(config.nag).toBe(true);
    expect(config.stackId).toBe('SpotResponder');
    expect(config.regions).toBeUndefined();
    expect(config.stackProps.alarmEmail).toBeUndefined();
    const { indexRefreshInterval, runtime, ...responder } = config.stackProps.responder!;
    expect(indexRefreshInterval?.toMinutes()).toBe(5);
    expect(runtime?.name).toBe('nodejs22.x');
    expect(responder).toEqual({
      mode: 'observe',
      acceptedAccounts: undefined,
      acceptedRegions: undefined,
      autoScalingGroupNames: ['*'],
      targetGroupNames: ['*'],
      rebalanceAction: 'record',
      tagMode: 'opt-out',
      tagKey: 'spot-responder',
      permissionScope: 'names',
      ecsClusters: [],
      indexDescribeCallsPerSecond: 4,
      refreshIndexOnDeploy: true,
      recordRetentionDays: 90,
      logRetention: logs.RetentionDays.ONE_MONTH,
      logLevel: 'INFO',
      removalPolicy: RemovalPolicy.RETAIN,
      memorySize: 512,
      dashboard: true,
    });
  });
});

describe('readSpotResponderContext', () => {
  test('with no context at all, leaves every default to the construct', () => {
    const config = read({});
    expect(config.nag).toBe(true);
    expect(Object.values(config.stackProps.responder!).every((v) => v === undefined)).toBe(true);
  });

  test('reads JSON values as cdk.json holds them', () => {
    const { stackProps, nag } = read({
      'spotResponder:acceptedAccounts': ['111111111111', '222222222222'],
      'spotResponder:acceptedRegions': '*',
      'spotResponder:targetGroupNames': ['web-*'],
      'spotResponder:indexRefreshMinutes': 15,
      'spotResponder:alarmEmail': 'oncall@example.com',
      'spotResponder:removalPolicy': 'destroy',
      'spotResponder:logRetentionDays': 7,
      'spotResponder:rebalanceAction': 'replace',
      'spotResponder:tagMode': 'opt-in',
      'spotResponder:tagKey': 'team:spot',
      'spotResponder:permissionScope': 'tagged',
      'spotResponder:ecsClusters': ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch'],
      'spotResponder:nag': false,
    });
    expect(nag).toBe(false);
    expect(stackProps.alarmEmail).toBe('oncall@example.com');
    expect(stackProps.responder).toMatchObject({
      rebalanceAction: 'replace',
      tagMode: 'opt-in',
      tagKey: 'team:spot',
      permissionScope: 'tagged',
      ecsClusters: ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch'],
      acceptedAccounts: ['111111111111', '222222222222'],
      acceptedRegions: '*',
      targetGroupNames: ['web-*'],
      indexRefreshInterval: Duration.minutes(15),
      removalPolicy: RemovalPolicy.DESTROY,
      logRetention: logs.RetentionDays.ONE_WEEK,
    });
  });

  test('reads the strings `cdk synth -c key=value` passes', () => {
    const { stackProps, nag } = read({
      'spotResponder:acceptedAccounts': '111111111111, 222222222222',
      'spotResponder:autoScalingGroupNames': '["web-*","batch"]',
      'spotResponder:indexRefreshMinutes': '10',
      'spotResponder:recordRetentionDays': '30',
      'spotResponder:refreshIndexOnDeploy': 'false',
      'spotResponder:logLevel': 'debug',
      'spotResponder:rebalanceAction': 'REPLACE',
      'spotResponder:mode': 'ACT',
      'spotResponder:tagMode': ' opt-in ',
      'spotResponder:tagKey': 'Spot Responder',
      'spotResponder:ecsClusters': 'web, batch',
      'spotResponder:nag': 'false',
    });
    expect(nag).toBe(false);
    expect(stackProps.responder).toMatchObject({
      rebalanceAction: 'replace',
      mode: 'act',
      tagMode: 'opt-in',
      tagKey: 'Spot Responder',
      ecsClusters: ['web', 'batch'],
      acceptedAccounts: ['111111111111', '222222222222'],
      autoScalingGroupNames: ['web-*', 'batch'],
      indexRefreshInterval: Duration.minutes(10),
      recordRetentionDays: 30,
      refreshIndexOnDeploy: false,
      logLevel: 'DEBUG',
    });
  });

  test.each([
    ['spotResponder:alarmEmial', 'x@example.com', /unknown context key "spotResponder:alarmEmial"/],
    ['spotResponder:acceptedAccounts', ['12345'], /acceptedAccounts.*not a valid AWS account id/],
    ['spotResponder:acceptedAccounts', [], /acceptedAccounts" must list at least one/],
    ['spotResponder:acceptedRegions', 'mars-1', /acceptedRegions.*not a valid AWS region/],
    ['spotResponder:autoScalingGroupNames', [1, 2], /autoScalingGroupNames" must be a list of strings/],
    ['spotResponder:autoScalingGroupNames', '[not json', /autoScalingGroupNames" must be a list of strings/],
    ['spotResponder:targetGroupNames', ['a_b'], /targetGroupNames.*not a valid target group name/],
    ['spotResponder:indexRefreshMinutes', 0, /indexRefreshMinutes" must be a whole number from 1 to 60, got 0/],
    ['spotResponder:indexRefreshMinutes', 61, /indexRefreshMinutes" must be a whole number from 1 to 60/],
    ['spotResponder:indexRefreshMinutes', 'five', /indexRefreshMinutes" must be a whole number from 1 to 60, got "five"/],
    ['spotResponder:indexRefreshMinutes', 2.5, /indexRefreshMinutes" must be a whole number/],
    ['spotResponder:indexDescribeCallsPerSecond', 11, /indexDescribeCallsPerSecond" must be a whole number from 1 to 10/],
    ['spotResponder:recordRetentionDays', -1, /recordRetentionDays" must be a whole number/],
    ['spotResponder:logRetentionDays', 42, /logRetentionDays" must be one of 1, 3, 5, 7/],
    ['spotResponder:logLevel', 'LOUD', /logLevel" must be one of DEBUG, INFO, WARN, ERROR/],
    ['spotResponder:removalPolicy', 'snapshot', /removalPolicy" must be "retain" or "destroy"/],
    ['spotResponder:alarmEmail', 'not-an-email', /alarmEmail" must be an email address/],
    ['spotResponder:refreshIndexOnDeploy', 'yes', /refreshIndexOnDeploy" must be true or false/],
    ['spotResponder:nag', 1, /nag" must be true or false/],
    ['spotResponder:rebalanceAction', 'terminate', /rebalanceAction" must be one of "record", "replace", got "terminate"/],
    ['spotResponder:rebalanceAction', true, /rebalanceAction" must be a string/],
    ['spotResponder:mode', 'dry-run', /mode" must be one of "observe", "act", got "dry-run"/],
    ['spotResponder:mode', false, /mode" must be a string/],
    ['spotResponder:tagMode', 'optin', /tagMode" must be one of "opt-out", "opt-in", got "optin"/],
    ['spotResponder:permissionScope', 'tags', /permissionScope" must be one of "names", "tagged", got "tags"/],
    ['spotResponder:tagKey', '', /tagKey" must not be empty/],
    ['spotResponder:tagKey', 'k'.repeat(129), /tagKey" must be at most 128 characters, got 129/],
    ['spotResponder:tagKey', 'spot-responder ', /tagKey" must not start or end with whitespace/],
    ['spotResponder:tagKey', 'aws:ec2spot:fleet-request-id', /tagKey" must not start with "aws:"/],
    ['spotResponder:tagKey', ['spot-responder'], /tagKey" must be a string/],
    ['spotResponder:ecsClusters', 'web,my cluster', /ecsClusters.*"my cluster" is not a valid ECS cluster name/],
    ['spotResponder:ecsClusters', ['arn:aws:ecs:eu-west-1:1111:cluster/web'], /ecsClusters.*is not a valid ECS cluster name/],
    ['spotResponder:ecsClusters', 'web,web', /ecsClusters" lists "web" twice/],
    ['spotResponder:ecsClusters', { web: true }, /ecsClusters" must be a list of strings/],
  ])('rejects %s = %j', (key, value, message) => {
    const attempt = () => read({ [key]: value });
    expect(attempt).toThrow(SpotResponderConfigError);
    expect(attempt).toThrow(message);
  });
});

test('bin/app.ts stops with the message, not a stack trace, on bad context', () => {
  const root = path.join(__dirname, '..', '..');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-context-'));
  const result = spawnSync(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bin/app.ts'], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ 'spotResponder:indexRefreshMinutes': 0 }),
      CDK_OUTDIR: outdir,
    },
    timeout: 60_000,
  });
  fs.rmSync(outdir, { recursive: true, force: true });
  expect(result.status).toBe(1);
  expect(result.stderr.trim()).toBe(
    'spot-responder: context "spotResponder:indexRefreshMinutes" must be a whole number from 1 to 60, got 0',
  );
}, 60_000);
