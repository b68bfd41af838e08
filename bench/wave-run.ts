// Section 5 of BENCHMARKS.md: the wave benchmark, run with the construct's event source mapping
// settings (lib/defaults.ts WARNING_BUFFER), and the memory of one 1,000-event invocation.
import { WARNING_BUFFER } from '../lib/defaults';
import { measureWaveMemory, type WaveMemory } from './wave-memory';
import { PER_EVENT_MAX, WAVE_SIZES, measureWaves, renderWaves, type Buffering, type WaveResult } from './wave';
import { percentile } from './support';

export const CONSTRUCT_BUFFERING: Buffering = {
  batchSize: WARNING_BUFFER.batchSize,
  maxConcurrency: WARNING_BUFFER.maxConcurrency,
  windowMs: WARNING_BUFFER.maxBatchingWindow.toMilliseconds(),
};

/** The heap a 256 MB function leaves V8's old space, about (Lambda's runtime sizes it from the memory setting). */
export const HEAP_CAP_MB = 200;

export interface WaveSection {
  waves: WaveResult[];
  /** Uncapped: the peak V8 lets the heap reach on this machine. */
  memory: WaveMemory | Error;
  /** With the old space capped at HEAP_CAP_MB: whether the invocation fits at all. */
  capped: WaveMemory | Error;
}

export async function measureWaveSection(log: (line: string) => void): Promise<WaveSection> {
  const waves = await measureWaves(CONSTRUCT_BUFFERING, WAVE_SIZES, log);
  log('wave: one invocation of 1,000 events, memory (child process)');
  const memory = await measureWaveMemory(1_000).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  log(`wave: the same with the heap capped at ${HEAP_CAP_MB} MB`);
  const capped = await measureWaveMemory(1_000, HEAP_CAP_MB).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  return { waves, memory, capped };
}

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MB`;

export function renderWaveSection(section: WaveSection): string {
  const { waves, memory, capped } = section;
  const b = CONSTRUCT_BUFFERING;
  const biggest = waves.filter((w) => w.mode === 'batched').sort((x, y) => y.size - x.size)[0];
  const goals: string[] = [];
  if (biggest) {
    const p99 = percentile(biggest.stoppedMs, 99);
    goals.push(
      `- ${biggest.size} warnings, batched: **${((100 * biggest.stoppedInTime) / biggest.size).toFixed(1)} %** traffic stopped before the deadline ` +
        `(goal 100 %); p99 to traffic stopped **${(p99 / 1000).toFixed(1)} s** (goal ≤ 10 s: ${p99 <= 10_000 ? 'met' : '**missed**'}); ` +
        `${biggest.sends['elbv2:DeregisterTargets'] ?? 0} DeregisterTargets for ${biggest.size} instances in 10 target groups ` +
        `(one per target group, chunk and batch: bounded by target groups × chunks × batches, not by instances; per-event sends one per registration).`,
    );
  }
  const memLine = (m: WaveMemory | Error, label: string) =>
    m instanceof Error
      ? `- ${label}: **did not finish**: ${m.message.split('\n').find((l) => /heap|memory|Allocation/i.test(l)) ?? m.message.slice(0, 200)}`
      : `- ${label}: ${m.result.outcomes.handled ?? 0} of ${m.events} handled; peak RSS ${mb(m.peakRss)} (kernel ru_maxrss ${mb(m.maxRss)}), ` +
        `peak heap used ${mb(m.peakHeap)}; before the wave ${mb(m.rssBefore)} RSS, ${mb(m.heapBefore)} heap; the invocation took ` +
        `${(m.result.invocationMs / 1000).toFixed(1)} s and sent ${m.result.sends['elbv2:DeregisterTargets'] ?? 0} DeregisterTargets.`;
  return [
    'An in-process AWS (bench/simulator: EC2, Auto Scaling, ELBv2, ECS at the SDK\'s deserialize step, DynamoDB on the wire) with ' +
      "AWS's documented per-account buckets, throttling with AWS's own error codes, lognormal latency (median 30 ms control " +
      'plane, 8 ms DynamoDB, σ 0.35), a replacement launched 5 s after a detach. The fleet: 5 Auto Scaling groups, 10 target ' +
      'groups (each group in its own; groups 0-1 ECS bridge-mode container instances also registered on 3 dynamic ports in a ' +
      'service target group; groups 2-4 also registered by IP), the target index seeded with the groups\' facts. All warnings ' +
      'carry the same second; the deadline is 120 s after it.',
    '',
    `- **batched**: EventBridge → SQS → event source mapping with the construct's settings: batches of up to ${b.batchSize}, ` +
      `a ${b.windowMs / 1000} s window for a partial batch, at most ${b.maxConcurrency} invocations at once, each container ` +
      "reused and pacing itself (lambda/aws/pacing.ts) to the account's buckets. A failed record counts as failed (not " +
      'redelivered; the handler would bring it back 21 s later, just past a claim lease). The mapping is modelled as one poller that fills ' +
      "a batch before the next (all the wave's messages are in the queue at once); Lambda's SQS pollers (five at first) " +
      'gather in parallel, so a real wave may come as up to five smaller batches, each with its own DeregisterTargets per ' +
      'target group: at most 5 × 14 calls for 1,000 warnings here, which the 20 / 4 per s bucket serves in about 12 s.',
    '- **per-event**: the old EventBridge → Lambda async path: one invocation per warning, all at once (Lambda scales a ' +
      'function by 1,000 concurrent executions at a time), each in its own container with its own pacing buckets; a failed ' +
      "invocation is retried by Lambda a minute later (the clock skips the idle minute; the account's buckets refill meanwhile). " +
      `Simulated up to ${PER_EVENT_MAX} warnings: at 1,000 the retry traffic of 1,000 containers saturates the one Node ` +
      'thread that also simulates AWS (tried once: 8 minutes at 100 % CPU, 0 % stopped in time, times that measure the ' +
      "simulator's queue, not AWS).",
    '',
    renderWaves(waves),
    '',
    '**What one thread cannot show.** Every container and the simulated AWS share one Node thread here: ' +
      "the responder's own CPU per call (the SDK's middleware, marshalling) queues " +
      'behind every other container\'s. In Lambda each container has its own share (a third of a vCPU at 512 MB). Calls, ' +
      'throttles and who waits for which bucket are the model; milliseconds under heavy load are upper bounds.',
    '',
    '**One invocation of 1,000 events** (one SQS batch of 1,000; the handler bundled with esbuild as CDK bundles it, run by ' +
      'plain node in a process of its own that holds only what a Lambda container would: its clients, the handler and the ' +
      'batch. The simulated AWS, its tables and the fleet answer from the benchmark\'s process over a loopback port: DynamoDB ' +
      "on the wire through the SDK's own HTTP handler, the other services one JSON call per command; bench/simulator/server.ts). " +
      '"Before the wave" is the process with its clients built and the batch in hand:',
    '',
    memLine(memory, 'heap uncapped'),
    memLine(capped, `old space capped at ${HEAP_CAP_MB} MB (what a 256 MB function leaves V8, about)`),
    '',
    '**Against the goals**',
    '',
    ...goals,
    memory instanceof Error || capped instanceof Error
      ? '- One invocation of 1,000 events within 256 MB: **missed** (see above).'
      : `- One invocation of 1,000 events within 256 MB: peak RSS ${mb(capped.peakRss)} with the heap capped (${capped.peakRss < 256 * 1024 ** 2 ? 'met' : '**missed**'}).`,
  ].join('\n');
}
