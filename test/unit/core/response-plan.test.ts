import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from '../../../lambda/core/behaviour';
import type {
  ActionResult,
  AsgFacts,
  ContainerInstanceRef,
  InstanceFacts,
  RebalanceRecommendation,
  SkipKind,
  SpotWarning,
} from '../../../lambda/core/model';
import { responseWindow } from '../../../lambda/core/plan';
import {
  groupToRead,
  planBeforeLookups,
  planResponse,
  type ActPlan,
  type Lookup,
  type ResponseFacts,
  type ResponsePlan,
} from '../../../lambda/core/response-plan';

const ID = 'i-0123456789abcdef0';
const TG = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/0123456789abcdef`;
const EVENT_MS = Date.parse('2026-11-21T05:00:00Z');
const warning: SpotWarning = {
  kind: 'spot-interruption-warning',
  eventId: 'e-1',
  eventTime: '2026-11-21T05:00:00Z',
  account: '123456789012',
  region: 'us-east-1',
  instanceId: ID,
  instanceAction: 'terminate',
};
const rebalance: RebalanceRecommendation = { ...warning, kind: 'rebalance-recommendation' };
const REPLACE: ResponderBehaviour = { ...DEFAULT_BEHAVIOUR, rebalanceAction: 'replace' };
const instance: InstanceFacts = { instanceId: ID, state: 'running', privateIpAddresses: ['10.0.1.10'], tags: {} };
const group: AsgFacts = {
  groupName: 'web-asg',
  targetGroupArns: [TG('web')],
  instanceIds: [ID],
  terminatingHooks: [],
  desiredCapacity: 2,
  capacityRebalance: false,
  suspendedProcesses: [],
  tags: {},
};
const container: ContainerInstanceRef = { cluster: 'batch', containerInstanceArn: 'arn:aws:ecs:ci/1', status: 'ACTIVE' };

const ok = <T>(value: T): Lookup<T> => ({ ok: true, value });
const failed = (target: string): Lookup<never> => ({
  ok: false,
  failure: { action: 'lookup', target, result: 'failed', latencyMs: 0, error: { name: 'Throttling', message: 'slow down', retryable: true } },
});

/** A running instance InService in web-asg, registered in web through the group, no ECS. */
function facts(overrides: Partial<ResponseFacts> = {}): ResponseFacts {
  return {
    instance: ok(instance),
    membership: ok({ groupName: 'web-asg', lifecycleState: 'InService' }),
    index: ok({ targets: [], refreshedAt: '2026-11-21T04:58:00Z' }),
    container: ok(null),
    group: ok(group),
    ...overrides,
  };
}

function plan(
  signal: SpotWarning | RebalanceRecommendation = warning,
  f: ResponseFacts = facts(),
  behaviour: ResponderBehaviour = DEFAULT_BEHAVIOUR,
  receivedAt = EVENT_MS + 5_000,
): ResponsePlan {
  return planResponse(signal, f, behaviour, responseWindow(signal, receivedAt));
}

function actPlan(p: ResponsePlan): ActPlan {
  if (p.kind !== 'act') throw new Error(`expected an act plan, got a ${p.skipKind} skip: ${p.reason}`);
  return p;
}

describe('planResponse: every skip path names its kind', () => {
  const cases: Array<[SkipKind, () => ResponsePlan, RegExp]> = [
    ['too-late', () => plan(warning, facts(), DEFAULT_BEHAVIOUR, EVENT_MS + 180_000), /after its deadline/],
    ['record-only', () => plan(rebalance), /recorded only/],
    ['unknown-instance', () => plan(warning, facts({ instance: ok(null) })), /EC2 does not know/],
    ['already-terminated', () => plan(warning, facts({ instance: ok({ ...instance, state: 'terminated' }) })), /already terminated/],
    [
      'excluded-by-tag',
      () => plan(warning, facts({ group: ok({ ...group, tags: { 'spot-responder': 'off' } }) })),
      /excluded by tag spot-responder=off on the Auto Scaling group/,
    ],
    [
      'not-opted-in',
      () => plan(warning, facts(), { ...DEFAULT_BEHAVIOUR, tagPolicy: { mode: 'opt-in', key: 'spot-responder' } }),
      /opt-in mode/,
    ],
    ['no-group', () => plan(rebalance, facts({ membership: ok(null), group: ok(null) }), REPLACE), /no Auto Scaling group/],
    [
      'capacity-rebalancing',
      () => plan(rebalance, facts({ group: ok({ ...group, capacityRebalance: true }) }), REPLACE),
      /Capacity Rebalancing is on for web-asg/,
    ],
  ];

  it.each(cases)('%s', (skipKind, make, reason) => {
    expect(make()).toMatchObject({ kind: 'skip', skipKind, reason: expect.stringMatching(reason) });
  });

  it('records a late terminate without a claim, and every other skip under one', () => {
    expect(plan(warning, facts(), DEFAULT_BEHAVIOUR, EVENT_MS + 180_000)).toMatchObject({ underClaim: false });
    expect(plan(rebalance)).toMatchObject({ underClaim: true });
    expect(plan(warning, facts({ instance: ok(null) }))).toMatchObject({ underClaim: true });
  });

  it('reports what was found for tag and rebalance skips, not for an instance it cannot act on', () => {
    const excluded = plan(warning, facts({ instance: ok({ ...instance, tags: { 'spot-responder': 'off' } }) }));
    expect(excluded).toMatchObject({
      skipKind: 'excluded-by-tag',
      found: { autoScalingGroup: 'web-asg', lifecycleState: 'InService', indexRefreshedAt: '2026-11-21T04:58:00Z' },
    });
    expect(plan(warning, facts({ instance: ok(null) }))).not.toHaveProperty('found');
  });

  it("reports the instance's Spot pool when DescribeInstances gave it, and no pool when it failed", () => {
    const pooled = { ...instance, instanceType: 'm5.large', availabilityZone: 'us-east-1b' };
    expect(plan(warning, facts({ instance: ok(pooled) }))).toMatchObject({
      kind: 'act',
      found: { instanceType: 'm5.large', availabilityZone: 'us-east-1b' },
    });
    const unread = plan(warning, facts({ instance: failed('DescribeInstances') }));
    expect(unread.kind === 'act' && unread.found).not.toHaveProperty('instanceType');
  });
});

describe('planBeforeLookups', () => {
  it('looks a warning on time up', () => {
    expect(planBeforeLookups(warning, DEFAULT_BEHAVIOUR, responseWindow(warning, EVENT_MS + 5_000))).toBeNull();
  });

  it('looks a rebalance recommendation up only in replace mode', () => {
    const window = responseWindow(rebalance, EVENT_MS + 5_000);
    expect(planBeforeLookups(rebalance, REPLACE, window)).toBeNull();
    expect(planBeforeLookups(rebalance, DEFAULT_BEHAVIOUR, window)).toMatchObject({ skipKind: 'record-only' });
  });
});

describe('groupToRead', () => {
  const settled = ({ group: _group, ...rest }: ResponseFacts) => rest;

  it("is the instance's group", () => {
    expect(groupToRead(settled(facts()))).toBe('web-asg');
  });

  it('is none for an instance the plan skips whatever the group says, or in no group', () => {
    expect(groupToRead(settled(facts({ instance: ok(null) })))).toBeNull();
    expect(groupToRead(settled(facts({ instance: ok({ ...instance, state: 'terminated' }) })))).toBeNull();
    expect(groupToRead(settled(facts({ membership: ok(null) })))).toBeNull();
    expect(groupToRead(settled(facts({ membership: failed('DescribeAutoScalingInstances') })))).toBeNull();
  });
});

describe('planResponse: the act plan', () => {
  it("deregisters from the group's target groups, detaches, and drains nothing without ECS", () => {
    expect(plan()).toEqual({
      kind: 'act',
      found: { autoScalingGroup: 'web-asg', lifecycleState: 'InService', indexRefreshedAt: '2026-11-21T04:58:00Z' },
      group,
      failedLookups: [],
      deregistrations: [{ targetGroupArn: TG('web'), targetId: ID, source: 'auto-scaling-group' }],
      skippedDeregistrations: [],
      replacement: { path: 'detach', groupName: 'web-asg' },
      ecsDrain: null,
      shutdown: null,
      notes: [],
    });
  });

  it('terminates in the group, naming the hook, when a terminating hook must run', () => {
    const p = actPlan(plan(warning, facts({ group: ok({ ...group, terminatingHooks: ['drain-hook'] }) })));
    expect(p.replacement).toEqual({
      path: 'terminate-in-group',
      groupName: 'web-asg',
      reason: 'terminating lifecycle hook drain-hook runs before the instance goes',
    });
  });

  it('sets an ACTIVE container instance DRAINING', () => {
    expect(actPlan(plan(warning, facts({ container: ok(container) }))).ecsDrain).toEqual({ send: true, containerInstance: container });
  });

  it('sends nothing for a container instance already DRAINING, and counts it as done', () => {
    const draining = { ...container, status: 'DRAINING' };
    expect(actPlan(plan(warning, facts({ container: ok(draining) }))).ecsDrain).toEqual({
      send: false,
      containerInstance: draining,
      reason: 'already DRAINING',
    });
  });

  it('acts on a rebalance recommendation in replace mode', () => {
    expect(actPlan(plan(rebalance, facts(), REPLACE)).replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
  });

  it('notes the window of a hibernating instance first', () => {
    const hibernate = { ...warning, instanceAction: 'hibernate' as const };
    expect(actPlan(plan(hibernate)).notes[0]).toMatch(/no two-minute window/);
  });
});

describe('planResponse: failed lookups', () => {
  it('without the instance, keeps instance-id registrations and carries the failure', () => {
    const p = actPlan(
      plan(warning, facts({ instance: failed('DescribeInstances'), index: ok({ targets: [], refreshedAt: 'x' }) })),
    );
    expect(p.failedLookups.map((a: ActionResult) => a.target)).toEqual(['DescribeInstances']);
    expect(p.notes).toContain('DescribeInstances failed; IP targets were not verified and were left alone');
    expect(p.deregistrations).toHaveLength(1);
  });

  it('without membership, replaces nothing and says why', () => {
    const p = actPlan(plan(warning, facts({ membership: failed('DescribeAutoScalingInstances'), group: ok(null) })));
    expect(p.replacement).toEqual({ path: 'none', groupName: null, reason: 'Auto Scaling membership unknown (lookup failed)' });
  });

  it('without the group and no instance tag, does nothing at all', () => {
    const p = actPlan(plan(warning, facts({ group: failed('DescribeAutoScalingGroups') })));
    expect(p).toMatchObject({ deregistrations: [], replacement: null, ecsDrain: null });
    expect(p.failedLookups.map((a) => a.target)).toEqual(['DescribeAutoScalingGroups']);
    expect(p.notes).toEqual(["the group's spot-responder tag could not be read; nothing was done"]);
  });

  it("without the group, acts when the instance's own tag decides", () => {
    const tagged = { ...instance, tags: { 'spot-responder': 'on' } };
    const p = actPlan(plan(warning, facts({ instance: ok(tagged), group: failed('DescribeAutoScalingGroups') })));
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
  });

  it('lists the failures in the order the record shows them', () => {
    const p = actPlan(
      plan(
        warning,
        facts({
          instance: ok({ ...instance, tags: { 'spot-responder': 'on' } }),
          index: failed('TargetIndex'),
          container: failed('ListContainerInstances'),
          group: failed('DescribeAutoScalingGroups'),
        }),
      ),
    );
    expect(p.failedLookups.map((a) => a.target)).toEqual(['TargetIndex', 'ListContainerInstances', 'DescribeAutoScalingGroups']);
  });
});
