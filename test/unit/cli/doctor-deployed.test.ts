// The doctor reads the deployed responder's scope itself: the stack's ResponderFunctionName
// output, then the function's environment, parsed by the function's own loader. Every branch of
// that lookup (found, not deployed, denied, a variable missing or malformed) and how the flags
// override it, with mocked CloudFormation and Lambda; then runDoctor end to end on a mocked fleet.
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeLifecycleHooksCommand } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { runDoctor, scopeLine } from '../../../cli/doctor';
import { checkedScope, readDeployedConfig, type DeployedLookup } from '../../../cli/doctor/deployed';
import { RESPONDER_ENV, SIGNALS_ENV } from '../../../lambda/contract';

const cfnMock = mockClient(CloudFormationClient);
const lambdaMock = mockClient(LambdaClient);
const clients = { cloudFormation: () => new CloudFormationClient({}), lambda: () => new LambdaClient({}) };
const target = { region: 'eu-west-1' };
const FUNCTION = 'SpotResponder-Responder-ABC';

/** The environment the construct sets (lib/functions.ts), as far as the loader requires. */
const DEPLOYED_ENV: Record<string, string> = {
  [RESPONDER_ENV.tableName]: 'SpotResponder-Table-ABC',
  [RESPONDER_ENV.acceptedAccounts]: '111122223333',
  [RESPONDER_ENV.acceptedRegions]: 'eu-west-1',
  [RESPONDER_ENV.mode]: 'act',
  [RESPONDER_ENV.autoScalingGroupNames]: JSON.stringify(['web-*']),
  [RESPONDER_ENV.targetGroupNames]: JSON.stringify(['web', 'api-*']),
  [SIGNALS_ENV.shutdownDocument]: 'SpotResponder-Shutdown',
};

function deployed(env: Record<string, string> = DEPLOYED_ENV) {
  cfnMock
    .on(DescribeStacksCommand)
    .resolves({
      Stacks: [
        {
          StackName: 'SpotResponder', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(),
          Outputs: [{ OutputKey: 'ResponderFunctionName', OutputValue: FUNCTION }],
        },
      ],
    });
  lambdaMock.on(GetFunctionConfigurationCommand).resolves({ FunctionName: FUNCTION, Environment: { Variables: env } });
}

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });
const without = (name: string) => Object.fromEntries(Object.entries(DEPLOYED_ENV).filter(([k]) => k !== name));

beforeEach(() => {
  cfnMock.reset();
  lambdaMock.reset();
});

describe('readDeployedConfig', () => {
  it('reads the scope, mode and shutdown document from the function the stack names', async () => {
    deployed();
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toEqual({
      status: 'found',
      config: {
        stackName: 'SpotResponder',
        functionName: FUNCTION,
        scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['web', 'api-*'] },
        mode: 'act',
        shutdownDocument: 'SpotResponder-Shutdown',
      },
    });
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'SpotResponder' });
    expect(lambdaMock).toHaveReceivedCommandWith(GetFunctionConfigurationCommand, { FunctionName: FUNCTION });
  });

  it('--stack-name names the stack', async () => {
    deployed();
    await readDeployedConfig(target, 'Blue', clients);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'Blue' });
  });

  it('a scope variable the function lacks is read as the function reads it: every name ("*")', async () => {
    deployed(without(RESPONDER_ENV.autoScalingGroupNames));
    const lookup = await readDeployedConfig(target, undefined, clients);
    expect(lookup).toMatchObject({ status: 'found', config: { scope: { autoScalingGroupNames: ['*'], targetGroupNames: ['web', 'api-*'] } } });
  });

  it('without the shutdown document, graceful shutdown is off', async () => {
    deployed(without(SIGNALS_ENV.shutdownDocument));
    const lookup = await readDeployedConfig(target, undefined, clients);
    expect(lookup).toMatchObject({ status: 'found' });
    expect(lookup).not.toHaveProperty('config.shutdownDocument');
    expect(checkedScope({}, lookup).gracefulShutdown).toBe(false);
  });

  it('a required variable missing is "invalid", naming it: the function fails at cold start', async () => {
    deployed(without(RESPONDER_ENV.tableName));
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toEqual({
      status: 'invalid',
      stackName: 'SpotResponder',
      functionName: FUNCTION,
      problem: `environment variable ${RESPONDER_ENV.tableName} is required`,
    });
  });

  it('a malformed scope variable is "invalid" with the loader\'s own message', async () => {
    deployed({ ...DEPLOYED_ENV, [RESPONDER_ENV.targetGroupNames]: 'web,api' });
    const lookup = await readDeployedConfig(target, undefined, clients);
    expect(lookup).toMatchObject({ status: 'invalid', problem: expect.stringMatching(/TARGET_GROUP_NAMES must be a JSON array/) });
  });

  it('a stack not deployed is not checked, saying where it looked; Lambda is not asked', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id SpotResponder does not exist'));
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toEqual({
      status: 'not-checked',
      reason: 'stack SpotResponder is not deployed in eu-west-1 (not deployed yet, or pass --stack-name / --region)',
    });
    expect(lambdaMock).not.toHaveReceivedCommand(GetFunctionConfigurationCommand);
  });

  it('AccessDenied on DescribeStacks is not checked, naming the permission', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'not authorized to perform: cloudformation:DescribeStacks'));
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toEqual({
      status: 'not-checked',
      reason: 'cloudformation:DescribeStacks on stack SpotResponder was denied (AccessDenied)',
    });
  });

  it('AccessDeniedException on GetFunctionConfiguration is not checked, naming the permission and the function', async () => {
    deployed();
    lambdaMock.on(GetFunctionConfigurationCommand).rejects(awsError('AccessDeniedException'));
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toEqual({
      status: 'not-checked',
      reason: `lambda:GetFunctionConfiguration on ${FUNCTION} was denied (AccessDeniedException)`,
    });
  });

  it('a function the stack names but Lambda does not know, or no output at all, is not checked', async () => {
    deployed();
    lambdaMock.on(GetFunctionConfigurationCommand).rejects(awsError('ResourceNotFoundException', 'Function not found'));
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toMatchObject({
      status: 'not-checked',
      reason: `function ${FUNCTION} of stack SpotResponder does not exist`,
    });
    cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'SpotResponder', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    await expect(readDeployedConfig(target, undefined, clients)).resolves.toMatchObject({
      status: 'not-checked',
      reason: 'stack SpotResponder has no ResponderFunctionName output (deployed by an older version)',
    });
  });

  it('any other AWS error is raised as it is', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('ThrottlingException'));
    await expect(readDeployedConfig(target, undefined, clients)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('on an emulator, only with --stack-name: no call without one', async () => {
    deployed();
    const emulator = { endpointUrl: 'http://127.0.0.1:5000', region: 'us-east-1' };
    await expect(readDeployedConfig(emulator, undefined, clients)).resolves.toMatchObject({ status: 'not-checked' });
    expect(cfnMock).not.toHaveReceivedCommand(DescribeStacksCommand);
    await expect(readDeployedConfig(emulator, 'Local', clients)).resolves.toMatchObject({ status: 'found' });
  });
});

describe('checkedScope', () => {
  const found: DeployedLookup = {
    status: 'found',
    config: {
      stackName: 'SpotResponder',
      functionName: FUNCTION,
      scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['web'] },
      mode: 'act',
      shutdownDocument: 'Doc',
    },
  };

  it('the stack alone', () => {
    expect(checkedScope({}, found)).toMatchObject({
      from: 'stack',
      scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['web'] },
      gracefulShutdown: true,
    });
  });

  it('each flag overrides its own setting; --no-graceful-shutdown turns the SSM check off', () => {
    expect(checkedScope({ targetGroupNames: ['tg-*'], gracefulShutdown: false }, found)).toMatchObject({
      from: 'stack+flags',
      scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['tg-*'] },
      gracefulShutdown: false,
    });
  });

  it('flags without a stack: the list not given is everything, as before; the reason the stack was not read is kept', () => {
    const lookup: DeployedLookup = { status: 'not-checked', reason: 'stack X is not deployed' };
    expect(checkedScope({ autoScalingGroupNames: ['a'] }, lookup)).toEqual({
      from: 'flags',
      scope: { autoScalingGroupNames: ['a'], targetGroupNames: ['*'] },
      gracefulShutdown: false,
      notChecked: 'stack X is not deployed',
    });
  });

  it('nothing at all: no scope check', () => {
    expect(checkedScope({}, { status: 'not-checked', reason: 'r' })).toEqual({ from: 'none', gracefulShutdown: false, notChecked: 'r' });
  });
});

describe('scopeLine', () => {
  it('names the stack, the function and observe mode; or says why nothing was checked', () => {
    expect(
      scopeLine({
        from: 'stack', stackName: 'S', functionName: 'F', mode: 'observe',
        autoScalingGroupNames: ['web-*'], targetGroupNames: ['*'], gracefulShutdown: false,
      }),
    ).toBe('scope: stack S (function F, observe mode: it changes nothing yet): autoScalingGroupNames web-*, targetGroupNames *; graceful shutdown off');
    expect(scopeLine({ from: 'none', gracefulShutdown: false, notChecked: 'stack S is not deployed in eu-west-1' })).toBe(
      'scope: none (not checked); graceful shutdown off\ndeployed scope not checked: stack S is not deployed in eu-west-1',
    );
  });
});

describe('runDoctor with the deployed scope', () => {
  const elbMock = mockClient(ElasticLoadBalancingV2Client);
  const asgMock = mockClient(AutoScalingClient);
  const ec2Mock = mockClient(EC2Client);
  const ssmMock = mockClient(SSMClient);
  const tgArn = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/0123456789abcdef`;

  beforeEach(() => {
    for (const mock of [elbMock, asgMock, ec2Mock, ssmMock]) mock.reset();
    // One Spot group behind two target groups, both draining within the notice: only the scope can find fault.
    elbMock
      .on(DescribeTargetGroupsCommand)
      .resolves({ TargetGroups: [{ TargetGroupName: 'web', TargetGroupArn: tgArn('web') }, { TargetGroupName: 'admin', TargetGroupArn: tgArn('admin') }] })
      .on(DescribeLoadBalancersCommand)
      .resolves({ LoadBalancers: [] })
      .on(DescribeTargetGroupAttributesCommand)
      .resolves({ Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }] });
    asgMock
      .on(DescribeAutoScalingGroupsCommand)
      .resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: 'web-asg', MinSize: 0, MaxSize: 2, DesiredCapacity: 1, DefaultCooldown: 300, HealthCheckType: 'EC2',
            CreatedTime: new Date(), AvailabilityZones: ['eu-west-1a', 'eu-west-1b'], CapacityRebalance: true,
            TargetGroupARNs: [tgArn('web'), tgArn('admin')],
            MixedInstancesPolicy: { LaunchTemplate: { Overrides: [{ InstanceType: 'm5.large' }, { InstanceType: 'm6i.large' }] } },
          },
        ],
      })
      .on(DescribeLifecycleHooksCommand)
      .resolves({ LifecycleHooks: [] });
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0aaaaaaaaaaaaaaa1', InstanceLifecycle: 'spot', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] }] }],
    });
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
  });

  async function doctor(opts: Parameters<typeof runDoctor>[0]) {
    const lines: string[] = [];
    const report = await runDoctor({ callsPerSecond: 1000, region: 'eu-west-1', ...opts }, (l) => lines.push(l), clients);
    return { report, lines };
  }

  it('checks the stack\'s scope and, with its shutdown document, the SSM agents; --json says where the scope came from', async () => {
    deployed();
    const { report, lines } = await doctor({ json: true });
    expect(JSON.parse(lines.join('\n'))).toEqual(report);
    expect(report.scope).toEqual({
      from: 'stack', stackName: 'SpotResponder', functionName: FUNCTION, mode: 'act',
      autoScalingGroupNames: ['web-*'], targetGroupNames: ['web', 'api-*'], gracefulShutdown: true,
    });
    expect(report.findings.map((f) => `${f.kind} ${f.resource}`)).toEqual([
      'target-group-outside-scope admin',
      'instances-without-ssm-agent web-asg',
      'scope-matches-nothing targetGroupNames: api-*',
    ]);
    expect(report.exitCode).toBe(1);
    expect(ssmMock).toHaveReceivedCommand(DescribeInstanceInformationCommand);
  });

  it('flags override the stack: the scope check passes, --no-graceful-shutdown asks SSM nothing', async () => {
    deployed();
    const { report, lines } = await doctor({ json: false, targetGroupNames: ['*'], gracefulShutdown: false });
    expect(report.scope.from).toBe('stack+flags');
    expect(report.findings).toEqual([]);
    expect(ssmMock).not.toHaveReceivedCommand(DescribeInstanceInformationCommand);
    expect(lines[0]).toBe(
      `scope: flags over stack SpotResponder (function ${FUNCTION}): autoScalingGroupNames web-*, targetGroupNames *; graceful shutdown off`,
    );
  });

  it('every setting given as a flag: the stack is not read', async () => {
    const { report } = await doctor({ json: true, autoScalingGroupNames: ['*'], targetGroupNames: ['*'], gracefulShutdown: false });
    expect(report.scope).toMatchObject({ from: 'flags' });
    expect(cfnMock).not.toHaveReceivedCommand(DescribeStacksCommand);
  });

  it('no stack deployed: the preflight runs as before, with one line saying the scope was not checked and why', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id SpotResponder does not exist'));
    const { report, lines } = await doctor({ json: false });
    expect(report.scope).toEqual({
      from: 'none',
      gracefulShutdown: false,
      notChecked: 'stack SpotResponder is not deployed in eu-west-1 (not deployed yet, or pass --stack-name / --region)',
    });
    expect(lines.slice(0, 2)).toEqual([
      'scope: none (not checked); graceful shutdown off',
      'deployed scope not checked: stack SpotResponder is not deployed in eu-west-1 (not deployed yet, or pass --stack-name / --region)',
    ]);
    expect(report.exitCode).toBe(0);
  });

  it('a deployed function whose environment does not load is a finding that loses traffic', async () => {
    deployed(without(RESPONDER_ENV.acceptedAccounts));
    const { report } = await doctor({ json: true });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: 'responder-config-invalid', severity: 'loses-traffic', resourceType: 'function', resource: FUNCTION }),
    );
    expect(report.scope).toMatchObject({ from: 'none', notChecked: expect.stringMatching(/ACCEPTED_ACCOUNTS is required/) });
    expect(report.exitCode).toBe(1);
  });
});
