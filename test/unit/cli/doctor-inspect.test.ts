// The doctor's reads: what it asks AWS (only Describe* calls), and how it turns the answers into
// facts — defaults for absent attributes, NLBs recognised, Spot found by instance or by policy,
// hooks read only where a warning can come.
import 'aws-sdk-client-mock-jest';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { inspectFleet } from '../../../cli/doctor/inspect';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const asgMock = mockClient(AutoScalingClient);
const ec2Mock = mockClient(EC2Client);
const clients = () => ({ elbv2: new ElasticLoadBalancingV2Client({}), autoScaling: new AutoScalingClient({}), ec2: new EC2Client({}) });

const tgArn = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/0123456789abcdef`;
const nlbArn = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/edge/1';
const albArn = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/1';

beforeEach(() => {
  elbMock.reset();
  asgMock.reset();
  ec2Mock.reset();
  elbMock
    .on(DescribeTargetGroupsCommand)
    .resolves({
      TargetGroups: [
        { TargetGroupName: 'web', TargetGroupArn: tgArn('web'), Protocol: 'HTTP', LoadBalancerArns: [albArn], HealthCheckIntervalSeconds: 15, UnhealthyThresholdCount: 4 },
        { TargetGroupName: 'edge', TargetGroupArn: tgArn('edge'), Protocol: 'TCP', LoadBalancerArns: [nlbArn], HealthCheckEnabled: false },
      ],
    })
    .on(DescribeLoadBalancersCommand)
    .resolves({ LoadBalancers: [{ LoadBalancerArn: albArn, Type: 'application' }, { LoadBalancerArn: nlbArn, Type: 'network' }] })
    .on(DescribeTargetGroupAttributesCommand, { TargetGroupArn: tgArn('web') })
    .resolves({ Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '45' }] })
    .on(DescribeTargetGroupAttributesCommand, { TargetGroupArn: tgArn('edge') })
    .resolves({ Attributes: [{ Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' }] });
  asgMock
    .on(DescribeAutoScalingGroupsCommand)
    .resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'web-asg',
          MinSize: 0, MaxSize: 3, DesiredCapacity: 2, DefaultCooldown: 300, HealthCheckType: 'EC2', CreatedTime: new Date(),
          AvailabilityZones: ['eu-west-1a'],
          TargetGroupARNs: [tgArn('web')],
          TrafficSources: [{ Identifier: tgArn('edge'), Type: 'elbv2' }],
          Instances: [
            { InstanceId: 'i-0aaaaaaaaaaaaaaa1', InstanceType: 'm5.large', AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false },
          ],
        },
        {
          AutoScalingGroupName: 'mixed-asg',
          MinSize: 0, MaxSize: 3, DesiredCapacity: 0, DefaultCooldown: 300, HealthCheckType: 'EC2', CreatedTime: new Date(),
          AvailabilityZones: ['eu-west-1a', 'eu-west-1b'],
          CapacityRebalance: true,
          MixedInstancesPolicy: {
            LaunchTemplate: { Overrides: [{ InstanceType: 'c5.large' }, { InstanceType: 'c6i.large' }] },
            InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 0 },
          },
        },
        {
          AutoScalingGroupName: 'on-demand-asg',
          MinSize: 0, MaxSize: 1, DesiredCapacity: 0, DefaultCooldown: 300, HealthCheckType: 'EC2', CreatedTime: new Date(),
          AvailabilityZones: ['eu-west-1a'],
        },
      ],
    })
    .on(DescribeLifecycleHooksCommand)
    .resolves({ LifecycleHooks: [] })
    .on(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'web-asg' })
    .resolves({
      LifecycleHooks: [
        { LifecycleHookName: 'flush', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING', HeartbeatTimeout: 600 },
        { LifecycleHookName: 'warm', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', HeartbeatTimeout: 900 },
      ],
    });
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          { InstanceId: 'i-0aaaaaaaaaaaaaaa1', InstanceLifecycle: 'spot', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] },
          // An On-Demand instance of a group: does not make the group a Spot group
          { InstanceId: 'i-0aaaaaaaaaaaaaaa2', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'on-demand-asg' }] },
        ],
      },
    ],
  });
});

describe('inspectFleet', () => {
  it('reads target groups with their attributes, filling ELBv2 defaults for what is absent', async () => {
    const { facts } = await inspectFleet(clients(), { callsPerSecond: 1000 });
    expect(facts.targetGroups).toEqual([
      {
        name: 'web', arn: tgArn('web'), protocol: 'HTTP', loadBalancerType: 'application',
        deregistrationDelaySeconds: 45, connectionTerminationOnDeregistration: false,
        healthCheckEnabled: true, healthCheckIntervalSeconds: 15, unhealthyThresholdCount: 4,
      },
      {
        name: 'edge', arn: tgArn('edge'), protocol: 'TCP', loadBalancerType: 'network',
        deregistrationDelaySeconds: 300, connectionTerminationOnDeregistration: true,
        healthCheckEnabled: false, healthCheckIntervalSeconds: 30, unhealthyThresholdCount: 2,
      },
    ]);
  });

  it('finds Spot groups by their running Spot instances or their mixed instances policy, and reads hooks only there', async () => {
    const { facts } = await inspectFleet(clients(), { callsPerSecond: 1000 });
    expect(facts.autoScalingGroups).toEqual([
      {
        name: 'web-asg', usesSpot: true, capacityRebalance: false, instanceTypes: ['m5.large'], attributeBasedSelection: false,
        availabilityZones: ['eu-west-1a'], targetGroupArns: [tgArn('web'), tgArn('edge')],
        terminatingHooks: [{ name: 'flush', heartbeatTimeoutSeconds: 600 }],
      },
      {
        name: 'mixed-asg', usesSpot: true, capacityRebalance: true, instanceTypes: ['c5.large', 'c6i.large'], attributeBasedSelection: false,
        availabilityZones: ['eu-west-1a', 'eu-west-1b'], targetGroupArns: [], terminatingHooks: [],
      },
      {
        name: 'on-demand-asg', usesSpot: false, capacityRebalance: false, instanceTypes: [], attributeBasedSelection: false,
        availabilityZones: ['eu-west-1a'], targetGroupArns: [], terminatingHooks: [],
      },
    ]);
    expect(asgMock).toHaveReceivedCommandTimes(DescribeLifecycleHooksCommand, 2);
    expect(asgMock).not.toHaveReceivedCommandWith(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'on-demand-asg' });
  });

  it('asks EC2 only for group members that still exist, and counts every call it made', async () => {
    const { stats } = await inspectFleet(clients(), { callsPerSecond: 1000 });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'tag-key', Values: ['aws:autoscaling:groupName'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    // 1 DescribeTargetGroups + 1 DescribeLoadBalancers + 2 attributes; 1 groups page + 2 hooks; 1 instances page
    expect(stats).toEqual({ elbv2Calls: 4, autoScalingCalls: 3, ec2Calls: 1, ssmCalls: 0 });
  });

  it('passes the scope through to the facts', async () => {
    const scope = { autoScalingGroupNames: ['web-*'], targetGroupNames: ['*'] };
    const { facts } = await inspectFleet(clients(), { callsPerSecond: 1000, scope });
    expect(facts.scope).toEqual(scope);
  });

  it('an AWS error (AccessDenied) propagates: a preflight never reports a partial account as clean', async () => {
    elbMock.on(DescribeTargetGroupAttributesCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    await expect(inspectFleet(clients(), { callsPerSecond: 1000 })).rejects.toThrow('not authorized');
  });
});

describe('with graceful shutdown on', () => {
  const ssmMock = mockClient(SSMClient);
  beforeEach(() => {
    ssmMock.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-0aaaaaaaaaaaaaaa1', InstanceLifecycle: 'spot', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] },
            { InstanceId: 'i-0aaaaaaaaaaaaaaa3', InstanceLifecycle: 'spot', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] },
            { InstanceId: 'i-0aaaaaaaaaaaaaaa4', InstanceLifecycle: 'spot', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'web-asg' }] },
            { InstanceId: 'i-0aaaaaaaaaaaaaaa2', Tags: [{ Key: 'aws:autoscaling:groupName', Value: 'on-demand-asg' }] },
          ],
        },
      ],
    });
    ssmMock.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: 'i-0aaaaaaaaaaaaaaa1', PingStatus: 'Online' },
        { InstanceId: 'i-0aaaaaaaaaaaaaaa3', PingStatus: 'ConnectionLost' },
      ],
    });
  });

  it("asks SSM about the Spot instances only, and reports each group's instances without an online agent", async () => {
    const { facts, stats } = await inspectFleet({ ...clients(), ssm: new SSMClient({}) }, { callsPerSecond: 1000, gracefulShutdown: true });
    expect(ssmMock).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, {
      Filters: [{ Key: 'InstanceIds', Values: ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa3', 'i-0aaaaaaaaaaaaaaa4'] }],
    });
    expect(facts.ssmCoverage).toEqual([
      { group: 'web-asg', spotInstanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa3', 'i-0aaaaaaaaaaaaaaa4'], withoutAgent: ['i-0aaaaaaaaaaaaaaa3', 'i-0aaaaaaaaaaaaaaa4'] },
    ]);
    expect(stats.ssmCalls).toBe(1);
  });

  it('makes no SSM call unless told graceful shutdown is on', async () => {
    const { facts } = await inspectFleet({ ...clients(), ssm: new SSMClient({}) }, { callsPerSecond: 1000 });
    expect(ssmMock).not.toHaveReceivedAnyCommand();
    expect(facts.ssmCoverage).toBeUndefined();
  });

  it('an AccessDenied from SSM propagates (the doctor needs ssm:DescribeInstanceInformation)', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).rejects(Object.assign(new Error('not authorized to perform ssm:DescribeInstanceInformation'), { name: 'AccessDeniedException' }));
    await expect(inspectFleet({ ...clients(), ssm: new SSMClient({}) }, { callsPerSecond: 1000, gracefulShutdown: true })).rejects.toThrow(
      'ssm:DescribeInstanceInformation',
    );
  });
});
