// Where and how the app deploys: runtime and memory, the stack id, one stack per region, one
// responder per account and region, and the resource types only these tests (not the emulator
// deploy of `npm run deploy:check`) can show.
import * as fs from 'fs';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { MOTO_SKIPPED_RESOURCE_TYPES } from '../../dev/moto-cloudformation-gaps';
import { readSpotResponderContext } from '../../lib/context';
import { SINGLETON_EXPORT_NAME, SpotResponder } from '../../lib/spot-responder';
import { addSpotResponderStacks } from '../../lib/spot-responder-app';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { SpotResponderConfigError } from '../../lib/validation';
import { testApp } from './helpers';

let defaults: Template;
let sized: Template;

beforeAll(() => {
  const app = testApp();
  const defaultStack = new SpotResponderStack(app, 'Defaults');
  const sizedStack = new SpotResponderStack(app, 'Sized', {
    responder: { runtime: lambda.Runtime.NODEJS_24_X, memorySize: 1024 },
  });
  defaults = Template.fromStack(defaultStack);
  sized = Template.fromStack(sizedStack);
}, 120_000);

/** Our two functions (the Trigger's provider, a CDK function of its own, has no TABLE_NAME). */
const functions = (template: Template) =>
  (Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: Record<string, unknown> }[]).filter(
    (f) => (f.Properties.Environment as { Variables?: Record<string, string> } | undefined)?.Variables?.TABLE_NAME,
  );

describe('resource types the emulator deploy cannot show', () => {
  test.each(MOTO_SKIPPED_RESOURCE_TYPES.filter((g) => g.type !== 'AWS::CDK::Metadata'))(
    '$type is in the template and asserted by a stack test',
    ({ type, coveredBy }) => {
      expect(Object.keys(defaults.findResources(type)).length).toBeGreaterThan(0);
      expect(coveredBy.length).toBeGreaterThan(0);
      for (const file of coveredBy) {
        const source = fs.readFileSync(path.join(__dirname, file), 'utf8');
        expect(source).toMatch(new RegExp(`hasResourceProperties\\('${type.replace(/:/g, ':')}'`));
      }
    },
  );

  test('only CDK metadata goes without a stack test', () => {
    expect(MOTO_SKIPPED_RESOURCE_TYPES.filter((g) => g.coveredBy.length === 0).map((g) => g.type)).toEqual([
      'AWS::CDK::Metadata',
    ]);
  });
});

describe('runtime and memory', () => {
  test('default: Node.js 22 and 512 MB for both functions', () => {
    expect(functions(defaults).map((f) => [f.Properties.Runtime, f.Properties.MemorySize])).toEqual([
      ['nodejs22.x', 512],
      ['nodejs22.x', 512],
    ]);
  });

  test('runtime and memorySize apply to both functions', () => {
    expect(functions(sized).map((f) => [f.Properties.Runtime, f.Properties.MemorySize])).toEqual([
      ['nodejs24.x', 1024],
      ['nodejs24.x', 1024],
    ]);
  });

  test.each([lambda.Runtime.NODEJS_20_X, lambda.Runtime.NODEJS_18_X, lambda.Runtime.PYTHON_3_12])(
    'refuses %s with a clear error',
    (runtime) => {
      const app = testApp();
      expect(() => new SpotResponder(new Stack(app, 'Old'), 'SpotResponder', { runtime })).toThrow(
        new SpotResponderConfigError(
          `SpotResponderProps.runtime must be a Lambda Node.js runtime of version 22 or later (nodejs22.x, nodejs24.x ...), got "${runtime.name}"`,
        ),
      );
    },
  );

  test.each([127, 10241, 512.5])('refuses memorySize %s', (memorySize) => {
    const app = testApp();
    expect(() => new SpotResponder(new Stack(app, 'Mem'), 'SpotResponder', { memorySize })).toThrow(
      /SpotResponderProps.memorySize must be a whole number from 128 to 10240/,
    );
  });
});

describe('one responder per account and region', () => {
  test('the construct exports its table under a fixed name, which CloudFormation keeps unique per account and region', () => {
    const outputs = Object.values(defaults.findOutputs('*')) as { Export?: { Name: string } }[];
    expect(outputs.filter((o) => o.Export?.Name === SINGLETON_EXPORT_NAME)).toHaveLength(1);
  });

  test('a second responder in the same stack fails synth', () => {
    const stack = new Stack(testApp(), 'Twice');
    new SpotResponder(stack, 'First');
    expect(() => new SpotResponder(stack, 'Second')).toThrow(
      /Twice\/Second: Twice\/First already responds in the same stack; one spot-responder per account and region/,
    );
  });

  test('a second responder in another stack of the same account and region fails synth', () => {
    const app = testApp();
    const env = { account: '111111111111', region: 'eu-west-1' };
    new SpotResponderStack(app, 'A', { env });
    expect(() => new SpotResponderStack(app, 'B', { env })).toThrow(/already responds in 111111111111\/eu-west-1/);
  });

  test('other regions, other accounts and environment-agnostic stacks may each have one', () => {
    const app = testApp();
    expect(() => {
      new SpotResponderStack(app, 'A', { env: { account: '111111111111', region: 'eu-west-1' } });
      new SpotResponderStack(app, 'B', { env: { account: '111111111111', region: 'us-east-1' } });
      new SpotResponderStack(app, 'C', { env: { account: '222222222222', region: 'eu-west-1' } });
      new SpotResponderStack(app, 'D');
    }).not.toThrow();
  });
});

describe('the app: stack id and regions from context', () => {
  const build = (context: Record<string, unknown>) => {
    const app = testApp({ context });
    return addSpotResponderStacks(app, readSpotResponderContext(app.node));
  };

  test('default: one environment-agnostic stack named SpotResponder', () => {
    const stacks = build({});
    expect(stacks.map((s) => [s.stackName, s.node.id])).toEqual([['SpotResponder', 'SpotResponder']]);
    expect(stacks.every((s) => s.environment === 'aws://unknown-account/unknown-region')).toBe(true);
  });

  test('spotResponder:stackId names the stack', () => {
    expect(build({ 'spotResponder:stackId': 'SpotResponderProd' }).map((s) => s.stackName)).toEqual(['SpotResponderProd']);
  });

  test('spotResponder:regions: one stack per region, <stackId>-<region>, each accepting its own region', () => {
    const previous = process.env.CDK_DEFAULT_ACCOUNT;
    process.env.CDK_DEFAULT_ACCOUNT = '111111111111';
    try {
      const stacks = build({ 'spotResponder:regions': 'eu-west-1, us-east-1', 'spotResponder:stackId': 'Spot' });
      expect(stacks.map((s) => [s.stackName, s.account, s.region])).toEqual([
        ['Spot-eu-west-1', '111111111111', 'eu-west-1'],
        ['Spot-us-east-1', '111111111111', 'us-east-1'],
      ]);
      const env = Template.fromStack(stacks[1]!).findResources('AWS::Lambda::Function');
      const responder = Object.values(env).find(
        (f) => (f as { Properties: { Environment: { Variables: Record<string, string> } } }).Properties.Environment.Variables.ACCEPTED_REGIONS,
      ) as { Properties: { Environment: { Variables: Record<string, string> } } };
      expect(responder.Properties.Environment.Variables.ACCEPTED_REGIONS).toBe('us-east-1');
    } finally {
      if (previous === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
      else process.env.CDK_DEFAULT_ACCOUNT = previous;
    }
  });

  test.each([
    [{ 'spotResponder:regions': ['eu-west-1', 'eu-west-1'] }, /lists "eu-west-1" twice/],
    [{ 'spotResponder:regions': ['Ireland'] }, /"Ireland" is not a valid AWS region name/],
    [{ 'spotResponder:regions': [] }, /must be a non-empty list of regions/],
    [{ 'spotResponder:stackId': '1st' }, /context "spotResponder:stackId" must be a CloudFormation stack name/],
    [{ 'spotResponder:stackId': 'a_b' }, /must be a CloudFormation stack name/],
    [{ 'spotResponder:runtime': 'nodejs20.x' }, /context "spotResponder:runtime" must be a Lambda Node.js runtime of version 22 or later/],
    [{ 'spotResponder:memorySize': '64' }, /context "spotResponder:memorySize" must be a whole number from 128 to 10240/],
  ])('refuses %j', (context, message) => {
    const app = testApp({ context });
    expect(() => readSpotResponderContext(app.node)).toThrow(message);
  });

  test('spotResponder:runtime and memorySize reach the functions, including runtimes newer than this CDK', () => {
    const [stack] = build({ 'spotResponder:runtime': 'nodejs26.x', 'spotResponder:memorySize': '256' });
    expect(functions(Template.fromStack(stack!)).map((f) => [f.Properties.Runtime, f.Properties.MemorySize])).toEqual([
      ['nodejs26.x', 256],
      ['nodejs26.x', 256],
    ]);
  });
});
