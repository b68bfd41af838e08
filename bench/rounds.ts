// 6. One warning's sequential rounds, with AWS-like latency: moto behind the project's proxy
// (dev/fault-proxy.ts), which holds every control-plane call for a jittered 30 ms and every
// DynamoDB call for 8 ms, so a round trip costs what it costs in a region and the rounds show in
// the clock. Side by side: the awslabs spot-interruption-handler sample's two calls
// (DescribeInstances, then DetachInstances), re-implemented here with the same clients.
// https://github.com/awslabs/ec2-spot-labs/tree/master/ec2-spot-interruption-handler (reference only)
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { spotWarningEvent } from '../cli/sample-events';
import { createReplayer } from '../cli/replay';
import { buildDemoFleet } from '../dev/fleet';
import { controlPlaneLatency, startFaultProxy } from '../dev/fault-proxy';
import type { AwsClients } from '../lambda/aws/clients';
import { median, ms, percentile, recordCalls, rounds, table, trafficStoppedAt, withReplayer, type SdkCall } from './support';

/** Warnings per side: the group holds twice this many, half answered by each. */
export const ROUNDS_WARNINGS = 10;
/** The proxy's latency: control plane 30 ± 10 ms (uniform), DynamoDB 8 ms. */
export const CONTROL_PLANE_MS = 30;
export const CONTROL_PLANE_JITTER_MS = 10;
export const DYNAMODB_MS = 8;

/** One warning as one side handled it; times in ms from the warning's arrival. */
export interface RoundsSample {
  /** The round (1-based) of the last DeregisterTargets; null when none was sent (the sample). */
  trafficStoppedRound: number | null;
  trafficStoppedMs: number | null;
  /** The round and end of the DetachInstances (or TerminateInstanceInAutoScalingGroup). */
  detachRound: number | null;
  detachMs: number | null;
  /** Until the handler returned (the responder: claim, verify and record included). */
  totalMs: number;
  /** Operation names per round, e.g. [['DescribeInstances', 'TransactWriteItems'], ['DeregisterTargets']]. */
  callsByRound: string[][];
  /** Each control-plane call's duration (ms) up to the detach: the proxy's latency plus moto's service time. */
  controlPlaneCallMs: number[];
}

export interface RoundsResult {
  responder: RoundsSample[];
  sample: RoundsSample[];
  handled: number;
}

/** Builds a 2×`ROUNDS_WARNINGS` group in moto (directly), then warns each instance in turn through the latency proxy. */
export async function measureRounds(endpoint: string): Promise<RoundsResult> {
  const table = 'bench-rounds';
  const fleet = await withReplayer(endpoint, table, async (setup) => {
    const built = await buildDemoFleet(setup.clients, { prefix: 'rounds', asgSize: 2 * ROUNDS_WARNINGS });
    await setup.refreshIndex();
    return built;
  });
  const proxy = await startFaultProxy(endpoint, () => undefined, {
    latency: controlPlaneLatency(CONTROL_PLANE_MS, CONTROL_PLANE_JITTER_MS, DYNAMODB_MS),
  });
  const replayer = await createReplayer({ endpointUrl: proxy.endpoint, table, clock: 'wall', refreshIndex: false });
  const result: RoundsResult = { responder: [], sample: [], handled: 0 };
  try {
    const recorder = recordCalls(replayer.clients);
    // Alternate the two sides so both meet the same machine noise.
    for (const [index, instanceId] of fleet.asgInstanceIds.entries()) {
      if (index % 2 === 0) {
        const { value, calls, start, end } = await recorder.during(() => replayer.replay(spotWarningEvent(instanceId)));
        if (value.outcome === 'handled') result.handled++;
        result.responder.push(sampleOf(calls, start, end));
      } else {
        const { calls, start, end } = await recorder.during(() => awslabsSample(replayer.clients, instanceId));
        result.sample.push(sampleOf(calls, start, end));
      }
    }
  } finally {
    const { ec2, autoScaling, elbv2, ecs, dynamoRaw } = replayer.clients;
    for (const client of [ec2, autoScaling, elbv2, ecs, dynamoRaw]) client.destroy();
    await proxy.close();
  }
  return result;
}

/**
 * The awslabs sample's handler, call for call: read the instance's tags, and when it carries
 * aws:autoscaling:groupName, DetachInstances without decrementing the desired capacity (so
 * Auto Scaling launches a replacement). It deregisters nothing itself: the detach does that for
 * the group's own target groups, after the group's deregistration delay.
 */
async function awslabsSample(clients: AwsClients, instanceId: string): Promise<void> {
  const described = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const tags = described.Reservations?.[0]?.Instances?.[0]?.Tags ?? [];
  const group = tags.find((tag) => tag.Key === 'aws:autoscaling:groupName')?.Value;
  if (!group) throw new Error(`${instanceId} carries no aws:autoscaling:groupName tag`);
  await clients.autoScaling.send(
    new DetachInstancesCommand({ InstanceIds: [instanceId], AutoScalingGroupName: group, ShouldDecrementDesiredCapacity: false }),
  );
}

const isDetach = (call: SdkCall): boolean => call.command === 'DetachInstances' || call.command === 'TerminateInstanceInAutoScalingGroup';

function sampleOf(calls: SdkCall[], start: number, end: number): RoundsSample {
  const byRound = rounds(calls);
  const roundOf = (call: SdkCall): number => byRound.findIndex((round) => round.includes(call)) + 1;
  const deregistrations = calls.filter((c) => c.command === 'DeregisterTargets');
  const lastDeregistration = deregistrations.sort((a, b) => a.end - b.end).at(-1);
  const detach = calls.filter(isDetach).sort((a, b) => a.end - b.end).at(-1);
  const stopped = trafficStoppedAt(calls);
  return {
    trafficStoppedRound: lastDeregistration ? roundOf(lastDeregistration) : null,
    trafficStoppedMs: stopped === null ? null : stopped - start,
    detachRound: detach ? roundOf(detach) : null,
    detachMs: detach ? detach.end - start : null,
    totalMs: end - start,
    callsByRound: byRound.map((round) => round.map((call) => call.command)),
    controlPlaneCallMs: calls
      .filter((c) => c.service !== 'DynamoDB' && (!detach || c.start <= detach.start))
      .map((c) => c.end - c.start),
  };
}

const present = (values: (number | null)[]): number[] => values.filter((v): v is number => v !== null);

/** Section 6 of BENCHMARKS.md. */
export function renderRounds(r: RoundsResult): string {
  const row = (side: string, samples: RoundsSample[]) => {
    const stopped = present(samples.map((s) => s.trafficStoppedMs));
    const stoppedRounds = present(samples.map((s) => s.trafficStoppedRound));
    const detach = present(samples.map((s) => s.detachMs));
    const detachRounds = present(samples.map((s) => s.detachRound));
    const total = samples.map((s) => s.totalMs);
    return [
      side,
      samples.length,
      stoppedRounds.length ? `${median(stoppedRounds)} (max ${Math.max(...stoppedRounds)})` : 'none sent',
      stopped.length ? `${ms(median(stopped))} / ${ms(percentile(stopped, 90))}` : '—',
      detachRounds.length ? `${median(detachRounds)} (max ${Math.max(...detachRounds)})` : '—',
      detach.length ? `${ms(median(detach))} / ${ms(percentile(detach, 90))}` : '—',
      `${ms(median(total))} / ${ms(percentile(total, 90))}`,
      ms(median(samples.flatMap((s) => s.controlPlaneCallMs))),
    ];
  };
  const typical = [...r.responder].sort((a, b) => (a.trafficStoppedMs ?? 0) - (b.trafficStoppedMs ?? 0))[Math.floor(r.responder.length / 2)];
  const stoppedRound = median(present(r.responder.map((s) => s.trafficStoppedRound)));
  const responderDetach = median(present(r.responder.map((s) => s.detachMs)));
  const sampleDetach = median(present(r.sample.map((s) => s.detachMs)));
  const responderCall = median(r.responder.flatMap((s) => s.controlPlaneCallMs));
  const sampleCall = median(r.sample.flatMap((s) => s.controlPlaneCallMs));
  return [
    `A ${2 * ROUNDS_WARNINGS}-instance group (2 target groups of its own, one instance also in 2 more), the target index ` +
      `refreshed; moto behind dev/fault-proxy.ts adding ${CONTROL_PLANE_MS} ± ${CONTROL_PLANE_JITTER_MS} ms to every ` +
      `control-plane call and ${DYNAMODB_MS} ms to every DynamoDB call. Each instance is warned once, in turn, alternating: ` +
      `spot-responder (\`replay()\`, ${r.handled} of ${r.responder.length} handled) and the awslabs spot-interruption-handler ` +
      "sample's two calls re-implemented with the same clients (DescribeInstances, then DetachInstances without decrementing " +
      'the desired capacity). Rounds as in section 1: a call that starts after another has ended is in a later round. ' +
      'Times from the warning\'s arrival, median / p90.',
    '',
    table(
      [
        'handler',
        'warnings',
        'round of the last DeregisterTargets',
        'traffic stopped',
        'round of the detach',
        'detach completed',
        'handler returned',
        'one control-plane call (median)',
      ],
      [row('spot-responder', r.responder), row('awslabs sample', r.sample)],
    ),
    '',
    typical
      ? `The median warning's calls by round (spot-responder): ${typical.callsByRound
          .map((round, i) => `${i + 1}: ${summarize(round)}`)
          .join('; ')}.`
      : '',
    '',
    `- Traffic stopped after **${stoppedRound} sequential rounds** (goal: 2, one round of reads, then the deregistrations). ` +
      'The sample stops no traffic itself: its DetachInstances deregisters the instance from the group\'s own target groups ' +
      'only, and only after their deregistration delay (moto does not even do that); targets outside the group stay.',
    `- Detach completed at a median of ${ms(responderDetach)} against ${ms(sampleDetach)} for the sample ` +
      `(${(responderDetach / sampleDetach).toFixed(2)}×; goal: no later than the sample's, in round ${median(present(r.responder.map((s) => s.detachRound)))} ` +
      `against the sample's ${median(present(r.sample.map((s) => s.detachRound)))}).`,
    `- Rounds are the portable figure; milliseconds are not. One control-plane call took a median of ${ms(responderCall)} in the ` +
      `responder's rounds (4 to 5 calls at once) against ${ms(sampleCall)} for the sample's single calls, with the same ` +
      `${CONTROL_PLANE_MS} ms added to each: one moto process serves concurrent calls one at a time (and shares this ` +
      "machine's 2 cores), where AWS serves them in parallel. In a region each round costs about one round trip.",
  ].join('\n');
}

/** ['A', 'A', 'B'] → 'A ×2, B'. */
function summarize(commands: string[]): string {
  const counts = new Map<string, number>();
  for (const command of commands) counts.set(command, (counts.get(command) ?? 0) + 1);
  return [...counts].map(([command, n]) => (n > 1 ? `${command} ×${n}` : command)).join(', ');
}
