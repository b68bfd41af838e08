// The construct's `mode`: observe (the default) gives the responder's role no permission that
// could change the fleet and tells the function to plan only; act grants the mutations. A
// deployment that leaves `mode` unset is warned at synth, so an upgrade cannot go quiet unnoticed.
import { Annotations as TemplateAnnotations, Match, Template } from 'aws-cdk-lib/assertions';
import { RESPONDER_ENV } from '../../lambda/contract';
import { MODE_DEFAULTED_WARNING, type SpotResponder, type SpotResponderProps } from '../../lib/spot-responder';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { SpotResponderConfigError } from '../../lib/validation';
import { asArray, statementsOf, testApp } from './helpers';

interface Synthesized {
  stack: SpotResponderStack;
  template: Template;
  responder: SpotResponder;
}

const ECS_CLUSTERS = ['web', 'arn:aws:ecs:eu-west-1:111111111111:cluster/batch'];
let unset: Synthesized;
let observe: Synthesized;
let act: Synthesized;

beforeAll(() => {
  const app = testApp();
  const make = (id: string, responder: Pick<SpotResponderProps, 'mode'>) => {
    const stack = new SpotResponderStack(app, id, { responder: { ecsClusters: ECS_CLUSTERS, ...responder } });
    return { stack, responder: stack.responder };
  };
  const built = {
    unset: make('Unset', {}),
    observe: make('Observe', { mode: 'observe' }),
    act: make('Act', { mode: 'act' }),
  };
  app.synth();
  const done = (b: { stack: SpotResponderStack; responder: SpotResponder }) => ({ ...b, template: Template.fromStack(b.stack) });
  unset = done(built.unset);
  observe = done(built.observe);
  act = done(built.act);
}, 120_000);

/** Every action the responder's role is allowed, whatever statement holds it. */
function responderActions({ template, responder }: Synthesized): string[] {
  return statementsOf(template, responder.responderFunction.role!).flatMap((s) => asArray(s.Action));
}

/** An action that changes the fleet: anything of these services that does not only read. */
function changesFleet(action: string): boolean {
  const [service, name = ''] = action.split(':');
  return ['autoscaling', 'elasticloadbalancing', 'ec2', 'ecs'].includes(service ?? '') && !/^(Describe|List|Get)/.test(name);
}

function responderEnv({ template, stack, responder }: Synthesized): Record<string, unknown> {
  const [fn] = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Role: stack.resolve(responder.responderFunction.role!.roleArn) },
    }),
  );
  return (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
}

describe('observe mode', () => {
  test.each([
    ['left unset', () => unset],
    ['chosen', () => observe],
  ])('(%s): the responder role may not change the fleet: no detach, terminate, deregister or drain', (_, which) => {
    const s = which();
    const actions = responderActions(s);
    expect(actions.filter(changesFleet)).toEqual([]);
    for (const mutation of [
      'autoscaling:DetachInstances',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'elasticloadbalancing:DeregisterTargets',
      'ecs:UpdateContainerInstancesState',
    ]) {
      expect(actions).not.toContain(mutation);
    }
    // It still reads everything the plan needs, and writes its records.
    expect(actions).toEqual(
      expect.arrayContaining([
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
        'ec2:DescribeInstances',
        'ecs:ListContainerInstances',
        'ecs:DescribeContainerInstances',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]),
    );
    expect(responderEnv(s)[RESPONDER_ENV.mode]).toBe('observe');
    expect(s.responder.mode).toBe('observe');
    s.template.hasOutput('ResponseMode', { Value: 'observe' });
  });

  test('left unset, synth warns that the responder only observes, with an id a deployer can acknowledge', () => {
    const warnings = TemplateAnnotations.fromStack(unset.stack).findWarning('*', Match.stringLikeRegexp('only OBSERVES'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.entry.data).toContain(`[ack: ${MODE_DEFAULTED_WARNING}]`);
    expect(warnings[0]?.entry.data).toContain("mode: 'act'");
  });

  test('chosen explicitly (either mode), synth does not warn', () => {
    for (const s of [observe, act]) {
      expect(TemplateAnnotations.fromStack(s.stack).findWarning('*', Match.anyValue())).toEqual([]);
    }
  });
});

describe('act mode', () => {
  test('the responder role may detach, terminate in group, deregister and drain, and the function acts', () => {
    const actions = responderActions(act);
    expect(actions.filter(changesFleet).sort()).toEqual([
      'autoscaling:DetachInstances',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'ecs:UpdateContainerInstancesState',
      'elasticloadbalancing:DeregisterTargets',
    ]);
    expect(responderEnv(act)[RESPONDER_ENV.mode]).toBe('act');
    act.template.hasOutput('ResponseMode', { Value: 'act' });
  });

  test('the two modes differ in the responder role and RESPONSE_MODE only', () => {
    const policies = (s: Synthesized) => Object.keys(s.template.findResources('AWS::IAM::Policy')).length;
    expect(policies(observe)).toBe(policies(act));
    const types = (s: Synthesized) => Object.values(s.template.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type).sort();
    expect(types(observe)).toEqual(types(act));
  });
});

test('a mode that is neither is refused, naming the prop', () => {
  const app = testApp();
  expect(() => new SpotResponderStack(app, 'Bad', { responder: { mode: 'dry-run' as 'act' } })).toThrow(
    new SpotResponderConfigError('SpotResponderProps.mode must be one of "observe", "act", got "dry-run"'),
  );
});
