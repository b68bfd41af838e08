import fc from 'fast-check';
import {
  deadlineOf,
  decideByTags,
  decideDetach,
  decideOutcome,
  decideReplacement,
  planGroupDeregistrations,
  planIndexedDeregistrations,
  rebalanceSkip,
  responseWindow,
  stateMilestone,
} from '../../../lambda/core/plan';
import type {
  ActionResult,
  AsgFacts,
  IndexedTarget,
  InstanceFacts,
  RebalanceRecommendation,
  SpotWarning,
} from '../../../lambda/core/model';

const TG = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/0123456789abcdef`;
const instance: InstanceFacts = {
  instanceId: 'i-0123456789abcdef0',
  state: 'running',
  privateIpAddresses: ['10.0.1.10', '10.0.1.11'],
  tags: {},
};
const group: AsgFacts = {
  groupName: 'web-asg',
  targetGroupArns: [TG('web'), TG('api')],
  instanceIds: ['i-0123456789abcdef0'],
  terminatingHooks: [],
  desiredCapacity: 3,
  capacityRebalance: false,
  suspendedProcesses: [],
  tags: {},
};

describe('planIndexedDeregistrations', () => {
  it('keeps instance targets of this instance with their registered ports', () => {
    // Prepare
    const targets: IndexedTarget[] = [
      { targetGroupArn: TG('admin'), targetId: instance.instanceId, targetType: 'instance', port: 9000 },
      { targetGroupArn: TG('admin'), targetId: instance.instanceId, targetType: 'instance', port: 9001 },
      { targetGroupArn: TG('other'), targetId: 'i-0fffffffffffffff0', targetType: 'instance', port: 80 },
    ];
    // Act
    const plan = planIndexedDeregistrations(instance, { targets, refreshedAt: '2026-11-21T05:00:00Z' });
    // Assess
    expect(plan).toEqual([
      { targetGroupArn: TG('admin'), targetId: instance.instanceId, port: 9000, availabilityZone: undefined, source: 'target-index' },
      { targetGroupArn: TG('admin'), targetId: instance.instanceId, port: 9001, availabilityZone: undefined, source: 'target-index' },
    ]);
  });

  it('keeps IP targets only while the IP still belongs to the instance', () => {
    const targets: IndexedTarget[] = [
      { targetGroupArn: TG('ip'), targetId: '10.0.1.11', targetType: 'ip', port: 443, availabilityZone: 'us-east-1a' },
      { targetGroupArn: TG('ip'), targetId: '10.0.9.99', targetType: 'ip', port: 443 },
    ];
    const plan = planIndexedDeregistrations(instance, { targets });
    expect(plan.map((d) => d.targetId)).toEqual(['10.0.1.11']);
    expect(plan[0]).toMatchObject({ port: 443, availabilityZone: 'us-east-1a' });
  });

  it('drops repeated index entries', () => {
    const entry: IndexedTarget = { targetGroupArn: TG('admin'), targetId: instance.instanceId, targetType: 'instance', port: 9000 };
    expect(planIndexedDeregistrations(instance, { targets: [entry, { ...entry }] })).toHaveLength(1);
  });

  it('never plans a target that is not this instance or one of its IPs (property)', () => {
    const target = fc.record({
      targetGroupArn: fc.constantFrom(TG('a'), TG('b')),
      targetId: fc.constantFrom(instance.instanceId, 'i-0fffffffffffffff0', '10.0.1.10', '10.0.9.99'),
      targetType: fc.constantFrom('instance' as const, 'ip' as const),
      port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(target), (targets) => {
        for (const d of planIndexedDeregistrations(instance, { targets })) {
          expect([instance.instanceId, ...instance.privateIpAddresses]).toContain(d.targetId);
        }
      }),
    );
  });
});

describe('planGroupDeregistrations', () => {
  it('covers every group of the ASG on its default port', () => {
    expect(planGroupDeregistrations(instance.instanceId, group, [])).toEqual([
      { targetGroupArn: TG('web'), targetId: instance.instanceId, source: 'auto-scaling-group' },
      { targetGroupArn: TG('api'), targetId: instance.instanceId, source: 'auto-scaling-group' },
    ]);
  });

  it('leaves groups the index already covers for this instance to the index', () => {
    const fromIndex = [{ targetGroupArn: TG('web'), targetId: instance.instanceId, port: 80, source: 'target-index' as const }];
    expect(planGroupDeregistrations(instance.instanceId, group, fromIndex).map((d) => d.targetGroupArn)).toEqual([TG('api')]);
  });

  it('does not count an IP registration as covering the instance registration', () => {
    const fromIndex = [{ targetGroupArn: TG('web'), targetId: '10.0.1.10', port: 80, source: 'target-index' as const }];
    expect(planGroupDeregistrations(instance.instanceId, group, fromIndex)).toHaveLength(2);
  });
});

describe('decideDetach', () => {
  it.each(['InService', 'Standby'])('detaches an instance in %s', (state) => {
    expect(decideDetach({ groupName: 'web-asg', lifecycleState: state })).toEqual({ detach: true, groupName: 'web-asg' });
  });

  it.each(['Pending', 'Pending:Wait', 'Terminating', 'Terminating:Wait', 'Detaching', 'EnteringStandby'])(
    'skips an instance in %s with the reason',
    (state) => {
      const decision = decideDetach({ groupName: 'web-asg', lifecycleState: state });
      expect(decision).toEqual({ detach: false, groupName: 'web-asg', reason: expect.stringContaining(state) });
    },
  );

  it('skips an instance in no group', () => {
    expect(decideDetach(null)).toEqual({ detach: false, groupName: null, reason: 'instance is in no Auto Scaling group' });
  });
});

describe('decideOutcome', () => {
  const action = (result: ActionResult['result'], reason?: string): ActionResult => ({
    action: 'deregister',
    target: TG('web'),
    result,
    latencyMs: 1,
    ...(reason ? { reason } : {}),
  });

  it('is handled when something was done and nothing failed', () => {
    expect(decideOutcome([action('ok'), action('skipped', 'x')])).toEqual({ outcome: 'handled' });
    expect(decideOutcome([action('not-registered')])).toEqual({ outcome: 'handled' });
  });

  it('is observed when everything it would do was only planned (observe mode), handled once anything was done', () => {
    expect(decideOutcome([action('planned'), action('skipped', 'x')])).toEqual({ outcome: 'observed' });
    // A retry in act mode of an event first observed: something was done.
    expect(decideOutcome([action('planned'), action('ok')])).toEqual({ outcome: 'handled' });
    const failedLookup: ActionResult = { action: 'lookup', target: 'DescribeInstances', result: 'failed', latencyMs: 1 };
    expect(decideOutcome([action('planned'), failedLookup]).outcome).toBe('failed');
  });

  it('is failed when any action failed, naming it', () => {
    const failed = { ...action('failed'), error: { name: 'AccessDenied', message: 'no', retryable: false } };
    expect(decideOutcome([action('ok'), failed])).toEqual({ outcome: 'failed', reason: `deregister ${TG('web')}: no` });
  });

  it('is skipped when every action was skipped, with their reasons', () => {
    expect(decideOutcome([action('skipped', 'a'), action('skipped', 'b')])).toEqual({ outcome: 'skipped', reason: 'a; b', skipKind: 'nothing-to-do' });
    expect(decideOutcome([])).toEqual({ outcome: 'skipped', reason: 'nothing to do', skipKind: 'nothing-to-do' });
  });
});

describe('deadlineOf', () => {
  it('is two minutes after the event time', () => {
    expect(new Date(deadlineOf('2026-11-21T05:00:00Z')).toISOString()).toBe('2026-11-21T05:02:00.000Z');
  });
});

describe('responseWindow', () => {
  const warning = (instanceAction: 'terminate' | 'stop' | 'hibernate'): SpotWarning => ({
    kind: 'spot-interruption-warning',
    eventId: 'e-1',
    eventTime: '2026-11-21T05:00:00Z',
    account: '123456789012',
    region: 'us-east-1',
    instanceId: instance.instanceId,
    instanceAction,
  });
  const eventMs = Date.parse('2026-11-21T05:00:00Z');

  it('gives a warning on time its two minutes', () => {
    expect(responseWindow(warning('terminate'), eventMs + 1_000)).toEqual({ deadline: eventMs + 120_000 });
  });

  it('notes that hibernate never had a window', () => {
    expect(responseWindow(warning('hibernate'), eventMs + 1_000)).toEqual({
      deadline: eventMs + 120_000,
      note: expect.stringContaining('no two-minute window'),
    });
  });

  it('skips a late terminate: the instance is gone and AWS cleans up', () => {
    const window = responseWindow(warning('terminate'), eventMs + 180_000);
    expect(window.skipReason).toMatch(/arrived 60.0 s after its deadline/);
  });

  it.each(['stop', 'hibernate'] as const)('still handles a late %s, within a fresh budget', (action) => {
    const receivedAt = eventMs + 180_000;
    const window = responseWindow(warning(action), receivedAt);
    expect(window).toEqual({ deadline: receivedAt + 120_000, note: expect.stringContaining('stays registered') });
  });

  it('bounds a rebalance recommendation by its own two-minute budget', () => {
    const rebalance: RebalanceRecommendation = { ...warning('terminate'), kind: 'rebalance-recommendation' };
    expect(responseWindow(rebalance, eventMs + 5_000)).toEqual({ deadline: eventMs + 125_000 });
  });
});

describe('decideByTags', () => {
  const optOut = { mode: 'opt-out' as const, key: 'spot-responder' };
  const optIn = { mode: 'opt-in' as const, key: 'spot-responder' };

  it('includes untagged instances in opt-out mode and excludes them in opt-in mode', () => {
    expect(decideByTags(optOut, {}, {})).toEqual({ included: true });
    expect(decideByTags(optIn, {}, {})).toEqual({ included: false, reason: expect.stringContaining('opt-in mode') });
  });

  it.each(['off', 'false', 'Disabled', ' no '])('excludes on %p in opt-out mode, naming where', (value) => {
    expect(decideByTags(optOut, { 'spot-responder': value }, undefined)).toEqual({
      included: false,
      reason: expect.stringContaining('on the instance'),
    });
  });

  it.each(['on', 'true', 'enabled', 'yes', ' Yes ', 'TRUE'])(
    'issue 9.12: opts in on %p, on the instance or on its group',
    (value) => {
      expect(decideByTags(optIn, { 'spot-responder': value }, undefined)).toEqual({ included: true });
      expect(decideByTags(optIn, {}, { 'spot-responder': value })).toEqual({ included: true });
    },
  );

  it.each(['true', 'yes'])('issue 9.12: does not exclude on %p in opt-out mode (an "on" value)', (value) => {
    expect(decideByTags(optOut, { 'spot-responder': value }, { 'spot-responder': 'off' })).toEqual({ included: true });
  });

  it('lets the instance tag win over its group tag', () => {
    expect(decideByTags(optOut, { 'spot-responder': 'on' }, { 'spot-responder': 'off' })).toEqual({ included: true });
    expect(decideByTags(optIn, { 'spot-responder': 'off' }, { 'spot-responder': 'on' }).included).toBe(false);
  });

  it('falls back to the group tag', () => {
    expect(decideByTags(optOut, {}, { 'spot-responder': 'off' }).reason).toContain('Auto Scaling group');
    expect(decideByTags(optIn, {}, { 'spot-responder': 'enabled' })).toEqual({ included: true });
  });

  it('ignores values it does not know in either mode', () => {
    expect(decideByTags(optOut, { 'spot-responder': 'maybe' }, undefined).included).toBe(true);
    expect(decideByTags(optIn, { 'spot-responder': 'maybe' }, undefined).included).toBe(false);
  });
});

describe('decideReplacement', () => {
  const member = { groupName: 'web-asg', lifecycleState: 'InService' };

  it('detaches when the group has no terminating hook', () => {
    expect(decideReplacement(member, group)).toEqual({ path: 'detach', groupName: 'web-asg' });
  });

  it('terminates in the group when a terminating hook must run', () => {
    expect(decideReplacement(member, { ...group, terminatingHooks: ['drain'] })).toEqual({
      path: 'terminate-in-group',
      groupName: 'web-asg',
    });
  });

  it('does neither for an instance that cannot be detached', () => {
    expect(decideReplacement({ ...member, lifecycleState: 'Terminating' }, group)).toMatchObject({ path: 'none' });
    expect(decideReplacement(null, null)).toMatchObject({ path: 'none', groupName: null });
  });
});

describe('rebalanceSkip', () => {
  const member = { groupName: 'web-asg', lifecycleState: 'InService' };

  it('records only by default', () => {
    expect(rebalanceSkip('record', member, group)).toEqual({ skipKind: 'record-only', reason: expect.stringMatching(/recorded only/) });
  });

  it('acts in replace mode on a group without Capacity Rebalancing', () => {
    expect(rebalanceSkip('replace', member, group)).toBeUndefined();
  });

  it('leaves the replacement to AWS when Capacity Rebalancing is on', () => {
    expect(rebalanceSkip('replace', member, { ...group, capacityRebalance: true })).toEqual({
      skipKind: 'capacity-rebalancing',
      reason: expect.stringMatching(/Capacity Rebalancing is on for web-asg/),
    });
  });

  it('does not drain an instance with no group to replace it', () => {
    expect(rebalanceSkip('replace', null, null)).toEqual({ skipKind: 'no-group', reason: expect.stringMatching(/no Auto Scaling group/) });
  });
});

describe('stateMilestone', () => {
  it.each([
    ['running', 'interrupted', 'instance-restarted'],
    ['stopping', 'interrupted', 'instance-stopping'],
    ['stopped', 'interrupted', 'instance-stopped'],
    ['shutting-down', 'interrupted', 'instance-shutting-down'],
    ['terminated', 'interrupted', 'instance-terminated'],
    ['pending', 'interrupted', null],
    ['pending', 'replacement', 'replacement-launched'],
    ['running', 'replacement', 'replacement-running'],
    ['terminated', 'replacement', null],
  ])('%s of the %s instance -> %p', (state, role, milestone) => {
    expect(stateMilestone(state, role)).toBe(milestone);
  });
});
