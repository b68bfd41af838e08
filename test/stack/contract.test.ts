// The construct and the functions share one contract (lambda/contract.ts): each function's
// environment holds exactly the contract's variables, and its config loader reads them back.
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadIndexRefresherConfig, loadResponderConfig } from '../../lambda/config';
import { DEFAULT_PACING } from '../../lambda/aws/pacing';
import { INDEX_REFRESHER_ENV, POWERTOOLS_ENV, RESPONDER_ENV } from '../../lambda/contract';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { testApp } from './helpers';

let stack: SpotResponderStack;
let template: Template;

beforeAll(() => {
  const app = testApp();
  stack = new SpotResponderStack(app, 'Contract', {
    responder: {
      acceptedAccounts: ['111111111111'],
      acceptedRegions: '*',
      mode: 'act',
      rebalanceAction: 'replace',
      tagMode: 'opt-in',
      tagKey: 'team/spot',
      ecsClusters: ['web'],
      autoScalingGroupNames: ['web-*', 'batch'],
      targetGroupNames: ['web-?'],
      recordRetentionDays: 30,
      indexRefreshInterval: Duration.minutes(10),
      indexDescribeCallsPerSecond: 2,
    },
  });
  template = Template.fromStack(stack);
});

const DEPLOYED_QUEUES = 'arn:aws:sqs:us-east-1:111111111111:warnings,arn:aws:sqs:us-east-1:111111111111:state-changes';

/** The function's variables, with the tokens (table name, queue ARNs) as a deploy would resolve them. */
function environmentOf(functionRoleArn: string): Record<string, string> {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Role: stack.resolve(functionRoleArn) } }));
  const variables = (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment
    .Variables;
  const deployed = (name: string) => (name === RESPONDER_ENV.acceptedQueueArns ? DEPLOYED_QUEUES : 'deployed-table');
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : deployed(name)]),
  );
}

// NODE_OPTIONS belongs to the Node.js runtime, not to our contract.
const contractNames = (names: object) => [...Object.values(names), ...Object.values(POWERTOOLS_ENV), 'NODE_OPTIONS'].sort();

test("the responder's environment holds exactly the contract's variables, and its loader reads them", () => {
  const env = environmentOf(stack.responder.responderFunction.role!.roleArn);
  expect(Object.keys(env).sort()).toEqual([...new Set(contractNames(RESPONDER_ENV))]);
  expect(loadResponderConfig(env)).toEqual({
    tableName: 'deployed-table',
    acceptedAccounts: ['111111111111'],
    acceptedRegions: '*',
    recordRetentionDays: 30,
    mode: 'act',
    rebalanceAction: 'replace',
    tagPolicy: { mode: 'opt-in', key: 'team/spot' },
    ecsClusters: ['web'],
    scope: { autoScalingGroupNames: ['web-*', 'batch'], targetGroupNames: ['web-?'] },
    apiPacing: DEFAULT_PACING,
    // The refresher's interval: without it the responder judged entries on the 5-minute default.
    indexRefreshMinutes: 10,
    acceptedSources: { queueArns: DEPLOYED_QUEUES.split(',') },
  });
});

test('issue 9.9: the responder answers exactly its two queues: ACCEPTED_QUEUE_ARNS joins their ARNs', () => {
  const [fn] = Object.values(
    template.findResources('AWS::Lambda::Function', { Properties: { Role: stack.resolve(stack.responder.responderFunction.role!.roleArn) } }),
  );
  const variables = (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
  expect(variables[RESPONDER_ENV.acceptedQueueArns]).toEqual({
    'Fn::Join': [',', [stack.resolve(stack.responder.warningBuffer.queue.queueArn), stack.resolve(stack.responder.stateChangeBuffer.queue.queueArn)]],
  });
});

test("the index refresher's environment holds exactly the contract's variables, and its loader reads them", () => {
  const env = environmentOf(stack.responder.indexRefresherFunction.role!.roleArn);
  expect(Object.keys(env).sort()).toEqual([...new Set(contractNames(INDEX_REFRESHER_ENV))]);
  expect(loadIndexRefresherConfig(env)).toEqual({
    tableName: 'deployed-table',
    refreshIntervalMinutes: 10,
    describeCallsPerSecond: 2,
  });
});
