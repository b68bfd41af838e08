// Looking for the replacements of a batch: one DescribeAutoScalingGroups per group per look,
// shared by every response in that group, new members assigned in the order of the warnings.
import type { ActionResult, AsgFacts, InterruptionNotice } from '../../../lambda/core/model';
import type { ResponderDeps } from '../../../lambda/response/deps';
import { findReplacements, type ReplacementWait } from '../../../lambda/response/verify';

const T0 = Date.parse('2026-11-30T10:00:00Z');

function group(groupName: string, instanceIds: string[]): AsgFacts {
  return { groupName, instanceIds, targetGroupArns: [], terminatingHooks: [], desiredCapacity: instanceIds.length, capacityRebalance: false, suspendedProcesses: [], tags: {} };
}

function wait(instanceId: string, before: AsgFacts | null, secondsAfterT0 = 0, result: ActionResult['result'] = 'ok'): ReplacementWait {
  return {
    signal: { instanceId, eventTime: new Date(T0 + secondsAfterT0 * 1000).toISOString() } as InterruptionNotice,
    replaced: { result } as ActionResult,
    before,
    budget: () => ({}),
  };
}

/** Auto Scaling answering each look from `looks[group]` in turn (the last one repeats). */
function depsWith(looks: Record<string, Array<string[] | Error>>) {
  const calls: string[] = [];
  const sleeps: number[] = [];
  const deps = {
    now: () => T0 + 5_000,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    autoScaling: {
      groupInstanceIds: async (name: string) => {
        const n = calls.filter((c) => c === name).length;
        calls.push(name);
        const answers = looks[name] ?? [[]];
        const answer = answers[Math.min(n, answers.length - 1)];
        if (answer instanceof Error) throw answer;
        return answer ?? null;
      },
    },
  } as unknown as ResponderDeps;
  return { deps, calls, sleeps };
}

describe('findReplacements', () => {
  it('looks once per group for the whole batch, and gives each response its own new instance, earliest warning first', async () => {
    const web = group('web', ['i-a', 'i-b', 'i-c', 'i-keep']);
    const api = group('api', ['i-x', 'i-y']);
    const { deps, calls } = depsWith({ web: [['i-keep', 'i-new1', 'i-new2', 'i-new3']], api: [['i-y', 'i-newx']] });

    const found = await findReplacements([wait('i-b', web, 2), wait('i-a', web, 1), wait('i-x', api), wait('i-c', web, 3)], deps);

    expect(calls.sort()).toEqual(['api', 'web']);
    expect(found.map((f) => f?.instanceId)).toEqual(['i-new2', 'i-new1', 'i-newx', 'i-new3']);
    expect(found[1]).toEqual({ instanceId: 'i-new1', seenAt: '2026-11-30T10:00:05.000Z', msFromSignal: 4_000 });
  });

  it('looks again a second later only while some response of the group still waits, at most three times', async () => {
    const web = group('web', ['i-a', 'i-b', 'i-keep']);
    const { deps, calls, sleeps } = depsWith({ web: [['i-keep'], ['i-keep', 'i-new1'], ['i-keep', 'i-new1']] });

    const found = await findReplacements([wait('i-a', web, 1), wait('i-b', web, 2)], deps);

    expect(calls).toEqual(['web', 'web', 'web']);
    expect(sleeps).toEqual([1_000, 1_000]);
    expect(found.map((f) => f?.instanceId ?? null)).toEqual(['i-new1', null]);
  });

  it('stops as soon as every response of the group has its replacement', async () => {
    const web = group('web', ['i-a']);
    const { deps, calls } = depsWith({ web: [['i-new']] });

    await findReplacements([wait('i-a', web)], deps);

    expect(calls).toEqual(['web']);
  });

  it('does not look for responses that replaced nothing, or whose group members were unknown', async () => {
    const web = group('web', ['i-a', 'i-b']);
    const { deps, calls } = depsWith({ web: [['i-new']] });

    const found = await findReplacements([wait('i-a', web, 0, 'skipped'), wait('i-b', null)], deps);

    expect(calls).toEqual([]);
    expect(found).toEqual([null, null]);
  });

  it('gives up on a group whose look fails, without touching the other groups', async () => {
    const web = group('web', ['i-a']);
    const api = group('api', ['i-x']);
    const { deps } = depsWith({ web: [new Error('Throttling')], api: [['i-newx']] });

    const found = await findReplacements([wait('i-a', web), wait('i-x', api)], deps);

    expect(found.map((f) => f?.instanceId ?? null)).toEqual([null, 'i-newx']);
  });
});
