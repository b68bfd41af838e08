// 4. What the Lambda bundle costs at cold start, and whether a warm container grows per event.
// The bundle is built the way ResponderFunction (lib/responder-function.ts) has CDK build it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTargetGroupCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { spotWarningEvent } from '../cli/sample-events';
import { EMULATOR_ACCOUNT, EMULATOR_REGION } from '../cli/emulator-target';
import { RESPONDER_ENV } from '../lambda/contract';
import { REPO_ROOT } from '../dev/emulator';
import { buildDemoFleet } from '../dev/fleet';
import { median, ms, percentile, table, withReplayer } from './support';

const RUNS = 7;
const HEAP_EVENTS = 200;
const HEAP_CHECKPOINTS = [1, 50, 100, 150, 200];
const HEAP_TABLE = 'bench-heap';

/** What the handler reads at cold start (lambda/config.ts), and nothing of this process's env. */
const HANDLER_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  TABLE_NAME: HEAP_TABLE,
  // Observe (a deployment's default): the same lookups, plan and records as act, with no mutation.
  // Acting 200 times in a row slows moto's deep-copied tables until its own reset times out.
  [RESPONDER_ENV.mode]: 'observe',
  ACCEPTED_ACCOUNTS: EMULATOR_ACCOUNT,
  ACCEPTED_REGIONS: EMULATOR_REGION,
  AWS_REGION: EMULATOR_REGION,
};

/** esbuild as CDK runs it: --bundle --target=node22 --platform=node --format=cjs --minify --sourcemap --sources-content=false, nothing external. */
export const AS_DEPLOYED: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
};

export interface Bundle {
  dir: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** The packages that take the most of the bundle, largest first. */
  largest: { name: string; bytes: number }[];
  /** The EC2 client alone, constructed once, bundled the same way: what DescribeInstances brings. */
  ec2Only: { file: string; bytes: number };
}

export async function bundleHandler(): Promise<Bundle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-bench-'));
  const file = path.join(dir, 'index.js');
  const { metafile } = await build({
    ...AS_DEPLOYED,
    entryPoints: [path.join(REPO_ROOT, 'lambda/handler.ts')],
    outfile: file,
    metafile: true,
  });
  const ec2OnlyFile = path.join(dir, 'ec2-only.js');
  await build({
    ...AS_DEPLOYED,
    stdin: { contents: "const { EC2Client } = require('@aws-sdk/client-ec2'); new EC2Client({});", resolveDir: REPO_ROOT },
    outfile: ec2OnlyFile,
  });

  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile?.outputs ?? {})) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'spot-responder (this repo)';
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  const code = fs.readFileSync(file);
  return {
    dir,
    file,
    bytes: code.length,
    gzipBytes: gzipSync(code).length,
    mapBytes: fs.statSync(`${file}.map`).size,
    largest: [...byPackage].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 6),
    ec2Only: { file: ec2OnlyFile, bytes: fs.statSync(ec2OnlyFile).size },
  };
}

export interface StartupVariant {
  name: string;
  command: string;
  wallMs: number[];
  rssBytes: number[];
}

export interface ColdStartResult {
  bundle: Bundle;
  /** The first is the bare-node baseline. */
  variants: StartupVariant[];
}

/** Fresh processes, interleaved so that machine noise falls on every variant alike; one warm-up each. */
export function measureColdStart(bundle: Bundle): ColdStartResult {
  // Every variant prints its RSS at the end, so each pays the same for reporting it.
  const report = 'process.stdout.write(String(process.memoryUsage().rss))';
  const load = (file: string) => `require('${file}')`;
  const shown = (file: string) => `node -e "require('<tmp>/${path.basename(file)}')"`;
  const variants = [
    { name: 'bare node (baseline)', command: 'node -e ""', script: report, env: HANDLER_ENV },
    { name: 'require the handler bundle', command: shown(bundle.file), script: `${load(bundle.file)};${report}`, env: HANDLER_ENV },
    {
      name: 'the same, with NODE_OPTIONS=--enable-source-maps (as deployed)',
      command: `NODE_OPTIONS=--enable-source-maps ${shown(bundle.file)}`,
      script: `${load(bundle.file)};${report}`,
      env: { ...HANDLER_ENV, NODE_OPTIONS: '--enable-source-maps' },
    },
    {
      name: 'the EC2 client alone, bundled the same way',
      command: shown(bundle.ec2Only.file),
      script: `${load(bundle.ec2Only.file)};${report}`,
      env: HANDLER_ENV,
    },
  ].map((v) => ({ ...v, wallMs: [] as number[], rssBytes: [] as number[] }));
  for (let run = 0; run <= RUNS; run++) {
    for (const v of variants) {
      const started = performance.now();
      const child = spawnSync(process.execPath, ['-e', v.script], { env: v.env, encoding: 'utf8' });
      const wall = performance.now() - started;
      if (child.status !== 0) throw new Error(`${v.command} failed (${child.status}): ${child.stderr}`);
      if (run === 0) continue;
      v.wallMs.push(wall);
      v.rssBytes.push(Number(child.stdout.trim()));
    }
  }
  return { bundle, variants: variants.map(({ name, command, wallMs, rssBytes }) => ({ name, command, wallMs, rssBytes })) };
}

export interface HeapResult {
  events: number;
  outcomes: Record<string, number>;
  /** Per event, in order. */
  eventMs: number[];
  /** Heap used after a full GC, after that many events. */
  heapAfter: { events: number; bytes: number }[];
  rssAfterAll: number;
}

/**
 * One process, one module instance (a warm container): the bundled handler answers warnings for
 * HEAP_EVENTS standalone instances against the emulator, as fast as it can.
 */
export async function measureHeap(endpoint: string, bundle: Bundle): Promise<HeapResult> {
  const ids = await withReplayer(endpoint, HEAP_TABLE, async (replayer) => {
    const fleet = await buildDemoFleet(replayer.clients, { prefix: 'heap' });
    const launched = await replayer.clients.ec2.send(
      new RunInstancesCommand({ ImageId: 'ami-12c6146b', InstanceType: 't3.micro', MinCount: HEAP_EVENTS, MaxCount: HEAP_EVENTS, SubnetId: fleet.subnetIds[1] }),
    );
    const instanceIds = (launched.Instances ?? []).map((i) => i.InstanceId ?? '');
    const group = await replayer.clients.elbv2.send(
      new CreateTargetGroupCommand({ Name: 'heap-standalone', Protocol: 'HTTP', Port: 8000, VpcId: fleet.vpcId, TargetType: 'instance' }),
    );
    await replayer.clients.elbv2.send(
      new RegisterTargetsCommand({ TargetGroupArn: group.TargetGroups?.[0]?.TargetGroupArn, Targets: instanceIds.map((Id) => ({ Id })) }),
    );
    await replayer.refreshIndex();
    return instanceIds;
  });

  const eventsFile = path.join(bundle.dir, 'events.json');
  const resultFile = path.join(bundle.dir, 'heap.json');
  fs.writeFileSync(eventsFile, JSON.stringify(ids.map((id) => spotWarningEvent(id))));
  const script = `
    const fs = require('fs');
    const { handler } = require('${bundle.file}');
    const events = JSON.parse(fs.readFileSync('${eventsFile}', 'utf8'));
    const checkpoints = ${JSON.stringify(HEAP_CHECKPOINTS)};
    const outcomes = {};
    const eventMs = [];
    const heapAfter = [];
    (async () => {
      for (const [i, event] of events.entries()) {
        const started = performance.now();
        // Stamped as it is handed over, as EC2 would: 200 warnings one after the other outlast one notice.
        event.time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const outcome = await handler(event).then((r) => r.outcome, (e) => (e.record ? e.record.outcome : 'threw'));
        eventMs.push(performance.now() - started);
        outcomes[outcome] = (outcomes[outcome] || 0) + 1;
        if (checkpoints.includes(i + 1)) {
          global.gc();
          global.gc();
          heapAfter.push({ events: i + 1, bytes: process.memoryUsage().heapUsed });
        }
      }
      fs.writeFileSync('${resultFile}', JSON.stringify({
        events: events.length, outcomes, eventMs, heapAfter, rssAfterAll: process.memoryUsage().rss,
      }));
      process.exit(0);
    })();`;
  const child = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
    env: { ...HANDLER_ENV, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    // 200 responses against moto, one after the other (about half a second each here).
    timeout: 300_000,
  });
  if (child.status !== 0) throw new Error(`heap run failed (${child.status ?? child.signal}): ${child.stderr.slice(-2000)}`);
  return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as HeapResult;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number): string => `${Math.round(bytes / 1024)} KB`;

export function renderColdStart(cold: ColdStartResult, heap: HeapResult): string {
  const baseline = cold.variants[0];
  const baselineWall = baseline ? median(baseline.wallMs) : NaN;
  const baselineRss = baseline ? median(baseline.rssBytes) : NaN;
  const { bundle } = cold;
  const firstHeap = heap.heapAfter[0];
  const midHeap = heap.heapAfter.find((h) => h.events === heap.events / 2);
  const lastHeap = heap.heapAfter[heap.heapAfter.length - 1];
  const perEvent = (from: typeof firstHeap, to: typeof firstHeap) =>
    from && to ? `${((to.bytes - from.bytes) / (to.events - from.events) / 1024).toFixed(1)} KB` : '-';
  return [
    `Bundle of \`lambda/handler.ts\` (esbuild, as the stack builds it): **${kb(bundle.bytes)}** ` +
      `(${kb(bundle.gzipBytes)} gzipped), source map ${kb(bundle.mapBytes)}. Largest parts:`,
    '',
    table(
      ['package', 'bytes in the bundle', 'share'],
      bundle.largest.map((p) => [p.name, kb(p.bytes), `${Math.round((100 * p.bytes) / bundle.bytes)} %`]),
    ),
    '',
    `The EC2 client alone, bundled the same way: ${kb(bundle.ec2Only.bytes)}.`,
    '',
    `Fresh processes, ${RUNS} runs each after one warm-up, interleaved; the handler's environment ` +
      '(TABLE_NAME, ACCEPTED_ACCOUNTS, ACCEPTED_REGIONS, AWS_REGION) set. Each command also prints its RSS at exit.',
    '',
    table(
      ['process', 'command', 'wall, median', 'vs bare node', 'RSS at exit, median', 'vs bare node'],
      cold.variants.map((v) => {
        const wall = median(v.wallMs);
        const rss = median(v.rssBytes);
        return [v.name, `\`${v.command}\``, ms(wall), `${(wall / baselineWall).toFixed(2)}×`, mb(rss), `${(rss / baselineRss).toFixed(2)}×`];
      }),
    ),
    '',
    `Warm container: the bundled handler answered ${heap.events} warnings in one process, back to back (standalone ` +
      `instances, each in one target group; outcomes ${Object.entries(heap.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
      'against the emulator. Heap used after a full GC:',
    '',
    table(
      ['after events', ...heap.heapAfter.map((h) => String(h.events))],
      [['heap used', ...heap.heapAfter.map((h) => mb(h.bytes))]],
    ),
    '',
    table(
      ['warm container', 'value'],
      [
        [`heap after ${lastHeap?.events} events vs after 1`, firstHeap && lastHeap ? `${(lastHeap.bytes / firstHeap.bytes).toFixed(2)}×` : '-'],
        [`growth per event, events 1 → ${lastHeap?.events}`, perEvent(firstHeap, lastHeap)],
        [`growth per event, events ${midHeap?.events} → ${lastHeap?.events} (after warm-up)`, perEvent(midHeap, lastHeap)],
        [`RSS after ${heap.events} events`, mb(heap.rssAfterAll)],
        ['time per event (emulator), median / p90', `${ms(median(heap.eventMs))} / ${ms(percentile(heap.eventMs, 90))}`],
      ],
    ),
    '',
    'Each warning is stamped as it is handed over, and every AWS call carries an `AbortSignal.timeout` set to its ' +
      "warning's deadline (up to 120 s away): state tied to a pending timer can stay reachable until it fires, so " +
      'the growth above is an upper bound for what a container keeps per event.',
  ].join('\n');
}
