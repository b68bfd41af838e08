// 1. Which AWS calls one warning costs, and in how many sequential round trips, for the demo
// fleet's `shared` instance (2 ASG target groups + 1 instance group + 1 ip group outside the
// group) and for its standalone instance (1 target group, no Auto Scaling group).
import type { ResponseRecord } from '../lambda/core/model';
import { buildDemoFleet } from '../dev/fleet';
import { spotWarningEvent } from '../cli/sample-events';
import { isElbv2Describe, ms, recordCalls, rounds, table, trafficStoppedAt, withReplayer, type SdkCall } from './support';

export interface CallsScenario {
  name: string;
  record: ResponseRecord;
  calls: SdkCall[];
  start: number;
  end: number;
}

export function measureCalls(endpoint: string): Promise<CallsScenario[]> {
  return withReplayer(endpoint, 'bench-calls', async (replayer) => {
    const fleet = await buildDemoFleet(replayer.clients, { prefix: 'calls' });
    await replayer.refreshIndex();
    const recorder = recordCalls(replayer.clients);
    const cases = [
      { name: 'ASG instance in 2 ASG target groups + 1 instance group + 1 ip group (`shared`)', id: fleet.shared.instanceId },
      { name: 'standalone instance in 1 target group, no ASG', id: fleet.standaloneInstanceId },
    ];
    const scenarios: CallsScenario[] = [];
    for (const { name, id } of cases) {
      const { value, calls, start, end } = await recorder.during(() => replayer.replay(spotWarningEvent(id)));
      scenarios.push({ name, record: value, calls, start, end });
    }
    return scenarios;
  });
}

export function renderCalls(scenarios: CallsScenario[]): string {
  return scenarios.map(renderScenario).join('\n\n');
}

function renderScenario(s: CallsScenario): string {
  const stopped = trafficStoppedAt(s.calls);
  const deregisterStarts = s.calls.filter((c) => c.command === 'DeregisterTargets').map((c) => c.start);
  const lastDeregisterStart = deregisterStarts.length > 0 ? Math.max(...deregisterStarts) : Infinity;
  const describes = s.calls.filter(isElbv2Describe);
  const describesBefore = describes.filter((c) => c.start < lastDeregisterStart);

  const counts = new Map<string, number>();
  for (const c of s.calls) counts.set(`${c.service} | ${c.command}`, (counts.get(`${c.service} | ${c.command}`) ?? 0) + 1);
  const byCommand = table(
    ['service', 'command', 'calls'],
    [...counts].map(([key, n]) => [...key.split(' | '), n]),
  );

  const roundList = rounds(s.calls);
  const byRound = table(
    ['round', 'calls (∥ = concurrent)', 'ends at'],
    roundList.map((round, i) => {
      const names = groupNames(round);
      const roundEnd = Math.max(...round.map((c) => c.end));
      const marks = [
        ...(round.some(isElbv2Describe) ? ['ELBv2 Describe'] : []),
        ...(stopped !== null && round.some((c) => c.end === stopped) ? ['traffic stopped'] : []),
      ];
      return [`R${i + 1}`, names + (marks.length ? ` — **${marks.join('; ')}**` : ''), ms(roundEnd - s.start)];
    }),
  );

  const r = s.record;
  return [
    `### ${s.name}`,
    '',
    `Outcome \`${r.outcome}\`; deregistered from ${r.deregisteredFrom.length} target group(s)` +
      `${r.detached ? ', detached with replacement' : ''}${r.replacement ? `, replacement ${r.replacement.instanceId} seen` : ''}. ` +
      `**${s.calls.length} calls in ${roundList.length} sequential rounds**; traffic stopped after round ` +
      `${stopped === null ? '-' : roundList.findIndex((round) => round.some((c) => c.end === stopped)) + 1} ` +
      `(${stopped === null ? '-' : ms(stopped - s.start)} into the event), whole response ${ms(s.end - s.start)}.`,
    '',
    `ELBv2 Describe* calls: ${describes.length} in total, **${describesBefore.length} before the last DeregisterTargets started**` +
      (describes.length > describesBefore.length
        ? ` (${describes.length - describesBefore.length} after it: ${groupNames(describes)}, the replacement's health check)`
        : '') +
      '.',
    '',
    byCommand,
    '',
    byRound,
  ].join('\n');
}

/** "A ∥ B ×2 ∥ C", in first-start order. */
function groupNames(calls: SdkCall[]): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c.command, (counts.get(c.command) ?? 0) + 1);
  return [...counts].map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(' ∥ ');
}
