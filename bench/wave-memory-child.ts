// Child process of the wave benchmark's memory measurement (bench/wave-memory.ts bundles it the
// way CDK bundles the handler and runs it with plain node): one invocation of the handler with
// 1,000 warnings in one SQS batch, against the simulator, memory sampled every 10 ms. Prints one
// JSON line: the WaveResult and the memory figures (bytes).
import { memoryUsage, resourceUsage } from 'node:process';
import { runWave } from './wave';

async function main(): Promise<void> {
  const size = Number(process.argv[2] ?? 1_000);
  global.gc?.();
  const before = memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const now = memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 10);
  const result = await runWave('batched', size, { batchSize: size, maxConcurrency: 1, windowMs: 1_000 });
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      result,
      rssBefore: before.rss,
      heapBefore: before.heapUsed,
      peakRss,
      peakHeap,
      // ru_maxrss, in KiB: the kernel's own peak, between samples too.
      maxRss: resourceUsage().maxRSS * 1024,
    })}\n`,
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
