import 'aws-sdk-client-mock-jest';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { only } from '../../support/items';
import { AutoScalingAdapter } from '../../../lambda/aws/auto-scaling';

const asgMock = mockClient(AutoScalingClient);
const INSTANCE_ID = 'i-0123456789abcdef0';
const GROUP = 'web-asg';
const TG_A = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web-a/0123456789abcdef';
const TG_B = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web-b/fedcba9876543210';

function asgError(name: string, message: string, httpStatusCode = 400): AutoScalingServiceException {
  return new AutoScalingServiceException({ name, $fault: 'client', message, $metadata: { httpStatusCode } });
}

describe('AutoScalingAdapter', () => {
  beforeEach(() => {
    asgMock.reset();
    asgMock.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
  });

  describe('describeMembership', () => {
    it('returns the group and lifecycle state of the instance', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingInstancesCommand).resolves({
        AutoScalingInstances: [
          {
            InstanceId: INSTANCE_ID,
            AutoScalingGroupName: GROUP,
            LifecycleState: 'InService',
            AvailabilityZone: 'eu-west-1a',
            HealthStatus: 'HEALTHY',
            ProtectedFromScaleIn: false,
          },
        ],
      });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const membership = await only(adapter.describeMemberships([INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(asgMock).toHaveReceivedCommandWith(DescribeAutoScalingInstancesCommand, { InstanceIds: [INSTANCE_ID] });
      expect(membership).toEqual({ groupName: GROUP, lifecycleState: 'InService' });
    });

    it('returns null when the instance belongs to no group', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [] });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act / Assess
      await expect(only(adapter.describeMemberships([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
    });
  });

  describe('describeGroup', () => {
    it('returns target groups (legacy list and elbv2 traffic sources, once each), capacity and tags', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: GROUP,
            MinSize: 1,
            MaxSize: 10,
            DesiredCapacity: 4,
            DefaultCooldown: 300,
            AvailabilityZones: ['eu-west-1a'],
            HealthCheckType: 'ELB',
            CreatedTime: new Date('2024-01-01T00:00:00Z'),
            TargetGroupARNs: [TG_A],
            TrafficSources: [
              { Identifier: TG_A, Type: 'elbv2' },
              { Identifier: TG_B, Type: 'elbv2' },
              { Identifier: 'my-classic-lb', Type: 'elb' },
            ],
            CapacityRebalance: true,
            SuspendedProcesses: [
              { ProcessName: 'Launch', SuspensionReason: 'User suspended at 2026-11-21T04:00:00Z' },
              { ProcessName: 'AddToLoadBalancer' },
            ],
            Tags: [{ Key: 'env', Value: 'prod', ResourceId: GROUP, ResourceType: 'auto-scaling-group', PropagateAtLaunch: true }],
          },
        ],
      });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const group = await only(adapter.describeGroups([GROUP]), GROUP);

      // Assess
      expect(asgMock).toHaveReceivedCommandWith(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: [GROUP] });
      expect(group).toEqual({
        groupName: GROUP,
        targetGroupArns: [TG_A, TG_B],
        instanceIds: [],
        terminatingHooks: [],
        desiredCapacity: 4,
        capacityRebalance: true,
        suspendedProcesses: ['Launch', 'AddToLoadBalancer'],
        tags: { env: 'prod' },
      });
    });

    it('defaults CapacityRebalance to false and target groups to none', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: GROUP,
            MinSize: 0,
            MaxSize: 2,
            DesiredCapacity: 1,
            DefaultCooldown: 300,
            AvailabilityZones: [],
            HealthCheckType: 'EC2',
            CreatedTime: new Date('2024-01-01T00:00:00Z'),
          },
        ],
      });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const group = await only(adapter.describeGroups([GROUP]), GROUP);

      // Assess
      expect(group).toEqual({
        groupName: GROUP,
        targetGroupArns: [],
        instanceIds: [],
        terminatingHooks: [],
        desiredCapacity: 1,
        capacityRebalance: false,
        suspendedProcesses: [],
        tags: {},
      });
    });

    it('returns null when the group does not exist', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act / Assess
      await expect(only(adapter.describeGroups([GROUP]), GROUP)).resolves.toBeNull();
    });
  });

  describe('detachWithReplacement', () => {
    it('detaches without decrementing the desired capacity, so the group launches a replacement', async () => {
      // Prepare
      asgMock.on(DetachInstancesCommand).resolves({ Activities: [] });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const result = await only(adapter.detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(result).toBe('ok');
      expect(asgMock).toHaveReceivedCommandWith(DetachInstancesCommand, {
        AutoScalingGroupName: GROUP,
        InstanceIds: [INSTANCE_ID],
        ShouldDecrementDesiredCapacity: false,
      });
    });

    it.each([
      [`The instance ${INSTANCE_ID} is not in InService or Standby.`, 'not-detachable'],
      [`The instance ${INSTANCE_ID} is not in InService.`, 'not-detachable'],
      [`The instance ${INSTANCE_ID} is not part of Auto Scaling group ${GROUP}.`, 'not-in-group'],
      [`the instance ${INSTANCE_ID} is not part of the AutoScaling group ${GROUP}`, 'not-in-group'],
    ])('reports ValidationError "%s" on the first attempt as %s', async (message, expected) => {
      // Prepare
      asgMock.on(DetachInstancesCommand).rejects(asgError('ValidationError', message));
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const result = await only(adapter.detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(result).toBe(expected);
    });

    it('issue 9.5: a detach whose lost response the SDK retried, and that finds the instance gone from the group, was done', async () => {
      // Prepare: the SDK's retry (attempt 2) of our DetachInstances is refused with "not part of".
      const refusal = asgError('ValidationError', `The instance ${INSTANCE_ID} is not part of Auto Scaling group ${GROUP}.`);
      refusal.$metadata.attempts = 2;
      asgMock.on(DetachInstancesCommand).rejects(refusal);
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act
      const result = await only(adapter.detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(result).toBe('ok-on-retry');
    });

    it('issue 9.5: "not in InService" stays a refusal even on a retry (the instance is still in the group)', async () => {
      const refusal = asgError('ValidationError', `The instance ${INSTANCE_ID} is not in InService or Standby.`);
      refusal.$metadata.attempts = 3;
      asgMock.on(DetachInstancesCommand).rejects(refusal);
      const result = await only(new AutoScalingAdapter(new AutoScalingClient({})).detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID);
      expect(result).toBe('not-detachable');
    });

    it('rethrows a ValidationError about anything else', async () => {
      // Prepare
      asgMock.on(DetachInstancesCommand).rejects(asgError('ValidationError', `AutoScalingGroup name not found - ${GROUP}`));
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act / Assess
      await expect(only(adapter.detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID)).rejects.toMatchObject({ name: 'ValidationError' });
    });

    it('rethrows other errors', async () => {
      // Prepare
      asgMock
        .on(DetachInstancesCommand)
        .rejects(asgError('ResourceContention', 'You already have a pending update to an Auto Scaling resource', 500));
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));

      // Act / Assess
      await expect(only(adapter.detachWithReplacement(GROUP, [INSTANCE_ID]), INSTANCE_ID)).rejects.toMatchObject({ name: 'ResourceContention' });
    });
  });

  describe('groupInstanceIds', () => {
    it('reads only the group, not its hooks, and lists its instances', async () => {
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: GROUP,
            MinSize: 1,
            MaxSize: 3,
            DesiredCapacity: 1,
            DefaultCooldown: 300,
            AvailabilityZones: ['eu-west-1a'],
            HealthCheckType: 'EC2',
            CreatedTime: new Date(),
            Instances: [{ InstanceId: INSTANCE_ID, AvailabilityZone: 'eu-west-1a', LifecycleState: 'Pending', HealthStatus: 'Healthy', ProtectedFromScaleIn: false }],
          },
        ],
      });
      const ids = await new AutoScalingAdapter(new AutoScalingClient({})).groupInstanceIds(GROUP);
      expect(ids).toEqual([INSTANCE_ID]);
      expect(asgMock).not.toHaveReceivedCommand(DescribeLifecycleHooksCommand);
    });

    it('is null for a group that is gone', async () => {
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
      expect(await new AutoScalingAdapter(new AutoScalingClient({})).groupInstanceIds(GROUP)).toBeNull();
    });
  });

  describe('lifecycle hooks and terminate-in-group', () => {
    it('lists only EC2_INSTANCE_TERMINATING hooks, read beside the group, and the group\'s instances', async () => {
      // Prepare
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [
          {
            AutoScalingGroupName: GROUP,
            MinSize: 1,
            MaxSize: 3,
            DesiredCapacity: 2,
            DefaultCooldown: 300,
            AvailabilityZones: ['eu-west-1a'],
            HealthCheckType: 'EC2',
            CreatedTime: new Date(),
            Instances: [
              { InstanceId: INSTANCE_ID, AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false },
              { InstanceId: 'i-0fedcba9876543210', AvailabilityZone: 'eu-west-1a', LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false },
            ],
          },
        ],
      });
      asgMock.on(DescribeLifecycleHooksCommand).resolves({
        LifecycleHooks: [
          { LifecycleHookName: 'drain-app', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
          { LifecycleHookName: 'warm-up', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' },
        ],
      });
      const adapter = new AutoScalingAdapter(new AutoScalingClient({}));
      // Act
      const group = await only(adapter.describeGroups([GROUP]), GROUP);
      // Assess
      expect(asgMock).toHaveReceivedCommandWith(DescribeLifecycleHooksCommand, { AutoScalingGroupName: GROUP });
      expect(group).toMatchObject({ terminatingHooks: ['drain-app'], instanceIds: [INSTANCE_ID, 'i-0fedcba9876543210'] });
    });

    it('terminates in the group without decrementing, so a replacement launches and the hook runs', async () => {
      asgMock.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
      const result = await new AutoScalingAdapter(new AutoScalingClient({})).terminateWithReplacement(INSTANCE_ID);
      expect(result).toBe('ok');
      expect(asgMock).toHaveReceivedCommandWith(TerminateInstanceInAutoScalingGroupCommand, {
        InstanceId: INSTANCE_ID,
        ShouldDecrementDesiredCapacity: false,
      });
    });

    it('reports not-in-group when no group manages the instance any more', async () => {
      asgMock
        .on(TerminateInstanceInAutoScalingGroupCommand)
        .rejects(asgError('ValidationError', `Instance Id not found - No managed instance found for instance ID: ${INSTANCE_ID}`));
      const result = await new AutoScalingAdapter(new AutoScalingClient({})).terminateWithReplacement(INSTANCE_ID);
      expect(result).toBe('not-in-group');
    });

    it('rethrows any other refusal', async () => {
      asgMock.on(TerminateInstanceInAutoScalingGroupCommand).rejects(asgError('AccessDenied', 'not allowed', 403));
      await expect(new AutoScalingAdapter(new AutoScalingClient({})).terminateWithReplacement(INSTANCE_ID)).rejects.toThrow('not allowed');
    });
  });
});
