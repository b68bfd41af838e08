// Child process of the wave benchmark's memory measurement (bench/wave-memory.ts bundles it the
// way CDK bundles the handler and runs it with plain node): one Lambda container and nothing
// else. It builds the responder's clients and handler as the Lambda entry does (DynamoDB
// pointed at the simulator's port, the other services through remotePlugin), hands the handler
// one SQS batch of every warning, and samples its own memory every 10 ms. The simulated AWS,
// its tables and the fleet live in the parent. Reads its job as one JSON line on stdin
// (url, warnings); prints one JSON line: the memory figures (bytes), the invocation's duration
// and the SDK sends by API.
import { memoryUsage, resourceUsage } from 'node:process';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../lambda/aws/clients';
import { DEFAULT_PACING, Pacer } from '../lambda/aws/pacing';
import { silentLog } from '../lambda/log';
import { makeHandler } from '../lambda/make-handler';
import { createResponderDeps } from '../lambda/wiring';
import { remotePlugin } from './simulator/remote';
import { countCalls, type CallCounts } from '../dev/call-counter';

export interface MemoryJob {
  url: string;
  records: SQSEvent['Records'];
  region: string;
  account: string;
  tableName: string;
  cluster: string;
}

export interface ChildMemory {
  rssBefore: number;
  heapBefore: number;
  peakRss: number;
  peakHeap: number;
  maxRss: number;
  invocationMs: number;
  /** CPU this process spent in the invocation (user + system), ms. */
  cpuMs: number;
  batchItemFailures: number;
  sends: Record<string, number>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const job = JSON.parse(await readStdin()) as MemoryJob;
  // The container, as at cold start: clients, pacing, handler.
  const clients = createAwsClients({
    region: job.region,
    endpoint: job.url,
    credentials: { accessKeyId: 'AKIDWAVEMEMORY', secretAccessKey: 'wave' },
    pacing: new Pacer(DEFAULT_PACING),
  });
  clients.ec2.middlewareStack.use(remotePlugin(job.url, 'ec2'));
  clients.autoScaling.middlewareStack.use(remotePlugin(job.url, 'autoscaling'));
  clients.elbv2.middlewareStack.use(remotePlugin(job.url, 'elbv2'));
  clients.ecs.middlewareStack.use(remotePlugin(job.url, 'ecs'));
  const sends: CallCounts = new Map();
  countCalls(
    { ec2: clients.ec2, autoscaling: clients.autoScaling, elbv2: clients.elbv2, ecs: clients.ecs, dynamodb: clients.dynamoRaw },
    sends,
  );
  const handler = makeHandler(
    createResponderDeps(
      clients,
      { tableName: job.tableName, recordRetentionDays: 1, policy: { accounts: [job.account], regions: [job.region] }, ecsClusters: [job.cluster] },
      silentLog,
    ),
  );

  global.gc?.();
  const before = memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    const now = memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 10);
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  const answer = (await handler({ Records: job.records } as SQSEvent)) as SQSBatchResponse | undefined;
  const invocationMs = Date.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const result: ChildMemory = {
    rssBefore: before.rss,
    heapBefore: before.heapUsed,
    peakRss,
    peakHeap,
    // ru_maxrss, in KiB: the kernel's own peak, between samples too.
    maxRss: resourceUsage().maxRSS * 1024,
    invocationMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    batchItemFailures: answer?.batchItemFailures?.length ?? 0,
    sends: Object.fromEntries(sends),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
