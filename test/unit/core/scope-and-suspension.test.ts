// Issue 9.4 (scope) and 9.10 (suspended Auto Scaling processes), decided by the pure plan.
// moto ignores suspended processes (it launches, terminates and registers whatever is
// suspended) and answers every call whatever the IAM policy, so neither can be shown against
// the emulator: these unit tests are where both are covered.
import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from '../../../lambda/core/behaviour';
import type { AsgFacts, InstanceFacts, RebalanceRecommendation, SpotWarning } from '../../../lambda/core/model';
import { responseWindow } from '../../../lambda/core/plan';
import { planResponse, type ActPlan, type Lookup, type ResponseFacts, type ResponsePlan } from '../../../lambda/core/response-plan';

const ID = 'i-0123456789abcdef0';
const TG = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/0123456789abcdef`;
const EVENT_MS = Date.parse('2026-11-21T05:00:00Z');
const warning = (instanceAction: SpotWarning['instanceAction'] = 'terminate'): SpotWarning => ({
  kind: 'spot-interruption-warning',
  eventId: 'e-1',
  eventTime: '2026-11-21T05:00:00Z',
  account: '123456789012',
  region: 'us-east-1',
  instanceId: ID,
  instanceAction,
});
const rebalance: RebalanceRecommendation = { ...warning(), kind: 'rebalance-recommendation' };
const instance: InstanceFacts = { instanceId: ID, state: 'running', privateIpAddresses: ['10.0.1.10'], tags: {} };
const ok = <T>(value: T): Lookup<T> => ({ ok: true, value });

/** The example of docs/configuration.md. */
const WEB_ONLY: ResponderBehaviour = {
  ...DEFAULT_BEHAVIOUR,
  scope: { autoScalingGroupNames: ['web-*'], targetGroupNames: ['web-*'] },
};

function groupNamed(groupName: string, overrides: Partial<AsgFacts> = {}): AsgFacts {
  return {
    groupName,
    targetGroupArns: [TG(groupName.replace(/-asg$/, '-tg'))],
    instanceIds: [ID],
    terminatingHooks: [],
    desiredCapacity: 2,
    capacityRebalance: false,
    suspendedProcesses: [],
    tags: {},
    ...overrides,
  };
}

function facts(group: AsgFacts, indexTargetGroups: string[] = []): ResponseFacts {
  return {
    instance: ok(instance),
    membership: ok({ groupName: group.groupName, lifecycleState: 'InService' }),
    index: ok({
      targets: indexTargetGroups.map((arn) => ({ targetGroupArn: arn, targetId: ID, targetType: 'instance' as const, port: 8080 })),
      refreshedAt: '2026-11-21T04:58:00Z',
    }),
    container: ok(null),
    group: ok(group),
  };
}

function plan(
  f: ResponseFacts,
  behaviour: ResponderBehaviour = DEFAULT_BEHAVIOUR,
  signal: SpotWarning | RebalanceRecommendation = warning(),
): ResponsePlan {
  return planResponse(signal, f, behaviour, responseWindow(signal, EVENT_MS + 5_000));
}

function actPlan(p: ResponsePlan): ActPlan {
  if (p.kind !== 'act') throw new Error(`expected an act plan, got a ${p.skipKind} skip: ${p.reason}`);
  return p;
}

describe('issue 9.4: out-of-scope groups and target groups are planned as skipped', () => {
  it('issue 9.4: an instance of batch-asg in batch-tg, deployed for web-*, is skipped as out-of-scope: no call at all', () => {
    // Act
    const p = plan(facts(groupNamed('batch-asg')), WEB_ONLY);

    // Assess
    expect(p).toMatchObject({
      kind: 'skip',
      skipKind: 'out-of-scope',
      underClaim: true,
      reason:
        'Auto Scaling group batch-asg is out of scope (autoScalingGroupNames: web-*); ' +
        'target group batch-tg is out of scope (targetGroupNames: web-*)',
      found: { autoScalingGroup: 'batch-asg' },
    });
  });

  it('issue 9.4: an in-scope instance with one index registration outside targetGroupNames skips only that one, with its reason', () => {
    // Act
    const p = actPlan(plan(facts(groupNamed('web-asg'), [TG('batch-tg')]), WEB_ONLY));

    // Assess
    expect(p.deregistrations).toEqual([{ targetGroupArn: TG('web-tg'), targetId: ID, source: 'auto-scaling-group' }]);
    expect(p.skippedDeregistrations).toEqual([
      {
        action: 'deregister',
        target: TG('batch-tg'),
        targetId: ID,
        port: 8080,
        result: 'skipped',
        latencyMs: 0,
        reason: 'target group batch-tg is out of scope (targetGroupNames: web-*)',
      },
    ]);
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
  });

  it('issue 9.4: an out-of-scope group is not detached from, while its in-scope target groups are still deregistered', () => {
    // Act
    const p = actPlan(plan(facts(groupNamed('batch-asg', { targetGroupArns: [TG('web-tg')] })), WEB_ONLY));

    // Assess
    expect(p.deregistrations.map((d) => d.targetGroupArn)).toEqual([TG('web-tg')]);
    expect(p.replacement).toEqual({
      path: 'none',
      groupName: 'batch-asg',
      reason: 'Auto Scaling group batch-asg is out of scope (autoScalingGroupNames: web-*)',
    });
  });

  it('issue 9.4: an instance in no group, registered only outside the scope, is out-of-scope', () => {
    // Prepare
    const f: ResponseFacts = { ...facts(groupNamed('web-asg'), [TG('batch-tg')]), membership: ok(null), group: ok(null) };

    // Act
    const p = plan(f, WEB_ONLY);

    // Assess
    expect(p).toMatchObject({ kind: 'skip', skipKind: 'out-of-scope', reason: 'target group batch-tg is out of scope (targetGroupNames: web-*)' });
  });

  it('issue 9.4: without a scope (the default "*"), everything is in scope', () => {
    expect(actPlan(plan(facts(groupNamed('batch-asg'), [TG('other')]))).skippedDeregistrations).toEqual([]);
  });

  it('issue 9.4: "?" matches one character, as in IAM', () => {
    // Prepare
    const behaviour: ResponderBehaviour = { ...DEFAULT_BEHAVIOUR, scope: { autoScalingGroupNames: ['web-?'], targetGroupNames: ['web-??'] } };

    // Act
    const p = actPlan(plan(facts(groupNamed('web-1', { targetGroupArns: [TG('web-12'), TG('web-1')] })), behaviour));

    // Assess
    expect(p.deregistrations.map((d) => d.targetGroupArn)).toEqual([TG('web-12')]);
    expect(p.skippedDeregistrations.map((a) => a.target)).toEqual([TG('web-1')]);
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-1' });
  });
});

describe('issue 9.10: suspended Auto Scaling processes (unit only: moto ignores suspension)', () => {
  const launchSuspended = groupNamed('web-asg', { suspendedProcesses: ['Launch'] });

  it.each(['stop', 'hibernate'] as const)(
    'issue 9.10: with Launch suspended, a %s warning deregisters only and keeps the instance in its group, saying why',
    (action) => {
      // Act
      const p = actPlan(plan(facts(launchSuspended), DEFAULT_BEHAVIOUR, warning(action)));

      // Assess
      expect(p.deregistrations.map((d) => d.targetGroupArn)).toEqual([TG('web-tg')]);
      expect(p.replacement).toEqual({
        path: 'none',
        groupName: 'web-asg',
        reason: expect.stringMatching(/^Launch is suspended on web-asg: a detach would launch no replacement, .* kept in the group/),
      });
    },
  );

  it('issue 9.10: with Launch suspended, a terminate warning still detaches and notes that no replacement comes until Launch resumes', () => {
    // Act
    const p = actPlan(plan(facts(launchSuspended)));

    // Assess
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
    expect(p.notes).toContain('Launch is suspended on web-asg: no replacement will launch until Launch resumes');
  });

  it('issue 9.10: with Launch suspended, a rebalance recommendation in replace mode is skipped (launch-suspended)', () => {
    // Act
    const p = plan(facts(launchSuspended), { ...DEFAULT_BEHAVIOUR, rebalanceAction: 'replace' }, rebalance);

    // Assess
    expect(p).toMatchObject({ kind: 'skip', skipKind: 'launch-suspended' });
  });

  it('issue 9.10: with AddToLoadBalancer suspended, notes that the replacement will not be registered', () => {
    // Act
    const p = actPlan(plan(facts(groupNamed('web-asg', { suspendedProcesses: ['AddToLoadBalancer'] }))));

    // Assess
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
    expect(p.notes).toEqual([expect.stringMatching(/^AddToLoadBalancer is suspended on web-asg: the replacement will not be registered/)]);
  });

  it('issue 9.10: with Terminate suspended and a terminating hook, detaches instead and says the hook does not run', () => {
    // Prepare
    const group = groupNamed('web-asg', { suspendedProcesses: ['Terminate'], terminatingHooks: ['drain-hook'] });

    // Act
    const p = actPlan(plan(facts(group)));

    // Assess
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
    expect(p.notes).toEqual([
      'Terminate is suspended on web-asg: TerminateInstanceInAutoScalingGroup may be refused or left pending, so the ' +
        'instance was detached instead; its terminating lifecycle hook drain-hook did not run',
    ]);
  });

  it('issue 9.10: with Terminate suspended and no hook, detaches as usual with no note (DetachInstances is not the Terminate process)', () => {
    const p = actPlan(plan(facts(groupNamed('web-asg', { suspendedProcesses: ['Terminate'] }))));
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
    expect(p.notes).toEqual([]);
  });

  it('issue 9.10: other suspended processes change nothing', () => {
    const p = actPlan(plan(facts(groupNamed('web-asg', { suspendedProcesses: ['AZRebalance', 'HealthCheck', 'ScheduledActions'] }))));
    expect(p.replacement).toEqual({ path: 'detach', groupName: 'web-asg' });
    expect(p.notes).toEqual([]);
  });
});
