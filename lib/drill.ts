// The drill: an AWS FIS experiment template that sends real Spot interruption notices to
// instances carrying a drill tag, so the whole path (EC2 -> EventBridge -> responder -> record)
// is rehearsed on the real fleet. Opt-in (SpotResponderProps.drill); `spot-responder drill`
// starts it and scores the response from the records.
//
// FIS action aws:ec2:send-spot-instance-interruptions (resource type aws:ec2:spot-instance,
// parameter durationBeforeInterruption PT2M..PT15M, permissions ec2:SendSpotInstanceInterruptions
// and ec2:DescribeInstances): https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
// Quota "Target SpotInstances for aws:ec2:send-spot-instance-interruptions" (L-F3F4B54A): 5
// per experiment by default, adjustable: https://docs.aws.amazon.com/fis/latest/userguide/fis-quotas.html
import { ArnFormat, Stack, Token, type Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DRILL_DEFAULTS, FIS_SPOT_TARGETS_PER_EXPERIMENT } from './defaults';
import { acknowledge, wildcardResourceFinding } from './nag';
import { SpotResponderConfigError, checkIntegerInRange, checkTagKey } from './validation';

export interface SpotDrillProps {
  /**
   * Tag key of the instances the drill may interrupt (running Spot instances carrying
   * `tagKey=tagValue`). Not `aws:`-prefixed.
   * @default 'spot-responder:drill'
   */
  readonly tagKey?: string;
  /** @default 'true' */
  readonly tagValue?: string;
  /**
   * Instances one experiment interrupts, chosen at random among the tagged ones (FIS
   * selection mode COUNT(n)). At most `targetLimit`.
   * @default 5, FIS's default per-experiment quota
   */
  readonly instancesPerExperiment?: number;
  /**
   * FIS's per-experiment quota for Spot instance targets in this account, if you raised it.
   * @default 5
   */
  readonly targetLimit?: number;
  /**
   * Time between the rebalance recommendation FIS sends at once and the interruption notice,
   * whole minutes from 2 to 15.
   * @default 2 minutes
   */
  readonly durationBeforeInterruption?: Duration;
  /**
   * An alarm that stops the experiment when it goes off (for example your error-rate alarm).
   * @default - none: the experiment runs to the end
   */
  readonly stopAlarm?: cloudwatch.IAlarm;
}

/** The drill's settings after defaults and checks. */
export interface ResolvedDrillProps {
  tagKey: string;
  tagValue: string;
  instancesPerExperiment: number;
  durationBeforeInterruptionMinutes: number;
  stopAlarm?: cloudwatch.IAlarm;
}

/** Applies DRILL_DEFAULTS and checks each value; throws SpotResponderConfigError naming the prop. */
export function resolveDrillProps(props: SpotDrillProps): ResolvedDrillProps {
  const tagKey = props.tagKey ?? DRILL_DEFAULTS.tagKey;
  const tagValue = props.tagValue ?? DRILL_DEFAULTS.tagValue;
  const targetLimit = props.targetLimit ?? FIS_SPOT_TARGETS_PER_EXPERIMENT;
  const instancesPerExperiment = props.instancesPerExperiment ?? Math.min(DRILL_DEFAULTS.instancesPerExperiment, targetLimit);
  const duration = props.durationBeforeInterruption ?? DRILL_DEFAULTS.durationBeforeInterruption;
  checkTagKey('SpotResponderProps.drill.tagKey', tagKey);
  if (!Token.isUnresolved(tagValue) && (tagValue.length > 256 || tagValue !== tagValue.trim())) {
    throw new SpotResponderConfigError(`SpotResponderProps.drill.tagValue must be at most 256 characters without surrounding whitespace, got ${JSON.stringify(tagValue)}`);
  }
  checkIntegerInRange('SpotResponderProps.drill.targetLimit', targetLimit, 1, 1000);
  checkIntegerInRange('SpotResponderProps.drill.instancesPerExperiment', instancesPerExperiment, 1, targetLimit);
  const minutes = duration.toMinutes({ integral: false });
  if (!Number.isInteger(minutes) || minutes < 2 || minutes > 15) {
    throw new SpotResponderConfigError(
      `SpotResponderProps.drill.durationBeforeInterruption must be whole minutes from 2 to 15 (FIS), got ${duration.toHumanString()}`,
    );
  }
  return { tagKey, tagValue, instancesPerExperiment, durationBeforeInterruptionMinutes: minutes, ...(props.stopAlarm ? { stopAlarm: props.stopAlarm } : {}) };
}

/**
 * The experiment template and its role. The role may send interruptions only to instances of
 * this account and region that carry the drill tag (aws:ResourceTag condition), and describe
 * instances (which has no resource-level permissions); FIS may assume it only for experiments
 * of this account (aws:SourceAccount, aws:SourceArn: the confused-deputy guard FIS documents).
 */
export class SpotDrill extends Construct {
  public readonly experimentTemplate: fis.CfnExperimentTemplate;
  public readonly role: iam.Role;
  public readonly settings: ResolvedDrillProps;

  constructor(scope: Construct, id: string, props: SpotDrillProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    this.settings = resolveDrillProps(props);
    const s = this.settings;

    this.role = new iam.Role(this, 'ExperimentRole', {
      description: 'spot-responder drill: lets AWS FIS send Spot interruption notices to drill-tagged instances',
      assumedBy: new iam.ServicePrincipal('fis.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({ service: 'fis', resource: 'experiment', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
          },
        },
      }),
    });
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InterruptDrillInstances',
        actions: ['ec2:SendSpotInstanceInterruptions'],
        resources: [instances],
        conditions: { StringEquals: { [`aws:ResourceTag/${s.tagKey}`]: s.tagValue } },
      }),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'FindTargets', actions: ['ec2:DescribeInstances'], resources: ['*'] }));
    acknowledge(
      this.role,
      'ec2:DescribeInstances has no resource-level permissions (FIS resolves the tagged targets with it); ' +
        'SendSpotInstanceInterruptions is limited to instances of this account and region carrying the drill tag, ' +
        'by an aws:ResourceTag condition: the instance id in the ARN cannot be known at deploy time.',
      'AwsSolutions-IAM5[Resource::*]',
      wildcardResourceFinding(this, instances),
    );

    this.experimentTemplate = new fis.CfnExperimentTemplate(this, 'ExperimentTemplate', {
      description: `spot-responder drill: Spot interruption notices to up to ${s.instancesPerExperiment} running instances tagged ${s.tagKey}=${s.tagValue}`,
      roleArn: this.role.roleArn,
      targets: {
        SpotInstances: {
          resourceType: 'aws:ec2:spot-instance',
          resourceTags: { [s.tagKey]: s.tagValue },
          filters: [{ path: 'State.Name', values: ['running'] }],
          selectionMode: `COUNT(${s.instancesPerExperiment})`,
        },
      },
      actions: {
        interrupt: {
          actionId: 'aws:ec2:send-spot-instance-interruptions',
          description: 'Spot interruption notice, then the interruption',
          parameters: { durationBeforeInterruption: `PT${s.durationBeforeInterruptionMinutes}M` },
          targets: { SpotInstances: 'SpotInstances' },
        },
      },
      stopConditions: s.stopAlarm
        ? [{ source: 'aws:cloudwatch:alarm', value: s.stopAlarm.alarmArn }]
        : [{ source: 'none' }],
      tags: { Name: 'spot-responder-drill' },
    });
  }

  /** The template's id (EXT...), what StartExperiment takes. */
  get experimentTemplateId(): string {
    return this.experimentTemplate.attrId;
  }
}
