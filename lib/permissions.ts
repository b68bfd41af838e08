// What each function's role may do, beside the reason for every cdk-nag finding that remains.
// Each role gets only the actions its function calls, on the narrowest resources IAM allows.
import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { ResponseMode } from '../lambda/contract';
import { autoScalingGroupResourceName, targetGroupResourceName } from '../lambda/core/scope';
import { acknowledge, wildcardResourceFinding } from './nag';
import { TAG_ON_VALUES } from '../lambda/core/plan';
import { INDEX_REFRESHER_TABLE_ACTIONS, RESPONDER_TABLE_ACTIONS, grantRecordsReadWrite } from './table';
import { ecsClusterName, isClusterArn } from './validation';

export interface ResponderPermissionsProps {
  readonly table: dynamodb.Table;
  readonly tableEncryptionKey?: kms.IKey;
  /** Auto Scaling group names (IAM wildcards allowed) in the stack's account and region. */
  readonly autoScalingGroupNames: readonly string[];
  /** ELBv2 target group names (IAM wildcards allowed) in the stack's account and region. */
  readonly targetGroupNames: readonly string[];
  /** ECS cluster names or ARNs; none grants no ECS permission at all. */
  readonly ecsClusters: readonly string[];
  /**
   * 'tagged': the mutating Auto Scaling and ELBv2 actions also require the group or target
   * group to carry `tagKey` with an opt-in value (IAM `aws:ResourceTag`); 'names': the names alone.
   */
  readonly permissionScope: PermissionScope;
  /** The tag key tagMode reads, and 'tagged' requires. */
  readonly tagKey: string;
  /** observe: only the reads and the table; no statement that could change the fleet. */
  readonly mode: ResponseMode;
}

/** How far the responder's mutating permissions reach: by name (default) or by name and opt-in tag. */
export const PERMISSION_SCOPES = ['names', 'tagged'] as const;
export type PermissionScope = (typeof PERMISSION_SCOPES)[number];

/**
 * The responder's role: describe the fleet, detach from (or terminate in) the named Auto
 * Scaling groups, deregister from the named target groups, drain in the named ECS clusters,
 * and read and write the records table. In observe mode only the reads and the table: the
 * mutating statements are left out, so IAM refuses a mutation even if the code tried one.
 */
export function grantResponderPermissions(scope: Construct, role: iam.IRole, props: ResponderPermissionsProps): void {
  const stack = Stack.of(scope);
  const act = props.mode === 'act';
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DescribeFleet',
      actions: [
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeAutoScalingGroups',
        // Tells whether a group has EC2_INSTANCE_TERMINATING hooks that a detach would skip.
        'autoscaling:DescribeLifecycleHooks',
        'ec2:DescribeInstances',
      ],
      resources: ['*'],
    }),
  );
  const groupArns = props.autoScalingGroupNames.map((name) =>
    stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: autoScalingGroupResourceName(name),
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  );
  // With permissionScope 'tagged', IAM itself refuses to touch a group or target group that
  // does not opt in, whatever the event or the code says.
  // https://docs.aws.amazon.com/autoscaling/ec2/userguide/control-access-using-iam.html#policy-auto-scaling-resources
  // https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-permissions.html#elb-resource-tags
  const conditions =
    props.permissionScope === 'tagged'
      ? { StringEqualsIgnoreCase: { [`aws:ResourceTag/${props.tagKey}`]: [...TAG_ON_VALUES] } }
      : undefined;
  if (act) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DetachInstances', actions: ['autoscaling:DetachInstances'], resources: groupArns, conditions }),
    );
    // The path taken instead of a detach when the group has terminating lifecycle hooks: the
    // group still launches a replacement, and the user's hooks run. Same groups, never "*".
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TerminateInstanceInGroup',
        actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: groupArns,
        conditions,
      }),
    );
  }
  const targetGroupArns = props.targetGroupNames.map((name) =>
    stack.formatArn({
      service: 'elasticloadbalancing',
      resource: 'targetgroup',
      resourceName: targetGroupResourceName(name),
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }),
  );
  if (act) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeregisterTargets',
        actions: ['elasticloadbalancing:DeregisterTargets'],
        resources: targetGroupArns,
        conditions,
      }),
    );
  }
  const containerInstanceArns = grantEcsDraining(stack, role, props.ecsClusters, act);
  grantRecordsReadWrite(props.table, role, props.tableEncryptionKey, RESPONDER_TABLE_ACTIONS);

  acknowledge(
    role,
    'autoscaling:DescribeAutoScalingInstances, autoscaling:DescribeAutoScalingGroups, ' +
      'autoscaling:DescribeLifecycleHooks and ec2:DescribeInstances do not support resource-level ' +
      'permissions, and neither do the X-Ray PutTraceSegments/PutTelemetryRecords that active ' +
      'tracing adds; they are the only actions on "*".',
    'AwsSolutions-IAM5[Resource::*]',
  );
  if (act) {
    acknowledge(
      role,
      'DetachInstances and TerminateInstanceInAutoScalingGroup are limited to Auto Scaling group ARNs ' +
        'of this account and region. The group id in such an ARN is a generated UUID, so it must be a ' +
        'wildcard; the group name is the autoScalingGroupNames prop ("*" unless the deployer narrows it).',
      ...groupArns.map((arn) => wildcardResourceFinding(scope, arn)),
    );
  }
  if (containerInstanceArns.length > 0) {
    acknowledge(
      role,
      'DescribeContainerInstances and UpdateContainerInstancesState are limited to the container ' +
        'instances of the configured ecsClusters (resource ARN and ecs:cluster condition). The last ' +
        'ARN segment is the id ECS gives each container instance when it registers, so it must be a wildcard.',
      ...containerInstanceArns.map((arn) => wildcardResourceFinding(scope, arn)),
    );
  }
  if (act) {
    acknowledge(
      role,
      'DeregisterTargets is limited to target group ARNs of this account and region. The last ARN ' +
        'segment is a generated id, so it must be a wildcard; the name is the targetGroupNames prop ' +
        '("*" unless the deployer narrows it).',
      ...targetGroupArns.map((arn) => wildcardResourceFinding(scope, arn)),
    );
  }
}

export interface IndexRefresherPermissionsProps {
  readonly table: dynamodb.Table;
  readonly tableEncryptionKey?: kms.IKey;
}

/** The index refresher's role: describe target groups and their targets, read and write the records table. */
export function grantIndexRefresherPermissions(role: iam.IRole, props: IndexRefresherPermissionsProps): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DescribeTargets',
      actions: [
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'ec2:DescribeNetworkInterfaces',
        // The group facts the index keeps beside the registrations (refresher).
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeLifecycleHooks',
      ],
      resources: ['*'],
    }),
  );
  grantRecordsReadWrite(props.table, role, props.tableEncryptionKey, INDEX_REFRESHER_TABLE_ACTIONS);
  acknowledge(
    role,
    'elasticloadbalancing:DescribeTargetGroups, elasticloadbalancing:DescribeTargetHealth, ' +
      'ec2:DescribeNetworkInterfaces, autoscaling:DescribeAutoScalingGroups and ' +
      'autoscaling:DescribeLifecycleHooks do not support resource-level permissions, and neither do the ' +
      'X-Ray PutTraceSegments/PutTelemetryRecords that active tracing adds; they are the only ' +
      'actions on "*".',
    'AwsSolutions-IAM5[Resource::*]',
  );
}

/**
 * ECS draining, on the configured clusters only; nothing at all without clusters. As the
 * Service Authorization Reference documents: ListContainerInstances acts on the `cluster`
 * resource type; DescribeContainerInstances and UpdateContainerInstancesState act on the
 * `container-instance` type (`container-instance/<cluster name>/<id>`) and support the
 * `ecs:cluster` condition key. Both scopes are used for those two: the ARN covers the long
 * ARN format, the only one ECS issues now, and the condition is the check AWS documents for
 * these actions whatever the format (it is also what CDK's own ECS drain hook relies on).
 * The adapter must therefore always name the cluster in those calls. Without `drain` (observe
 * mode), UpdateContainerInstancesState is left out.
 * @returns the wildcard container-instance ARNs, for their nag acknowledgement
 */
function grantEcsDraining(stack: Stack, role: iam.IRole, clusters: readonly string[], drain: boolean): string[] {
  if (clusters.length === 0) return [];
  const clusterArns = clusters.map((cluster) =>
    isClusterArn(cluster) ? cluster : stack.formatArn({ service: 'ecs', resource: 'cluster', resourceName: cluster }),
  );
  const containerInstanceArns = clusters.map((cluster) => {
    if (!isClusterArn(cluster)) {
      return stack.formatArn({ service: 'ecs', resource: 'container-instance', resourceName: `${cluster}/*` });
    }
    const arn = Arn.split(cluster, ArnFormat.SLASH_RESOURCE_NAME);
    return Arn.format({
      ...arn,
      resource: 'container-instance',
      resourceName: `${ecsClusterName(cluster)}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ListContainerInstances',
      actions: ['ecs:ListContainerInstances'],
      resources: clusterArns,
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DrainContainerInstances',
      // Observe mode finds the container instance (to plan its drain) but may not drain it.
      actions: ['ecs:DescribeContainerInstances', ...(drain ? ['ecs:UpdateContainerInstancesState'] : [])],
      resources: containerInstanceArns,
      conditions: { ArnEquals: { 'ecs:cluster': clusterArns } },
    }),
  );
  return containerInstanceArns;
}
