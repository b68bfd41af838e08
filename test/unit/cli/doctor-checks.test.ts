// The preflight rules, one at a time: each test takes a healthy fleet, changes one thing, and
// expects exactly the finding that thing deserves.
import {
  diagnose,
  type AutoScalingGroupFacts,
  type FleetFacts,
  type TargetGroupFacts,
} from '../../../cli/doctor/checks';

const tgArn = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/0123456789abcdef`;

function targetGroup(name: string, changes: Partial<TargetGroupFacts> = {}): TargetGroupFacts {
  return {
    name,
    arn: tgArn(name),
    protocol: 'HTTP',
    loadBalancerType: 'application',
    deregistrationDelaySeconds: 90,
    connectionTerminationOnDeregistration: false,
    healthCheckEnabled: true,
    healthCheckIntervalSeconds: 10,
    unhealthyThresholdCount: 3,
    ...changes,
  };
}

function spotGroup(name: string, changes: Partial<AutoScalingGroupFacts> = {}): AutoScalingGroupFacts {
  return {
    name,
    usesSpot: true,
    capacityRebalance: true,
    instanceTypes: ['m5.large', 'm6i.large', 'm5a.large'],
    attributeBasedSelection: false,
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    targetGroupArns: [tgArn('web')],
    terminatingHooks: [],
    ...changes,
  };
}

function healthyFleet(): FleetFacts {
  return { targetGroups: [targetGroup('web')], autoScalingGroups: [spotGroup('web-asg')] };
}

const kinds = (facts: FleetFacts) => diagnose(facts).map((f) => `${f.severity} ${f.kind} ${f.resource}`);

describe('diagnose', () => {
  it('finds nothing in a fleet that fits the notice', () => {
    expect(diagnose(healthyFleet())).toEqual([]);
  });

  it('a Spot group\'s target group whose deregistration delay outlives the notice loses traffic (the ELBv2 default 300 s)', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { deregistrationDelaySeconds: 300 })];
    const [finding] = diagnose(facts);
    expect(finding).toMatchObject({ kind: 'deregistration-delay-exceeds-notice', severity: 'loses-traffic', resource: 'web' });
    expect(finding?.problem).toContain('300 s');
    expect(finding?.fix).toBe(
      `aws elbv2 modify-target-group-attributes --target-group-arn ${tgArn('web')} ` +
        '--attributes Key=deregistration_delay.timeout_seconds,Value=90',
    );
  });

  it('120 s exactly fits the notice; 121 s does not', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { deregistrationDelaySeconds: 120 })];
    expect(diagnose(facts)).toEqual([]);
    facts.targetGroups = [targetGroup('web', { deregistrationDelaySeconds: 121 })];
    expect(kinds(facts)).toEqual(['loses-traffic deregistration-delay-exceeds-notice web']);
  });

  it('the same delay on a target group no Spot group uses is only a risk', () => {
    const facts = healthyFleet();
    facts.targetGroups.push(targetGroup('batch', { deregistrationDelaySeconds: 300 }));
    expect(kinds(facts)).toEqual(['risk deregistration-delay-exceeds-notice batch']);
  });

  it('a Network Load Balancer group without connection termination on deregistration loses traffic', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { protocol: 'TCP', loadBalancerType: 'network' })];
    expect(kinds(facts)).toEqual(['loses-traffic nlb-connections-outlive-deregistration web']);
    facts.targetGroups = [targetGroup('web', { protocol: 'TCP', loadBalancerType: 'network', connectionTerminationOnDeregistration: true })];
    expect(diagnose(facts)).toEqual([]);
  });

  it('an Application Load Balancer group is never asked for connection termination', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { loadBalancerType: 'application', connectionTerminationOnDeregistration: false })];
    expect(diagnose(facts)).toEqual([]);
  });

  it('a health check slower than the notice (30 s × 5 = 150 s) is a risk, with the arithmetic in the problem', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { healthCheckIntervalSeconds: 30, unhealthyThresholdCount: 5 })];
    const [finding] = diagnose(facts);
    expect(finding).toMatchObject({ kind: 'health-check-slower-than-notice', severity: 'risk' });
    expect(finding?.problem).toContain('30 s × 5 = 150 s');
  });

  it('a disabled health check is a risk', () => {
    const facts = healthyFleet();
    facts.targetGroups = [targetGroup('web', { healthCheckEnabled: false, healthCheckIntervalSeconds: 300, unhealthyThresholdCount: 10 })];
    expect(kinds(facts)).toEqual(['risk health-check-disabled web']);
  });

  it('a Spot group without Capacity Rebalancing gets advice', () => {
    const facts = healthyFleet();
    facts.autoScalingGroups = [spotGroup('web-asg', { capacityRebalance: false })];
    expect(kinds(facts)).toEqual(['advice capacity-rebalancing-off web-asg']);
  });

  it('one instance type or one Availability Zone gets advice; attribute-based selection is diverse enough', () => {
    const facts = healthyFleet();
    facts.autoScalingGroups = [spotGroup('web-asg', { instanceTypes: ['m5.large'], availabilityZones: ['eu-west-1a'] })];
    expect(kinds(facts)).toEqual(['advice single-instance-type web-asg', 'advice single-availability-zone web-asg']);
    facts.autoScalingGroups = [spotGroup('web-asg', { instanceTypes: [], attributeBasedSelection: true })];
    expect(diagnose(facts)).toEqual([]);
  });

  it('a terminating hook that waits longer than the notice is a risk; one within it is fine', () => {
    const facts = healthyFleet();
    facts.autoScalingGroups = [
      spotGroup('web-asg', {
        terminatingHooks: [
          { name: 'drain-logs', heartbeatTimeoutSeconds: 3600 },
          { name: 'quick', heartbeatTimeoutSeconds: 60 },
        ],
      }),
    ];
    const findings = diagnose(facts);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ kind: 'terminating-hook-outlives-notice', severity: 'risk' });
    expect(findings[0]?.fix).toContain('--lifecycle-hook-name drain-logs');
    expect(findings[0]?.fix).toContain('--heartbeat-timeout 90');
  });

  it('groups that run no Spot are not judged on Spot readiness', () => {
    const facts = healthyFleet();
    facts.autoScalingGroups = [
      spotGroup('on-demand', { usesSpot: false, capacityRebalance: false, instanceTypes: ['m5.large'], targetGroupArns: [] }),
    ];
    expect(diagnose(facts)).toEqual([]);
  });

  describe('scope', () => {
    it('a Spot group outside autoScalingGroupNames is a risk; its target group outside targetGroupNames loses traffic', () => {
      const facts: FleetFacts = {
        ...healthyFleet(),
        scope: { autoScalingGroupNames: ['api-*'], targetGroupNames: ['api-*'] },
      };
      expect(kinds(facts)).toEqual([
        'loses-traffic target-group-outside-scope web',
        'risk group-outside-scope web-asg',
        'advice scope-matches-nothing autoScalingGroupNames: api-*',
        'advice scope-matches-nothing targetGroupNames: api-*',
      ]);
    });

    it('a scope that covers the fleet finds nothing', () => {
      const facts: FleetFacts = { ...healthyFleet(), scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['w?b'] } };
      expect(diagnose(facts)).toEqual([]);
    });
  });

  it('orders findings by severity, then by resource name', () => {
    const facts: FleetFacts = {
      targetGroups: [
        targetGroup('b-web', { deregistrationDelaySeconds: 300 }),
        targetGroup('a-web', { deregistrationDelaySeconds: 300 }),
      ],
      autoScalingGroups: [spotGroup('asg', { capacityRebalance: false, targetGroupArns: [tgArn('a-web'), tgArn('b-web')] })],
    };
    expect(kinds(facts)).toEqual([
      'loses-traffic deregistration-delay-exceeds-notice a-web',
      'loses-traffic deregistration-delay-exceeds-notice b-web',
      'advice capacity-rebalancing-off asg',
    ]);
  });
});

describe('graceful shutdown: instances without the SSM agent', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-0${String(i).padStart(16, '0')}`);

  it('is a risk per group, naming up to five instances', () => {
    const facts: FleetFacts = { ...healthyFleet(), ssmCoverage: [{ group: 'web-asg', spotInstanceIds: ids(8), withoutAgent: ids(7) }] };
    const [finding] = diagnose(facts).filter((f) => f.kind === 'instances-without-ssm-agent');
    expect(finding).toMatchObject({ severity: 'risk', resourceType: 'auto-scaling-group', resource: 'web-asg' });
    expect(finding?.problem).toContain(`7 of 8 Spot instances have no SSM agent online (${ids(5).join(', ')} and 2 more)`);
    expect(finding?.fix).toContain('AmazonSSMManagedInstanceCore');
  });

  it('says nothing when every Spot instance has its agent online, or when graceful shutdown is off', () => {
    expect(kinds({ ...healthyFleet(), ssmCoverage: [{ group: 'web-asg', spotInstanceIds: ids(2), withoutAgent: [] }] })).toEqual(kinds(healthyFleet()));
    expect(kinds(healthyFleet()).some((k) => k.includes('instances-without-ssm-agent'))).toBe(false);
  });
});
