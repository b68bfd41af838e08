// The preflight rules of `spot-responder doctor`: from what the account looks like (plain facts,
// read by inspect.ts) to findings, each with its fix. Pure, so every rule is tested on its own.
//
// The two-minute notice is the yardstick: whatever has to finish before the instance goes (the
// load balancer's draining, a lifecycle hook) must fit in it, with room for the responder's own
// latency, and whatever should notice a dead instance when no warning came (a health check) must
// do so within it.
import { NOTICE_MS } from '../../lambda/core/model';
import { iamPatternMatches, matchesAny, type ResourceScope } from '../../lambda/core/scope';

/** The notice in seconds (120): EC2 reclaims a Spot instance two minutes after its warning. */
export const NOTICE_SECONDS = NOTICE_MS / 1000;

/**
 * What we recommend for anything that must finish within the notice: 90 s leaves 30 s for the
 * warning's delivery and the responder's own calls (its hot path takes well under 5 s).
 */
export const RECOMMENDED_WITHIN_NOTICE_SECONDS = 90;

/**
 * How bad a finding is. `loses-traffic`: requests will fail during a Spot interruption
 * (`doctor` exits 1). `risk`: fine while every warning arrives on time, not when one comes late
 * or never (they do). `advice`: fewer or cheaper interruptions, no traffic at stake.
 */
export type Severity = 'loses-traffic' | 'risk' | 'advice';

export const SEVERITY_ORDER: readonly Severity[] = ['loses-traffic', 'risk', 'advice'];

/** The kind of each finding, stable for scripts reading `doctor --json`. */
export type FindingKind =
  | 'deregistration-delay-exceeds-notice'
  | 'nlb-connections-outlive-deregistration'
  | 'health-check-slower-than-notice'
  | 'health-check-disabled'
  | 'capacity-rebalancing-off'
  | 'single-instance-type'
  | 'single-availability-zone'
  | 'terminating-hook-outlives-notice'
  | 'group-outside-scope'
  | 'target-group-outside-scope'
  | 'scope-matches-nothing'
  | 'instances-without-ssm-agent'
  | 'responder-config-invalid';

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  /** `target-group` / `auto-scaling-group` / `scope` / `function` (the deployed responder), and its name. */
  resourceType: 'target-group' | 'auto-scaling-group' | 'scope' | 'function';
  resource: string;
  /** What is wrong, with the numbers that make it so. */
  problem: string;
  /** How to fix it: a console setting or an AWS CLI command. */
  fix: string;
}

/** One ELBv2 target group, with the attributes the rules read (DescribeTargetGroupAttributes). */
export interface TargetGroupFacts {
  name: string;
  arn: string;
  /** HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, GENEVE. */
  protocol: string | null;
  /** `application`, `network`, `gateway`; null when no load balancer uses the group yet. */
  loadBalancerType: 'application' | 'network' | 'gateway' | null;
  /** deregistration_delay.timeout_seconds, in s (ELBv2 default 300). */
  deregistrationDelaySeconds: number;
  /** deregistration_delay.connection_termination.enabled (NLB only; default false). */
  connectionTerminationOnDeregistration: boolean;
  healthCheckEnabled: boolean;
  /** In s. */
  healthCheckIntervalSeconds: number;
  unhealthyThresholdCount: number;
}

/** One Auto Scaling group, as far as Spot readiness goes. */
export interface AutoScalingGroupFacts {
  name: string;
  /** The group runs Spot instances now, or its mixed instances policy asks for them. */
  usesSpot: boolean;
  capacityRebalance: boolean;
  /** Instance types it can launch (mixed instances overrides, else its launch template's one type). */
  instanceTypes: string[];
  /** Instance types chosen by attributes (InstanceRequirements): as diverse as the attributes allow. */
  attributeBasedSelection: boolean;
  availabilityZones: string[];
  targetGroupArns: string[];
  /** EC2_INSTANCE_TERMINATING hooks and their heartbeat timeout, in s. */
  terminatingHooks: { name: string; heartbeatTimeoutSeconds: number }[];
}

/**
 * The responder's scope (its `autoScalingGroupNames` / `targetGroupNames`), as IAM name
 * patterns: `*` matches any run of characters, `?` one. Absent: not checked.
 */
export type ScopeFacts = ResourceScope;

/**
 * With graceful shutdown on: the Spot instances of one Auto Scaling group, and those of them whose
 * SSM agent is not online (absent from DescribeInstanceInformation, or PingStatus ConnectionLost /
 * Inactive): SSM refuses to send them the shutdown command.
 */
export interface SsmCoverageFacts {
  group: string;
  spotInstanceIds: string[];
  withoutAgent: string[];
}

export interface FleetFacts {
  targetGroups: TargetGroupFacts[];
  autoScalingGroups: AutoScalingGroupFacts[];
  scope?: ScopeFacts;
  /** Present when graceful shutdown is on (deployed, or `--graceful-shutdown`). */
  ssmCoverage?: SsmCoverageFacts[];
  /** The deployed responder's environment does not load (lambda/config.ts raised ConfigError). */
  deployedConfigProblem?: { stackName: string; functionName: string; problem: string };
}

/** Every finding for this account, most severe first, then by resource name. */
export function diagnose(facts: FleetFacts): Finding[] {
  const spotGroups = facts.autoScalingGroups.filter((g) => g.usesSpot);
  const spotTargetGroupArns = new Set(spotGroups.flatMap((g) => g.targetGroupArns));
  const findings = [
    ...facts.targetGroups.flatMap((tg) => targetGroupFindings(tg, spotTargetGroupArns.has(tg.arn))),
    ...spotGroups.flatMap(groupFindings),
    ...(facts.scope ? scopeFindings(facts.scope, spotGroups, facts.targetGroups, spotTargetGroupArns) : []),
    ...(facts.ssmCoverage ?? []).flatMap(ssmFindings),
    ...(facts.deployedConfigProblem ? [configFinding(facts.deployedConfigProblem)] : []),
  ];
  return findings.sort(
    (a, b) =>
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || a.resource.localeCompare(b.resource),
  );
}

/**
 * A target group of a Spot group loses requests when it keeps a target past the notice; any
 * other group only might (when Spot instances are registered there by other means).
 */
function targetGroupFindings(tg: TargetGroupFacts, holdsSpot: boolean): Finding[] {
  const findings: Finding[] = [];
  const where = { resourceType: 'target-group' as const, resource: tg.name };
  const severity: Severity = holdsSpot ? 'loses-traffic' : 'risk';
  const scopeNote = holdsSpot ? '' : ' (if Spot instances are registered in it)';
  if (tg.deregistrationDelaySeconds > NOTICE_SECONDS) {
    findings.push({
      kind: 'deregistration-delay-exceeds-notice',
      severity,
      ...where,
      problem:
        `deregistration delay is ${tg.deregistrationDelaySeconds} s, longer than the ${NOTICE_SECONDS} s notice: ` +
        `requests still draining when EC2 reclaims the instance fail${scopeNote}`,
      fix: modifyAttribute(tg.arn, 'deregistration_delay.timeout_seconds', String(RECOMMENDED_WITHIN_NOTICE_SECONDS)),
    });
  }
  if (tg.loadBalancerType === 'network' && !tg.connectionTerminationOnDeregistration) {
    findings.push({
      kind: 'nlb-connections-outlive-deregistration',
      severity,
      ...where,
      problem:
        'a Network Load Balancer keeps established connections to a deregistered target open until they ' +
        `close or the instance dies; long-lived connections are cut by the reclaim, not drained${scopeNote}`,
      fix: modifyAttribute(tg.arn, 'deregistration_delay.connection_termination.enabled', 'true'),
    });
  }
  if (!tg.healthCheckEnabled) {
    findings.push({
      kind: 'health-check-disabled',
      severity: 'risk',
      ...where,
      problem: 'health checks are off: if a warning comes late or never, the load balancer keeps sending to the dead instance',
      fix: `aws elbv2 modify-target-group --target-group-arn ${tg.arn} --health-check-enabled`,
    });
  } else {
    const secondsToNotice = tg.healthCheckIntervalSeconds * tg.unhealthyThresholdCount;
    if (secondsToNotice > NOTICE_SECONDS) {
      findings.push({
        kind: 'health-check-slower-than-notice',
        severity: 'risk',
        ...where,
        problem:
          `a dead target is noticed after ${tg.healthCheckIntervalSeconds} s × ${tg.unhealthyThresholdCount} = ` +
          `${secondsToNotice} s, longer than the ${NOTICE_SECONDS} s notice: a missed warning means that long of failed requests`,
        fix:
          `aws elbv2 modify-target-group --target-group-arn ${tg.arn} ` +
          '--health-check-interval-seconds 10 --unhealthy-threshold-count 3',
      });
    }
  }
  return findings;
}

function groupFindings(group: AutoScalingGroupFacts): Finding[] {
  const findings: Finding[] = [];
  const where = { resourceType: 'auto-scaling-group' as const, resource: group.name };
  if (!group.capacityRebalance) {
    findings.push({
      kind: 'capacity-rebalancing-off',
      severity: 'advice',
      ...where,
      problem:
        'Capacity Rebalancing is off: Auto Scaling waits for the two-minute warning instead of launching a ' +
        'replacement on the earlier rebalance recommendation',
      fix: `aws autoscaling update-auto-scaling-group --auto-scaling-group-name ${group.name} --capacity-rebalance`,
    });
  }
  if (!group.attributeBasedSelection && group.instanceTypes.length === 1) {
    findings.push({
      kind: 'single-instance-type',
      severity: 'advice',
      ...where,
      problem:
        `one instance type (${group.instanceTypes[0]}): EC2 reclaims capacity by pool, so the whole group ` +
        'is interrupted in one wave and its replacements compete for the same scarce pool',
      fix: 'use a mixed instances policy with several interchangeable types (attribute-based selection) and the price-capacity-optimized allocation strategy',
    });
  }
  if (group.availabilityZones.length === 1) {
    findings.push({
      kind: 'single-availability-zone',
      severity: 'advice',
      ...where,
      problem: `one Availability Zone (${group.availabilityZones[0]}): every pool of the group shares one zone's capacity`,
      fix: 'add subnets in more Availability Zones to the group (VPCZoneIdentifier)',
    });
  }
  for (const hook of group.terminatingHooks) {
    if (hook.heartbeatTimeoutSeconds > NOTICE_SECONDS) {
      findings.push({
        kind: 'terminating-hook-outlives-notice',
        severity: 'risk',
        ...where,
        problem:
          `terminating lifecycle hook ${hook.name} waits up to ${hook.heartbeatTimeoutSeconds} s, but EC2 ` +
          `reclaims a Spot instance ${NOTICE_SECONDS} s after its warning: the hook's work is cut short`,
        fix:
          `aws autoscaling put-lifecycle-hook --auto-scaling-group-name ${group.name} --lifecycle-hook-name ${hook.name} ` +
          `--lifecycle-transition autoscaling:EC2_INSTANCE_TERMINATING --heartbeat-timeout ${RECOMMENDED_WITHIN_NOTICE_SECONDS}`,
      });
    }
  }
  return findings;
}

function scopeFindings(
  scope: ScopeFacts,
  spotGroups: readonly AutoScalingGroupFacts[],
  targetGroups: readonly TargetGroupFacts[],
  spotTargetGroupArns: ReadonlySet<string>,
): Finding[] {
  const findings: Finding[] = [];
  const inGroupScope = (name: string) => matchesAny(scope.autoScalingGroupNames, name);
  const inTargetGroupScope = (name: string) => matchesAny(scope.targetGroupNames, name);
  for (const group of spotGroups) {
    if (!inGroupScope(group.name)) {
      findings.push({
        kind: 'group-outside-scope',
        severity: 'risk',
        resourceType: 'auto-scaling-group',
        resource: group.name,
        problem: 'runs Spot instances but is outside the responder\'s autoScalingGroupNames: its instances are not detached early',
        fix: 'add the group (or a pattern matching it) to the responder\'s autoScalingGroupNames, or leave it out on purpose',
      });
    }
  }
  for (const tg of targetGroups) {
    if (spotTargetGroupArns.has(tg.arn) && !inTargetGroupScope(tg.name)) {
      findings.push({
        kind: 'target-group-outside-scope',
        severity: 'loses-traffic',
        resourceType: 'target-group',
        resource: tg.name,
        problem: 'holds a Spot group\'s instances but is outside the responder\'s targetGroupNames: interrupted instances stay in it until they die',
        fix: 'add the target group (or a pattern matching it) to the responder\'s targetGroupNames',
      });
    }
  }
  const names = { autoScalingGroupNames: spotGroups.map((g) => g.name), targetGroupNames: targetGroups.map((t) => t.name) };
  for (const key of ['autoScalingGroupNames', 'targetGroupNames'] as const) {
    for (const pattern of scope[key]) {
      if (!names[key].some((name) => iamPatternMatches(pattern, name))) {
        findings.push({
          kind: 'scope-matches-nothing',
          severity: 'advice',
          resourceType: 'scope',
          resource: `${key}: ${pattern}`,
          problem: `the pattern matches no ${key === 'autoScalingGroupNames' ? 'Spot Auto Scaling group' : 'target group'} in this region`,
          fix: 'check the spelling, or drop the pattern',
        });
      }
    }
  }
  return findings;
}

/** How many instance ids a finding names before it says "and N more". */
const NAMED_INSTANCES = 5;

/**
 * Graceful shutdown sends an SSM command; an instance without an online agent never gets it
 * (its warning is still handled, the record says "not managed"), so its application is killed
 * without a chance to save its state. A risk, not lost traffic: deregistration does not need SSM.
 */
function ssmFindings(coverage: SsmCoverageFacts): Finding[] {
  if (coverage.withoutAgent.length === 0) return [];
  const named = coverage.withoutAgent.slice(0, NAMED_INSTANCES).join(', ');
  const more = coverage.withoutAgent.length > NAMED_INSTANCES ? ` and ${coverage.withoutAgent.length - NAMED_INSTANCES} more` : '';
  return [
    {
      kind: 'instances-without-ssm-agent',
      severity: 'risk',
      resourceType: 'auto-scaling-group',
      resource: coverage.group,
      problem:
        `${coverage.withoutAgent.length} of ${coverage.spotInstanceIds.length} Spot instances have no SSM agent online (${named}${more}): ` +
        'graceful shutdown cannot reach them, so their application is stopped by the reclaim without a chance to save its state',
      fix:
        'run the SSM agent (preinstalled on Amazon Linux 2/2023 and recent Ubuntu AMIs), give the launch template an instance ' +
        'profile with AmazonSSMManagedInstanceCore, and let the instances reach the ssm, ssmmessages and ec2messages endpoints',
    },
  ];
}

/**
 * The function's loader throws at cold start, so every warning fails (and is retried into the
 * dead-letter queue) without one deregistration: as bad as no responder at all.
 */
function configFinding(problem: NonNullable<FleetFacts['deployedConfigProblem']>): Finding {
  return {
    kind: 'responder-config-invalid',
    severity: 'loses-traffic',
    resourceType: 'function',
    resource: problem.functionName,
    problem: `the deployed responder (stack ${problem.stackName}) cannot start: ${problem.problem}; every warning fails until it is fixed`,
    fix: `redeploy the stack (npx cdk deploy ${problem.stackName}) instead of editing the function's environment by hand`,
  };
}

function modifyAttribute(arn: string, key: string, value: string): string {
  return `aws elbv2 modify-target-group-attributes --target-group-arn ${arn} --attributes Key=${key},Value=${value}`;
}
