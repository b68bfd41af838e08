// The memory of one invocation that handles a whole wave: 1,000 warnings in one SQS batch.
// The handler runs alone in a child process, bundled as CDK bundles it (esbuild, bench/cold-start.ts's
// options) and run by plain node: one Lambda container and nothing else. The simulated AWS (its
// tables, the fleet, the buckets) stays in this process and answers over a loopback port
// (bench/simulator/server.ts), so the child's memory is the handler's own, as Lambda would
// meter it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../dev/emulator';
import { AS_DEPLOYED } from './cold-start';
import { serveSimulator } from './simulator/server';
import { WAVE_SETTINGS, prepareWave, sqsRecords, tally, type WaveResult } from './wave';
import type { ChildMemory, MemoryJob } from './wave-memory-child';

export interface WaveMemory {
  events: number;
  result: WaveResult;
  /** The child's memory once its clients and handler are built and the batch is in hand (bytes). */
  rssBefore: number;
  heapBefore: number;
  /** Sampled every 10 ms during the invocation (bytes). */
  peakRss: number;
  peakHeap: number;
  /** The kernel's peak resident set (ru_maxrss) of the child, its whole life (bytes). */
  maxRss: number;
}

/**
 * Runs the child with V8's old space capped at `heapCapMb` when given, as a small Lambda
 * function's heap would be, so the collector works as hard as it would there; without a cap V8
 * grows into this machine's memory and the peak says more about laziness than about need.
 */
export async function measureWaveMemory(events = 1_000, heapCapMb?: number): Promise<WaveMemory> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-wave-memory-'));
  try {
    const file = path.join(dir, 'wave-memory.js');
    await build({ ...AS_DEPLOYED, sourcemap: false, entryPoints: [path.join(REPO_ROOT, 'bench/wave-memory-child.ts')], outfile: file });
    const wave = await prepareWave(events);
    const server = await serveSimulator(wave.plane);
    try {
      const job: MemoryJob = { url: server.url, records: sqsRecords(wave.events), ...WAVE_SETTINGS };
      const started = Date.now();
      const child = await runChild(file, ['--expose-gc', ...(heapCapMb ? [`--max-old-space-size=${heapCapMb}`] : [])], JSON.stringify(job));
      const wallMs = Date.now() - started;
      const result = tally(wave.plane, wave.fleet, wave.t0, {
        mode: 'batched',
        size: events,
        buffering: { batchSize: events, maxConcurrency: 1, windowMs: 1_000 },
        cpuMs: child.cpuMs,
        sends: child.sends,
        invocations: [child.invocationMs],
        retried: 0,
        wallMs,
      });
      const { rssBefore, heapBefore, peakRss, peakHeap, maxRss } = child;
      return { events, result, rssBefore, heapBefore, peakRss, peakHeap, maxRss };
    } finally {
      await server.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the bundled child (not spawnSync: this process serves the simulator meanwhile). */
function runChild(file: string, flags: string[], job: string): Promise<ChildMemory> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_REGION: 'us-east-1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => {
      if (status !== 0) return reject(new Error(`wave memory child failed (${status}): ${stderr.slice(-2000)}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line) as ChildMemory);
    });
    child.stdin.end(job);
  });
}
