// The merge of several attempts at one response (core/attempts.ts): pure, so every rule is
// shown on plain records.
import { mergeAttempts, type AttemptRecord } from '../../../lambda/core/attempts';
import type { ActionResult } from '../../../lambda/core/model';

const TG_A = 'arn:tg/a';
const TG_B = 'arn:tg/b';

function attempt(n: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    attempt: n,
    eventId: 'evt-1',
    eventTime: '2024-05-03T10:00:00Z',
    detailType: 'EC2 Spot Instance Interruption Warning',
    instanceId: 'i-1',
    instanceAction: 'terminate',
    account: '111122223333',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: '2024-05-03T10:02:00Z',
    msLeftAtFinish: 1000,
    receivedAt: `2024-05-03T10:0${n}:00.000Z`,
    finishedAt: `2024-05-03T10:0${n}:01.000Z`,
    ...extra,
  };
}

const dereg = (target: string, result: ActionResult['result']): ActionResult => ({ action: 'deregister', target, targetId: 'i-1', result, latencyMs: 1 });
const detach = (result: ActionResult['result'], reason?: string): ActionResult => ({ action: 'detach', target: 'web-asg', result, latencyMs: 1, ...(reason ? { reason } : {}) });

describe('mergeAttempts', () => {
  it('issue 9.3: keeps detached, group and replacement from the attempt that detached, and the union of deregistrations', () => {
    const first = attempt(1, {
      outcome: 'failed',
      reason: 'deregister arn:tg/b: Rate exceeded',
      autoScalingGroup: 'web-asg',
      lifecycleState: 'InService',
      detached: true,
      targetGroups: [TG_A, TG_B],
      deregisteredFrom: [TG_A],
      replacement: { instanceId: 'i-new', seenAt: '2024-05-03T10:01:02.000Z', msFromSignal: 62_000 },
      actions: [dereg(TG_A, 'ok'), dereg(TG_B, 'failed'), detach('ok')],
      timeline: [{ event: 'detached', at: '2024-05-03T10:01:00.500Z' }],
    });
    const second = attempt(2, {
      targetGroups: [TG_B],
      deregisteredFrom: [TG_B],
      actions: [dereg(TG_B, 'ok'), detach('skipped', 'instance is in no Auto Scaling group')],
      timeline: [{ event: 'traffic-stopped', at: '2024-05-03T10:02:00.500Z' }],
    });

    const merged = mergeAttempts([first, second]);

    expect(merged).toMatchObject({
      outcome: 'handled',
      detached: true,
      autoScalingGroup: 'web-asg',
      lifecycleState: 'InService',
      replacement: { instanceId: 'i-new' },
      receivedAt: first.receivedAt,
      finishedAt: second.finishedAt,
    });
    expect(merged.reason).toBeUndefined();
    expect(merged.deregisteredFrom).toEqual([TG_A, TG_B]);
    expect(merged.actions).toEqual([dereg(TG_A, 'ok'), dereg(TG_B, 'ok'), detach('ok')]);
    expect(merged.timeline?.map((e) => e.event)).toEqual(['detached', 'traffic-stopped']);
    expect(merged.attempts).toEqual([
      { attempt: 1, at: first.receivedAt, finishedAt: first.finishedAt, outcome: 'failed', reason: first.reason, actions: first.actions },
      { attempt: 2, at: second.receivedAt, finishedAt: second.finishedAt, outcome: 'handled', actions: second.actions },
    ]);
  });

  it('stays failed while a call failed in every attempt', () => {
    const merged = mergeAttempts([
      attempt(1, { outcome: 'failed', actions: [dereg(TG_B, 'failed')] }),
      attempt(2, { outcome: 'failed', actions: [dereg(TG_B, 'failed')] }),
    ]);
    expect(merged.outcome).toBe('failed');
    expect(merged.reason).toMatch(/deregister arn:tg\/b/);
  });

  it('keeps the work of an acting attempt when a later one could only skip (too late)', () => {
    const merged = mergeAttempts([
      attempt(1, { detached: true, autoScalingGroup: 'web-asg', actions: [detach('ok')] }),
      attempt(2, { outcome: 'skipped', skipKind: 'too-late', reason: 'too late' }),
    ]);
    expect(merged).toMatchObject({ outcome: 'handled', detached: true, autoScalingGroup: 'web-asg' });
    expect(merged.skipKind).toBeUndefined();
  });

  it('drops a failed lookup of an earlier attempt once a later attempt got past it', () => {
    const lookup: ActionResult = { action: 'lookup', target: 'DescribeInstances', result: 'failed', latencyMs: 1 };
    const merged = mergeAttempts([
      attempt(1, { outcome: 'failed', actions: [lookup] }),
      attempt(2, { actions: [dereg(TG_A, 'ok')] }),
    ]);
    expect(merged.outcome).toBe('handled');
    expect(merged.actions).toEqual([dereg(TG_A, 'ok')]);
  });

  it("keeps the instance's Spot pool from the latest attempt that read it, when a later lookup failed", () => {
    const merged = mergeAttempts([
      attempt(1, { instanceType: 'm5.large', availabilityZone: 'eu-west-1a', actions: [dereg(TG_A, 'failed')], outcome: 'failed' }),
      attempt(2, { actions: [dereg(TG_A, 'ok')] }),
    ]);
    expect(merged).toMatchObject({ instanceType: 'm5.large', availabilityZone: 'eu-west-1a' });
  });

  it('is the attempt itself, listed, when there is one', () => {
    const only = attempt(1, { actions: [detach('ok')], detached: true });
    const { attempt: _n, ...record } = only;
    expect(mergeAttempts([only])).toEqual({ ...record, attempts: [expect.objectContaining({ attempt: 1, outcome: 'handled' })] });
  });

  it('refuses to merge nothing', () => {
    expect(() => mergeAttempts([])).toThrow(RangeError);
  });
});
