// The memory of one invocation that handles a whole wave: 1,000 warnings in one SQS batch,
// the handler bundled as CDK bundles it (esbuild, bench/cold-start.ts's options) together with
// the simulator, run by plain node in a fresh process (no tsx, no jest in the heap).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../dev/emulator';
import { AS_DEPLOYED } from './cold-start';
import type { WaveResult } from './wave';

export interface WaveMemory {
  events: number;
  result: WaveResult;
  rssBefore: number;
  heapBefore: number;
  /** Sampled every 10 ms during the run. */
  peakRss: number;
  peakHeap: number;
  /** The kernel's peak resident set (ru_maxrss) of the whole process. */
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
    const flags = ['--expose-gc', ...(heapCapMb ? [`--max-old-space-size=${heapCapMb}`] : [])];
    const child = spawnSync(process.execPath, [...flags, file, String(events)], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_REGION: 'us-east-1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (child.status !== 0) throw new Error(`wave memory child failed (${child.status}): ${child.stderr.slice(-2000)}`);
    const line = child.stdout.trim().split('\n').pop() ?? '';
    return { events, ...(JSON.parse(line) as Omit<WaveMemory, 'events'>) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
