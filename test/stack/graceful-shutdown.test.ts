// Graceful shutdown in the construct (lib/graceful-shutdown.ts): the SSM document and what its
// parameters let through, the rule that brings the command's final status back, the responder's
// variables and its ssm:SendCommand permission (act mode only; tagged scope), nothing when off,
// the checks on the prop and the context key.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readSpotResponderContext } from '../../lib/context';
import { shutdownDocumentContent } from '../../lib/graceful-shutdown';
import type { SpotResponderProps } from '../../lib/spot-responder';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { FINAL_COMMAND_STATUSES } from '../../lambda/events/shutdown-command-status';
import { allStatements, testApp } from './helpers';

const ENV = { account: '111122223333', region: 'eu-west-1' };

function synth(responder: SpotResponderProps) {
  const stack = new SpotResponderStack(testApp(), 'Graceful', { env: ENV, responder: { dashboard: false, ...responder } });
  return Template.fromStack(stack);
}

function responderEnv(template: Template): Record<string, unknown> {
  const fns = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { RESPONSE_MODE: Match.anyValue() } } } });
  const [fn] = Object.values(fns);
  return (fn?.Properties.Environment.Variables ?? {}) as Record<string, unknown>;
}

const sendCommand = (template: Template) => allStatements(template).filter((s) => [s.Action].flat().includes('ssm:SendCommand'));

describe('without gracefulShutdown', () => {
  const template = synth({ mode: 'act' });

  it('deploys no document, no status rule, no SSM permission and no variable', () => {
    template.resourceCountIs('AWS::SSM::Document', 0);
    expect(Object.keys(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.ssm'] } } }))).toEqual([]);
    expect(sendCommand(template)).toEqual([]);
    expect(responderEnv(template)).not.toHaveProperty('SHUTDOWN_DOCUMENT');
  });
});

describe("gracefulShutdown: { systemdUnit: 'app.service' }, acting", () => {
  const template = synth({ mode: 'act', gracefulShutdown: { systemdUnit: 'app.service' } });
  const documentRef = { Ref: Match.stringLikeRegexp('GracefulShutdownDocument') };
  const documentId = { Ref: expect.stringMatching(/GracefulShutdownDocument/) };

  it('deploys a Command document (schema 2.2, aws:runShellScript) whose parameters are all pattern-checked', () => {
    template.hasResourceProperties('AWS::SSM::Document', {
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      UpdateMethod: 'Replace',
      Content: Match.objectLike({
        schemaVersion: '2.2',
        mainSteps: [Match.objectLike({ action: 'aws:runShellScript', inputs: Match.objectLike({ timeoutSeconds: '{{ SecondsLeft }}' }) })],
      }),
    });
    const parameters = shutdownDocumentContent().parameters as Record<string, { allowedPattern?: string; allowedValues?: string[] }>;
    for (const [name, parameter] of Object.entries(parameters)) {
      expect([name, Boolean(parameter.allowedPattern ?? parameter.allowedValues)]).toEqual([name, true]);
    }
  });

  it('lets no shell text through its parameters', () => {
    const parameters = shutdownDocumentContent().parameters as Record<string, { allowedPattern?: string }>;
    const accepts = (name: string, value: string) => new RegExp(parameters[name]?.allowedPattern ?? '^$').test(value);
    expect(accepts('Unit', 'app.service')).toBe(true);
    expect(accepts('Unit', '')).toBe(true);
    for (const evil of ["app.service'; reboot; '", 'a$(id).service', 'a b.service', 'app.service\nreboot']) expect(accepts('Unit', evil)).toBe(false);
    expect(accepts('Script', '/opt/app/drain.sh')).toBe(true);
    for (const evil of ["/x'; reboot; '", '/opt/`id`', 'relative.sh', '/a b']) expect(accepts('Script', evil)).toBe(false);
    expect(accepts('SecondsLeft', '115')).toBe(true);
    for (const bad of ['0', '121', '1;', '']) expect(accepts('SecondsLeft', bad)).toBe(false);
  });

  it("routes the document's final invocation statuses to the state-change queue", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ssm'],
        'detail-type': ['EC2 Command Invocation Status-change Notification'],
        detail: { 'document-name': [documentRef], status: [...FINAL_COMMAND_STATUSES] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('StateChangeQueue'), 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it("tells the responder the document's name and the default command", () => {
    expect(responderEnv(template)).toMatchObject({ SHUTDOWN_DOCUMENT: documentId, SHUTDOWN_COMMAND: 'unit:app.service' });
  });

  it('lets the responder send exactly that document, to instances of its account and region', () => {
    expect(sendCommand(template)).toEqual([
      expect.objectContaining({ Sid: 'SendShutdownDocument', Resource: { 'Fn::Join': ['', ['arn:aws:ssm:eu-west-1:111122223333:document/', documentId]] } }),
      expect.objectContaining({ Sid: 'SendShutdownToInstances', Resource: 'arn:aws:ec2:eu-west-1:111122223333:instance/*' }),
    ]);
    expect(sendCommand(template).every((s) => s.Condition === undefined)).toBe(true);
  });
});

describe('gracefulShutdown with permissionScope tagged', () => {
  it('requires the opt-in tag on the instance for SendCommand', () => {
    const template = synth({ mode: 'act', permissionScope: 'tagged', tagKey: 'team-spot', gracefulShutdown: true });
    const toInstances = sendCommand(template).find((s) => s.Sid === 'SendShutdownToInstances');
    expect(toInstances?.Condition).toEqual({ StringEqualsIgnoreCase: { 'ssm:resourceTag/team-spot': ['on', 'true', 'enabled', 'yes'] } });
    expect(responderEnv(template)).toMatchObject({ SHUTDOWN_COMMAND: '' });
  });
});

describe('gracefulShutdown in observe mode', () => {
  it('deploys the document and the rule, and grants no ssm:SendCommand', () => {
    const template = synth({ mode: 'observe', gracefulShutdown: { script: '/opt/app/drain.sh' } });
    template.resourceCountIs('AWS::SSM::Document', 1);
    expect(sendCommand(template)).toEqual([]);
    expect(responderEnv(template)).toMatchObject({ SHUTDOWN_COMMAND: 'script:/opt/app/drain.sh' });
  });
});

describe('checks', () => {
  it.each([
    [{ systemdUnit: 'a.service', script: '/x' }, 'SpotResponderProps.gracefulShutdown: set systemdUnit or script, not both'],
    [{ systemdUnit: 'app; reboot' }, 'SpotResponderProps.gracefulShutdown: "app; reboot" is not a systemd unit name'],
    [{ script: 'drain.sh' }, 'SpotResponderProps.gracefulShutdown: "drain.sh" is not an absolute path'],
  ])('refuses %j', (gracefulShutdown, message) => {
    expect(() => synth({ mode: 'act', gracefulShutdown })).toThrow(message);
  });

  it.each([
    [true, true],
    ['true', true],
    [false, undefined],
    ['unit:app.service', { systemdUnit: 'app.service' }],
    ['script:/opt/app/drain.sh', { script: '/opt/app/drain.sh' }],
  ])('reads context spotResponder:gracefulShutdown=%j', (value, expected) => {
    const app = testApp({ context: { 'spotResponder:gracefulShutdown': value } });
    expect(readSpotResponderContext(app.node).stackProps.responder?.gracefulShutdown).toEqual(expected);
  });

  it('refuses a context value that is no command', () => {
    const app = testApp({ context: { 'spotResponder:gracefulShutdown': 'systemctl stop app' } });
    expect(() => readSpotResponderContext(app.node)).toThrow('context "spotResponder:gracefulShutdown" must be true, false');
  });
});
