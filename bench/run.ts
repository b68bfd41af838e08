// `npm run bench`: runs every measurement once, against its own moto, and writes BENCHMARKS.md
// from what it measured. Nothing here asserts a time: the numbers are reported, not judged.
// `npm run bench -- wave` runs only section 5 (the wave, against the simulator; no moto),
// `npm run bench -- rounds` only section 6 (one warning's rounds behind a latency proxy),
// `npm run bench -- reliability` only section 7 (50 warnings through injected faults), and
// each replaces its own section of the existing BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { version as esbuildVersion } from 'esbuild';
import { REPO_ROOT, VENV_DIR, pinnedMotoVersion, startEmulator, type Emulator } from '../dev/emulator';
import { measureCalls, renderCalls, type CallsScenario } from './calls';
import {
  bundleHandler,
  measureColdStart,
  measureHeap,
  renderColdStart,
  type ColdStartResult,
  type HeapResult,
} from './cold-start';
import { measureLatency, renderLatency, type LatencyResult } from './latency';
import { measureReliability, renderReliability, type ReliabilityResult } from './reliability';
import { ELBV2_DESCRIBE_PER_SECOND, fullScanCalls, measureScaling, renderScaling, type ScalingStep } from './scaling';
import { isElbv2Describe, median, progress } from './support';
import { measureRounds, renderRounds, type RoundsResult } from './rounds';
import { measureWaveSection, renderWaveSection, type WaveSection } from './wave-run';

const OUTPUT = path.join(REPO_ROOT, 'BENCHMARKS.md');
const WAVE_HEADING = '## 5. A wave of simultaneous warnings (simulator)';
const ROUNDS_HEADING = '## 6. One warning, round by round, against the awslabs sample (moto behind a latency proxy)';
const RELIABILITY_HEADING = '## 7. Reliability under injected faults (moto behind the fault proxy)';

/** A section that can run on its own (`npm run bench -- NAME`) and replace its part of the report. */
interface SoloSection {
  heading: string;
  /** Measures and renders the section's body; `endpoint` is moto's when `emulator` is set. */
  run(endpoint: string | undefined): Promise<string>;
  emulator: boolean;
}

const SOLO_SECTIONS: Record<string, SoloSection> = {
  wave: { heading: WAVE_HEADING, emulator: false, run: async () => renderWaveSection(await measureWaveSection(progress)) },
  rounds: {
    heading: ROUNDS_HEADING,
    emulator: true,
    run: async (endpoint) => renderRounds(await measureRounds(required(endpoint))),
  },
  reliability: {
    heading: RELIABILITY_HEADING,
    emulator: true,
    run: async (endpoint) => renderReliability(await measureReliability(required(endpoint), progress)),
  },
};

function required(endpoint: string | undefined): string {
  if (!endpoint) throw new Error('this section needs the emulator');
  return endpoint;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  if (only.length > 0) {
    const known = Object.keys(SOLO_SECTIONS);
    const unknown = only.filter((name) => !known.includes(name));
    if (unknown.length > 0) throw new Error(`unknown section(s): ${unknown.join(', ')}; known: ${known.join(', ')}`);
    for (const name of only) await sectionOnly(name, SOLO_SECTIONS[name] as SoloSection);
    return;
  }
  const started = performance.now();
  const date = new Date();
  progress('bundling lambda/handler.ts and timing fresh processes (before the emulator starts)');
  const bundle = await bundleHandler();
  let emulator: Emulator | undefined;
  try {
    const cold = measureColdStart(bundle);
    emulator = await startEmulator({ log: (line) => progress(line) });
    progress('1/4 calls per warning');
    const calls = await measureCalls(emulator.endpoint);
    await emulator.reset();
    progress('2/4 latency per warning');
    const latency = await measureLatency(emulator.endpoint);
    await emulator.reset();
    progress('3/4 scaling with target groups');
    const scaling = await measureScaling(emulator.endpoint);
    await emulator.reset();
    progress('4/5 memory over many events in one process');
    const heap = await measureHeap(emulator.endpoint, bundle);
    // 200 responses leave moto's deep-copied tables so large that its reset outlasts its timeout:
    // the rest of the run gets a fresh server instead.
    await stopHeld(emulator);
    emulator = undefined;
    emulator = await startEmulator({ log: (line) => progress(line) });
    progress('5/7 one warning round by round behind a latency proxy');
    const roundsResult = await measureRounds(emulator.endpoint);
    await emulator.reset();
    progress('6/7 reliability: 50 warnings at two fault levels');
    const reliability = await measureReliability(emulator.endpoint, progress);
    progress('7/7 a wave of warnings against the simulator');
    const wave = await measureWaveSection(progress);

    const report = render(date, (performance.now() - started) / 1000, calls, latency, scaling, cold, heap, wave, roundsResult, reliability);
    fs.writeFileSync(OUTPUT, report);
    process.stdout.write(report);
    progress(`wrote ${path.relative(process.cwd(), OUTPUT)}`);
  } finally {
    if (emulator) await stopHeld(emulator);
    fs.rmSync(bundle.dir, { recursive: true, force: true });
  }
}

/**
 * One section alone, written over that section of the existing report (from its heading to the
 * next `## ` heading), or appended to it.
 */
async function sectionOnly(name: string, solo: SoloSection): Promise<void> {
  const started = performance.now();
  const date = new Date();
  const emulator = solo.emulator ? await startEmulator({ log: (line) => progress(line) }) : undefined;
  let body: string;
  try {
    body = await solo.run(emulator?.endpoint);
  } finally {
    if (emulator) await stopHeld(emulator);
  }
  const section = [
    solo.heading,
    '',
    `Command: \`npm run bench -- ${name}\` (this section alone), ${((performance.now() - started) / 1000).toFixed(0)} s, ` +
      `${date.toISOString()}, code ${run('git', ['describe', '--always', '--dirty'])}; the other sections are from the run named at the top.`,
    '',
    body,
    '',
  ].join('\n');
  const existing = fs.existsSync(OUTPUT) ? fs.readFileSync(OUTPUT, 'utf8') : '';
  const at = existing.indexOf(solo.heading);
  const next = at >= 0 ? existing.indexOf('\n## ', at + solo.heading.length) : -1;
  const report =
    at < 0 ? `${existing.trimEnd()}\n\n${section}` : existing.slice(0, at) + section + (next >= 0 ? existing.slice(next + 1) : '');
  fs.writeFileSync(OUTPUT, report);
  process.stdout.write(section);
  progress(`wrote "${solo.heading}" in ${path.relative(process.cwd(), OUTPUT)}`);
}

/**
 * Emulator.stop() waits for moto's exit event, but the child is unref'd: when SIGTERM is not
 * enough and SIGKILL follows, nothing keeps this process alive until that event arrives, and
 * Node exits in the middle of stop(). A timer holds the event loop open until moto is gone.
 */
async function stopHeld(emulator: Emulator): Promise<void> {
  const hold = setInterval(() => undefined, 1_000);
  const started = performance.now();
  try {
    await emulator.stop();
    progress(`emulator stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    clearInterval(hold);
  }
}

function render(
  date: Date,
  seconds: number,
  calls: CallsScenario[],
  latency: LatencyResult,
  scaling: ScalingStep[],
  cold: ColdStartResult,
  heap: HeapResult,
  wave: WaveSection,
  roundsResult: RoundsResult,
  reliability: ReliabilityResult,
): string {
  return [
    header(date, seconds),
    '## Findings',
    '',
    findings(calls, latency, scaling, cold, heap),
    '',
    '## 1. AWS calls per warning',
    '',
    'Every SDK command sent while `replay()` handled one warning, counted by a middleware on the clients ' +
      '(`initialize` step, so retries are inside one call), in the order they started. A call that starts after another ' +
      'has ended is in a later round, so the rounds are the sequential round trips. The target index was refreshed first.',
    '',
    renderCalls(calls),
    '',
    "## 2. Scaling with the account's target groups",
    '',
    renderScaling(scaling),
    '',
    'moto does not page DescribeTargetGroups (it returns every group in one answer), so the measured refresher makes one ' +
      'DescribeTargetGroups call; the AWS columns count the pages AWS needs (400 a page). The naive column is what the hot ' +
      'path would cost if it searched for the instance the way the refresher does: every page of DescribeTargetGroups and ' +
      "one DescribeTargetHealth per target group, for every warning, from the account's shared ELBv2 Describe bucket, " +
      'and once more for every other warning arriving at the same time.',
    '',
    '## 3. Latency per warning (emulator)',
    '',
    renderLatency(latency),
    '',
    'These are **emulator numbers**: loopback HTTP to one local moto process, no TLS, no network, no real control-plane ' +
      'work behind a call, on a shared 2-core machine that also runs moto. They show the responder\'s own overhead and ' +
      'how many sequential round trips it waits on, not AWS latency: in AWS, time to traffic stopped is about one real API ' +
      'round trip per round up to the last DeregisterTargets (section 1), plus any throttling retries.',
    '',
    '## 4. Cold start of the Lambda bundle, and memory per event',
    '',
    renderColdStart(cold, heap),
    '',
    `Measured with Node ${process.version} on this machine; Lambda runs Node 22 on arm64 with its own CPU share, so ` +
      'the ratios carry over, the milliseconds do not.',
    '',
    WAVE_HEADING,
    '',
    renderWaveSection(wave),
    '',
    ROUNDS_HEADING,
    '',
    renderRounds(roundsResult),
    '',
    RELIABILITY_HEADING,
    '',
    renderReliability(reliability),
    '',
  ].join('\n');
}

function header(date: Date, seconds: number): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return [
    '# Benchmarks',
    '',
    '<!-- Written by bench/run.ts; rerun `npm run bench` instead of editing. -->',
    '',
    `- Command: \`npm run bench\` (\`tsx bench/run.ts\`), one run, ${seconds.toFixed(0)} s`,
    `- Date: ${date.toISOString()}`,
    `- Machine: ${run('nproc')} CPUs (nproc), ${cpu}, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB, ${os.type()} ${os.release()} ${os.arch()}; shared and noisy`,
    `- Node ${process.version}; moto ${motoVersion()} (server mode, loopback); esbuild ${esbuildVersion}; AWS SDK for JavaScript ${sdkVersion()}`,
    `- Code: ${run('git', ['describe', '--always', '--dirty'])}${run('git', ['status', '--porcelain']) ? ' plus uncommitted changes' : ''}`,
    '',
    'Medians and ratios from this one run; no number here is a pass/fail threshold.',
    '',
  ].join('\n');
}

/** The statements the numbers support, worded from the numbers. */
function findings(
  calls: CallsScenario[],
  latency: LatencyResult,
  scaling: ScalingStep[],
  cold: ColdStartResult,
  heap: HeapResult,
): string {
  const lines: string[] = [];
  const before = (s: CallsScenario) => {
    const lastStart = Math.max(...s.calls.filter((c) => c.command === 'DeregisterTargets').map((c) => c.start));
    return s.calls.filter((c) => isElbv2Describe(c) && c.start < lastStart).length;
  };
  const hot = Math.max(...calls.map(before), ...scaling.flatMap((s) => s.events.describesBeforeTrafficStopped));
  const first = scaling[0];
  const last = scaling[scaling.length - 1];
  if (first && last) {
    const naive = fullScanCalls(last.accountGroups);
    lines.push(
      `- **ELBv2 Describe calls before traffic is stopped: ${hot}** in every measured warning, with ${first.accountGroups} ` +
        `to ${last.accountGroups} target groups in the account: the design claim ${hot === 0 ? 'holds' : '**does not hold**'}. ` +
        `Searching ELBv2 instead would cost ${naive} Describe calls per warning at ${last.accountGroups} groups, ` +
        `${(naive / ELBV2_DESCRIBE_PER_SECOND).toFixed(0)} s at ${ELBV2_DESCRIBE_PER_SECOND} calls/s; the refresher makes ` +
        `that walk (${last.refresh.describeTargetGroups + last.refresh.describeTargetHealth} calls in moto) on its schedule instead.`,
    );
    const claimGrowth = median(last.events.claimMs) / median(first.events.claimMs);
    lines.push(
      `- Time to traffic stopped (emulator, median): ${median(first.events.trafficStoppedMs).toFixed(0)} ms with ` +
        `${first.accountGroups} target groups, ${median(last.events.trafficStoppedMs).toFixed(0)} ms with ${last.accountGroups}.` +
        (claimGrowth > 1.5
          ? ` What grows is DynamoDB, not ELBv2: the claim's TransactWriteItems went from ${median(first.events.claimMs).toFixed(0)} ` +
            `to ${median(last.events.claimMs).toFixed(0)} ms because moto deep-copies the whole table (which holds the index) ` +
            'for every transaction; DynamoDB does not.'
          : ''),
    );
  }
  for (const s of calls) {
    const after = s.calls.filter(isElbv2Describe).length - before(s);
    if (after > 0) {
      lines.push(
        `- ${s.name}: ${after} ELBv2 DescribeTargetHealth calls per warning **after** traffic stopped, one per target group ` +
          "of the Auto Scaling group, to read the replacement's health. They do not delay traffic stopping, but they draw on " +
          'the account bucket the design protects, and a batch of simultaneous warnings spends that many per instance. ' +
          "In AWS the replacement is usually still 'initial' or not yet registered at that point (the code says so).",
      );
    }
    const hooks = s.calls.filter((c) => c.command === 'DescribeLifecycleHooks').length;
    if (hooks > 1) {
      lines.push(
        `- ${s.name}: DescribeLifecycleHooks is sent ${hooks} times per warning. The replacement check re-reads the group ` +
          'through `describeGroup`, which reads the hooks too, and uses only the instance list: one unneeded Auto Scaling ' +
          'call per warning (not an extra round: it runs beside DescribeAutoScalingGroups).',
      );
    }
  }
  lines.push(
    `- Latency (emulator, ${latency.events} warnings): traffic stopped after a median of ` +
      `${median(latency.trafficStoppedMs).toFixed(0)} ms, the whole response took ${median(latency.totalMs).toFixed(0)} ms.`,
  );
  const [bare, plain, withMaps, ec2Only] = cold.variants.map((v) => ({ wall: median(v.wallMs), rss: median(v.rssBytes) }));
  if (bare && plain && withMaps && ec2Only) {
    const ec2 = cold.bundle.largest.find((p) => p.name === '@aws-sdk/client-ec2');
    lines.push(
      `- Cold start: loading the ${Math.round(cold.bundle.bytes / 1024)} KB bundle takes ${(plain.wall / bare.wall).toFixed(1)}× ` +
        `a bare node start (+${(plain.wall - bare.wall).toFixed(0)} ms here) and ${(plain.rss / bare.rss).toFixed(1)}× its RSS ` +
        `(+${((plain.rss - bare.rss) / 1024 ** 2).toFixed(0)} MB). The EC2 client, used for one DescribeInstances, is ` +
        `${ec2 ? `${Math.round((100 * ec2.bytes) / cold.bundle.bytes)} % of the bundle and ` : ''}on its own costs ` +
        `+${(ec2Only.wall - bare.wall).toFixed(0)} ms and +${((ec2Only.rss - bare.rss) / 1024 ** 2).toFixed(0)} MB. ` +
        `\`--enable-source-maps\` (as deployed) changes the load time by ${(withMaps.wall - plain.wall).toFixed(0)} ms ` +
        `and RSS by ${((withMaps.rss - plain.rss) / 1024 ** 2).toFixed(0)} MB.`,
    );
  }
  const firstHeap = heap.heapAfter[0];
  const midHeap = heap.heapAfter.find((h) => h.events === heap.events / 2);
  const lastHeap = heap.heapAfter[heap.heapAfter.length - 1];
  if (firstHeap && midHeap && lastHeap) {
    lines.push(
      `- Warm container: heap after ${lastHeap.events} events is ${(lastHeap.bytes / firstHeap.bytes).toFixed(2)}× the heap ` +
        `after 1 (+${((lastHeap.bytes - firstHeap.bytes) / 1024 ** 2).toFixed(1)} MB); after warm-up (events ${midHeap.events} → ` +
        `${lastHeap.events}) it grows ${((lastHeap.bytes - midHeap.bytes) / (lastHeap.events - midHeap.events) / 1024).toFixed(1)} KB per event.`,
    );
  }
  return lines.join('\n');
}

function run(command: string, args: string[] = []): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd: REPO_ROOT }).trim();
  } catch {
    return 'unknown';
  }
}

function motoVersion(): string {
  const python = path.join(VENV_DIR, 'bin', 'python');
  const installed = run(python, ['-c', "import importlib.metadata as m; print(m.version('moto'))"]);
  return installed === 'unknown' ? `${pinnedMotoVersion()} (pinned)` : installed;
}

function sdkVersion(): string {
  const manifest = path.join(REPO_ROOT, 'node_modules/@aws-sdk/client-elastic-load-balancing-v2/package.json');
  return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
