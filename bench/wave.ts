// 5. A wave of simultaneous warnings against the simulated control plane (bench/simulator),
// handled the two ways a deployment can be wired, side by side in one run:
//
// - per-event: the old EventBridge -> Lambda async path. Every warning is one invocation; Lambda
//   scales a function by up to 1,000 concurrent executions at once (per 10 s), so a wave of up to
//   1,000 runs as that many concurrent invocations, each in a container of its own: its own SDK
//   clients and its own client-side pacing buckets (a container paces only itself), all drawing
//   on the account's one set of AWS buckets. An invocation whose response failed is retried by
//   Lambda one minute later (the async retry), in a warm container; the clock skips that idle
//   minute (see WaveClock) instead of waiting it out.
// - batched: EventBridge -> SQS -> the event source mapping with the construct's defaults
//   (WARNING_BUFFER: batches of up to 1,000, a batching window of 1 s, at most 5 invocations at
//   once). Each invocation calls the Lambda handler with an SQS batch; containers are reused, one
//   per concurrent invocation. A failed record is counted, not redelivered (the handler would
//   bring it back 21 s later: lambda/make-handler.ts).
//
// The fleet: 5 Auto Scaling groups, each in its own target group (instance targets, port 80);
// groups 0 and 1 are ECS container instances in bridge mode, registered by ECS in a service target
// group on 3 dynamic ports each (no Auto Scaling link); groups 2-4 are also registered by private IP
// in an ip target group (port 8080). 10 target groups in all. The target index is seeded as the
// refresher writes it, with each group's facts (issue 8 item 4), so one warning needs no group read
// before acting. Instance ids are spread evenly over the groups.
//
// What it does not model: Lambda's own invoke and cold-start latency (the bundle's load time is in
// section 4), SQS receive latency, EventBridge delivery, network failures.
import { performance } from 'node:perf_hooks';
import type { SQSEvent } from 'aws-lambda';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, type AwsClients } from '../lambda/aws/clients';
import { DEFAULT_PACING, Pacer } from '../lambda/aws/pacing';
import { TABLE_SCHEMA, itemKey } from '../lambda/aws/table-schema';
import type { AsgFacts, IndexedTarget } from '../lambda/core/model';
import { silentLog } from '../lambda/log';
import { makeHandler } from '../lambda/make-handler';
import { createResponderDeps } from '../lambda/wiring';
import { eventTime, spotWarningEvent } from '../cli/sample-events';
import { ControlPlane, lognormalLatency } from './simulator/control-plane';
import type { ServerFamily } from './simulator/throttle';
import { ms, percentile, table } from './support';
import { countCalls, type CallCounts } from '../dev/call-counter';

export const WAVE_SIZES = [50, 200, 1_000] as const;
const GROUPS = 5;
const ECS_GROUPS = 2;
const ECS_PORTS = [32768, 32769, 32770];
const TABLE = 'wave-records';
const CLUSTER = 'wave-ecs';
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const NOTICE_MS = 120_000;
/** Lambda's first async retry comes about a minute after the failed attempt. */
const ASYNC_RETRY_DELAY_MS = 60_000;
const LAMBDA_SCALE_AT_ONCE = 1_000;

export type WaveMode = 'per-event' | 'batched';

export interface WaveResult {
  mode: WaveMode;
  size: number;
  /** Batched mode: the event source mapping's settings. */
  buffering: Buffering | undefined;
  /** CPU this process spent on the run (every container and the simulated AWS share it), ms. */
  cpuMs: number;
  /** Instances whose every registration was gone before their deadline. */
  stoppedInTime: number;
  /** Per instance stopped, ms from the warning's time (its deadline is at 120,000). */
  stoppedMs: number[];
  /** Attempts as the simulated services saw them, by `service:Command` (throttled ones included). */
  attempts: Record<string, number>;
  /** SDK sends by `service:Command` (one per call, its retries inside). */
  sends: Record<string, number>;
  throttled: Partial<Record<ServerFamily, number>>;
  invocations: number;
  /** Sum of the invocations' durations, ms (what Lambda bills). */
  invocationMs: number;
  maxInvocationMs: number;
  outcomes: Record<string, number>;
  /** Why events failed, as their records say (instance ids and milliseconds folded), with counts. */
  failureReasons: Record<string, number>;
  /** Events answered `failed` by their last invocation. */
  failedEvents: number;
  /** Per-event mode: invocations retried by Lambda a minute later. */
  retried: number;
  wallMs: number;
}

/**
 * The clock every part of one run reads (the simulator, the pacing buckets, the responder's
 * deadlines): the wall clock plus `offset`. Lambda's async retry comes a minute after a failure;
 * nothing happens in between but buckets refilling, which they compute from this clock, so the
 * run skips the minute by moving `offset` instead of sleeping through it.
 */
class WaveClock {
  offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  /** Waits (really) until the clock reads `at`. */
  async until(at: number): Promise<void> {
    const wait = at - this.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

export interface Fleet {
  instanceIds: string[];
  /** Registration keys (plane.targets keys) per instance. */
  registrations: Map<string, string[]>;
  /** Target id (instance id or IP) -> instance id. */
  ownerOf: Map<string, string>;
  targetGroups: number;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const tgArn = (name: string, n: number) => `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}/${hex(n + 1, 16)}`;

/** The fleet in the simulator, and the target index as the refresher would have written it. */
async function buildFleet(plane: ControlPlane, size: number, seed: AwsClients): Promise<Fleet> {
  const web = Array.from({ length: GROUPS }, (_, g) => tgArn(`wave-web-${g}`, g));
  const ecsTgs = Array.from({ length: ECS_GROUPS }, (_, g) => tgArn(`wave-ecs-svc-${g}`, 10 + g));
  const ipTgs = Array.from({ length: GROUPS - ECS_GROUPS }, (_, g) => tgArn(`wave-ip-${g}`, 20 + g));
  web.forEach((arn, g) => plane.targetGroups.set(arn, { arn, name: `wave-web-${g}`, targetType: 'instance', port: 80 }));
  ecsTgs.forEach((arn, g) => plane.targetGroups.set(arn, { arn, name: `wave-ecs-svc-${g}`, targetType: 'instance', port: 80 }));
  ipTgs.forEach((arn, g) => plane.targetGroups.set(arn, { arn, name: `wave-ip-${g}`, targetType: 'ip', port: 8080 }));
  plane.containerInstances.set(CLUSTER, new Map());

  const fleet: Fleet = { instanceIds: [], registrations: new Map(), ownerOf: new Map(), targetGroups: plane.targetGroups.size };
  const indexed = new Map<string, IndexedTarget[]>();
  for (let i = 0; i < size; i++) {
    const g = i % GROUPS;
    const id = `i-0${hex(i + 1, 16)}`;
    const ip = `10.${g}.${Math.floor(i / 250)}.${(i % 250) + 4}`;
    plane.instances.set(id, { instanceId: id, privateIp: ip, autoScalingGroupName: `wave-asg-${g}`, state: 'running', lifecycleState: 'InService' });
    const targets: IndexedTarget[] = [{ targetGroupArn: web[g] as string, targetId: id, targetType: 'instance', port: 80 }];
    if (g < ECS_GROUPS) {
      for (const port of ECS_PORTS) targets.push({ targetGroupArn: ecsTgs[g] as string, targetId: id, targetType: 'instance', port });
      plane.containerInstances.get(CLUSTER)!.set(`arn:aws:ecs:${REGION}:${ACCOUNT}:container-instance/${CLUSTER}/${hex(i + 1, 32)}`, { ec2InstanceId: id, status: 'ACTIVE' });
    } else {
      targets.push({ targetGroupArn: ipTgs[g - ECS_GROUPS] as string, targetId: ip, targetType: 'ip', port: 8080 });
      fleet.ownerOf.set(ip, id);
    }
    fleet.ownerOf.set(id, id);
    for (const t of targets) plane.targets.set(`${t.targetGroupArn}|${t.targetId}|${t.port}`, { targetGroupArn: t.targetGroupArn, id: t.targetId, port: t.port as number });
    fleet.registrations.set(id, targets.map((t) => `${t.targetGroupArn}|${t.targetId}`));
    fleet.instanceIds.push(id);
    indexed.set(id, targets);
  }
  for (let g = 0; g < GROUPS; g++) {
    const members = fleet.instanceIds.filter((_, i) => i % GROUPS === g);
    plane.groups.set(`wave-asg-${g}`, { name: `wave-asg-${g}`, targetGroupArns: [web[g] as string], tags: [], terminatingHook: false, desiredCapacity: members.length });
  }

  // The index, written as the refresher writes it (lambda/aws/target-index.ts), with the group's facts.
  const snapshotAt = new Date(Date.now() - 60_000).toISOString();
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  const groupFacts = (g: number): AsgFacts => ({
    groupName: `wave-asg-${g}`,
    targetGroupArns: [web[g] as string],
    instanceIds: fleet.instanceIds.filter((_, i) => i % GROUPS === g),
    terminatingHooks: [],
    desiredCapacity: Math.ceil(size / GROUPS),
    capacityRebalance: false,
    suspendedProcesses: [],
    tags: {},
  });
  const facts = Array.from({ length: GROUPS }, (_, g) => groupFacts(g));
  const items = [...indexed].map(([id, targets], i) => ({
    PutRequest: { Item: { pk: itemKey.targets(id), targets, group: facts[i % GROUPS], snapshotAt, expiresAt } },
  }));
  items.push({ PutRequest: { Item: { pk: itemKey.indexMeta, snapshotAt, refreshedAt: snapshotAt, instances: size, targets: 0 } as never } });
  for (let i = 0; i < items.length; i += 25) {
    await seed.dynamo.send(new BatchWriteCommand({ RequestItems: { [TABLE]: items.slice(i, i + 25) } }));
  }
  return fleet;
}

/** One Lambda container: its clients (with their pacing buckets) and its handler. */
function container(plane: ControlPlane, clock: WaveClock, sends: CallCounts) {
  const clients = createAwsClients({
    region: REGION,
    credentials: { accessKeyId: 'AKIDWAVEBENCH', secretAccessKey: 'wave' },
    pacing: new Pacer(DEFAULT_PACING, clock.now),
    requestHandler: plane.dynamoHttpHandler(),
  });
  clients.ec2.middlewareStack.use(plane.plugin('ec2'));
  clients.autoScaling.middlewareStack.use(plane.plugin('autoscaling'));
  clients.elbv2.middlewareStack.use(plane.plugin('elbv2'));
  clients.ecs.middlewareStack.use(plane.plugin('ecs'));
  countCalls(
    { ec2: clients.ec2, autoscaling: clients.autoScaling, elbv2: clients.elbv2, ecs: clients.ecs, dynamodb: clients.dynamoRaw },
    sends,
  );
  const deps = createResponderDeps(
    clients,
    {
      tableName: TABLE,
      recordRetentionDays: 1,
      policy: { accounts: [ACCOUNT], regions: [REGION] },
      ecsClusters: [CLUSTER],
    },
    silentLog,
    clock.now,
  );
  return { handler: makeHandler(deps), destroy: () => Object.values(clients).forEach((c) => c.destroy()) };
}

type Container = ReturnType<typeof container>;

/** The event source mapping's settings (WARNING_BUFFER's by default). */
export interface Buffering {
  batchSize: number;
  maxConcurrency: number;
  windowMs: number;
}

/**
 * One wave of `size` warnings in `mode`, on a fresh simulated account. `buffering`: the event
 * source mapping's settings in batched mode (bench/wave-run.ts passes the construct's; this file
 * does not import lib/, so that the memory child's bundle holds no CDK).
 */
export async function runWave(mode: WaveMode, size: number, buffering: Buffering): Promise<WaveResult> {
  const { clock, plane, fleet, t0, events } = await prepareWave(size);
  const sends: CallCounts = new Map();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const invocations: number[] = [];
  let retried = 0;
  const pool: Container[] = [];
  const all: Container[] = [];
  const take = () => pool.pop() ?? (all.push(container(plane, clock, sends)), all[all.length - 1] as Container);
  const invoke = async <T>(fn: (c: Container) => Promise<T>): Promise<T> => {
    const c = take();
    const begin = clock.now();
    try {
      return await fn(c);
    } finally {
      invocations.push(clock.now() - begin);
      pool.push(c);
    }
  };

  if (mode === 'per-event') {
    const failedAt = new Map<number, number>();
    const once = (i: number) =>
      invoke(async (c) => {
        try {
          await c.handler(events[i]);
          failedAt.delete(i);
        } catch {
          // ResponseFailedError (recorded as failed) or a store failure: Lambda retries the invocation.
          failedAt.set(i, clock.now());
        }
      });
    await inLimit(events.map((_, i) => i), LAMBDA_SCALE_AT_ONCE, once);
    if (failedAt.size > 0) {
      // Nothing runs while Lambda waits its minute: skip to the first retry, then run each at its time.
      const due = [...failedAt].map(([i, at]) => ({ i, at: at + ASYNC_RETRY_DELAY_MS }));
      const first = Math.min(...due.map((d) => d.at));
      clock.offset += Math.max(0, first - clock.now());
      retried = due.length;
      await Promise.all(due.map(async ({ i, at }) => (await clock.until(at), once(i))));
    }
  } else {
    const messages = sqsRecords(events);
    const { batchSize, windowMs, maxConcurrency } = buffering;
    const queue = [...messages];
    const running = new Set<Promise<void>>();
    // The event source mapping: a full batch goes at once, a partial one when the window closes,
    // never more than maxConcurrency invocations at a time.
    while (queue.length > 0) {
      if (running.size >= maxConcurrency) await Promise.race(running);
      if (queue.length < batchSize) await clock.until(t0 + windowMs);
      const batch = queue.splice(0, batchSize);
      // Records in batchItemFailures come back after the visibility timeout, past their deadline:
      // what their records say (failed) is their outcome here.
      const run = invoke((c) => c.handler({ Records: batch } as SQSEvent)).then(() => void running.delete(run));
      running.add(run);
    }
    await Promise.all(running);
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  for (const c of all) c.destroy();

  return tally(plane, fleet, t0, {
    mode,
    size,
    buffering: mode === 'batched' ? buffering : undefined,
    cpuMs: (cpu.user + cpu.system) / 1000,
    sends: Object.fromEntries(sends),
    invocations,
    retried,
    wallMs,
  });
}

/** A fresh simulated account with the fleet of `size` instances, the table and index seeded, and the wave's warnings (stamped t0). */
export async function prepareWave(size: number) {
  const clock = new WaveClock();
  const plane = new ControlPlane({ now: clock.now, latency: lognormalLatency() });
  plane.dynamo.createTable({
    name: TABLE,
    partitionKey: TABLE_SCHEMA.partitionKey,
    indexes: [{ name: TABLE_SCHEMA.historyIndex.name, partitionKey: TABLE_SCHEMA.historyIndex.partitionKey, sortKey: TABLE_SCHEMA.historyIndex.sortKey }],
  });
  const fleet = await buildFleet(plane, size, createAwsClients({ region: REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, requestHandler: plane.dynamoHttpHandler() }));
  for (const key of Object.keys(plane.calls)) delete plane.calls[key];
  plane.throttler.reset();

  // The wave: every warning stamped with one whole second (EC2's format), handled from that second on.
  await clock.until(Math.ceil(clock.now() / 1000) * 1000);
  const t0 = clock.now();
  const time = eventTime(t0);
  const events = fleet.instanceIds.map((id) => spotWarningEvent(id, { time, account: ACCOUNT, region: REGION }));
  return { clock, plane, fleet, t0, events };
}

/** The settings every container of the wave is built with (the responder's, as wired in Lambda). */
export const WAVE_SETTINGS = {
  region: REGION,
  account: ACCOUNT,
  tableName: TABLE,
  cluster: CLUSTER,
} as const;

/** The SQS records of a batch, as the event source mapping hands them over. */
export function sqsRecords(events: readonly unknown[]): SQSEvent['Records'] {
  return events.map((event, i) => ({
    messageId: `m-${i}`,
    receiptHandle: `r-${i}`,
    body: JSON.stringify(event),
    attributes: {} as SQSEvent['Records'][number]['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:warnings`,
    awsRegion: REGION,
  }));
}

/** What the run did, read from the simulator (deregistrations, attempts, throttles, the table's records). */
export function tally(
  plane: ControlPlane,
  fleet: Fleet,
  t0: number,
  run: Pick<WaveResult, 'mode' | 'size' | 'buffering' | 'cpuMs' | 'sends' | 'retried' | 'wallMs'> & { invocations: number[] },
): WaveResult {
  const { invocations } = run;
  // When each instance's last registration went.
  const remaining = new Map([...fleet.registrations].map(([id, keys]) => [id, new Set(keys)]));
  const stoppedAt = new Map<string, number>();
  for (const e of plane.events) {
    if (e.action !== 'deregistered' || !e.targetGroupArn) continue;
    const owner = fleet.ownerOf.get(e.id);
    const left = owner ? remaining.get(owner) : undefined;
    if (!owner || !left) continue;
    left.delete(`${e.targetGroupArn}|${e.id}`);
    if (left.size === 0 && !stoppedAt.has(owner)) stoppedAt.set(owner, e.at);
  }
  const stoppedMs = [...stoppedAt.values()].map((at) => at - t0);
  // Outcomes as recorded in the table (every event's last word), and why the failed ones failed.
  const outcomes: Record<string, number> = {};
  const failureReasons: Record<string, number> = {};
  for (const item of plane.dynamo.items(TABLE)) {
    if (!item.pk?.S?.startsWith('EVENT#')) continue;
    const outcome = item.outcome?.S ?? (item.status?.S === 'IN_PROGRESS' ? 'unrecorded' : 'unknown');
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (outcome === 'failed' || outcome === 'unrecorded') {
      const reason = (item.reason?.S ?? 'no record').replace(/i-[0-9a-f]{17}/g, 'i-…').replace(/\d+ ms/g, 'N ms').slice(0, 160);
      failureReasons[reason] = (failureReasons[reason] ?? 0) + 1;
    }
  }
  return {
    mode: run.mode,
    size: run.size,
    buffering: run.buffering,
    cpuMs: run.cpuMs,
    stoppedInTime: stoppedMs.filter((m) => m < NOTICE_MS).length,
    stoppedMs,
    attempts: { ...plane.calls },
    sends: run.sends,
    throttled: { ...plane.throttler.throttled },
    invocations: invocations.length,
    invocationMs: invocations.reduce((a, b) => a + b, 0),
    maxInvocationMs: Math.max(...invocations),
    outcomes,
    failureReasons,
    failedEvents: (outcomes.failed ?? 0) + (outcomes.unrecorded ?? 0),
    retried: run.retried,
    wallMs: run.wallMs,
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/** Both modes for every size, one after the other (never two waves at once on 2 cores). */
/**
 * Batched mode for every size, per-event mode for the sizes up to PER_EVENT_MAX (see there), one
 * run after the other (never two waves at once on 2 cores).
 */
export async function measureWaves(
  buffering: Buffering,
  sizes: readonly number[] = WAVE_SIZES,
  log: (line: string) => void = () => undefined,
): Promise<WaveResult[]> {
  const results: WaveResult[] = [];
  for (const size of sizes) {
    for (const mode of ['per-event', 'batched'] as const) {
      if (mode === 'per-event' && size > PER_EVENT_MAX) continue;
      log(`wave: ${size} warnings, ${mode}`);
      results.push(await runWave(mode, size, buffering));
    }
  }
  return results;
}

/**
 * Per-event mode is simulated up to 200 warnings. At 1,000 it means 1,000 containers, each
 * retrying its throttled calls as its own pacing allows (thousands of attempts a second against
 * buckets that refill at 4 to 20 a second), all in this one Node thread with the simulated AWS:
 * tried once, the run took 8 minutes at 100 % CPU and its times measured the simulator's queue,
 * not AWS (BENCHMARKS.md says so beside the table).
 */
export const PER_EVENT_MAX = 200;

const sumWhere = (counts: Record<string, number>, test: (key: string) => boolean) =>
  Object.entries(counts).reduce((n, [k, v]) => (test(k) ? n + v : n), 0);

export function renderWaves(results: WaveResult[]): string {
  const s = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(1)} s` : '-');
  const rows = results.map((r) => {
    const elbMutating = r.sends['elbv2:DeregisterTargets'] ?? 0;
    const throttles = Object.values(r.throttled).reduce((a, b) => a + (b ?? 0), 0);
    return [
      r.size,
      r.mode,
      `**${((100 * r.stoppedInTime) / r.size).toFixed(1)} %**`,
      r.stoppedMs.length === 0 ? '-' : s(percentile(r.stoppedMs, 50)),
      r.stoppedMs.length === 0 ? '-' : `**${s(percentile(r.stoppedMs, 99))}**`,
      r.stoppedMs.length === 0 ? '-' : s(Math.max(...r.stoppedMs)),
      `${elbMutating} (${r.attempts['elbv2:DeregisterTargets'] ?? 0})`,
      `${sumWhere(r.sends, () => true)} (${sumWhere(r.attempts, () => true)})`,
      throttles,
      `${r.invocations}${r.retried ? ` (${r.retried} retried)` : ''}`,
      `${s(r.invocationMs)} / ${s(r.maxInvocationMs)}`,
      r.failedEvents,
    ];
  });
  const byApi = (r: WaveResult) =>
    Object.keys({ ...r.sends, ...r.attempts })
      .sort()
      .map((k) => `${k.replace(':', ' ')} ${r.sends[k] ?? 0}${(r.attempts[k] ?? 0) !== (r.sends[k] ?? 0) ? ` (${r.attempts[k] ?? 0})` : ''}`)
      .join(', ');
  const throttleRows = results.map((r) => [
    r.size,
    r.mode,
    Object.entries(r.throttled).map(([f, n]) => `${f} ${n}`).join(', ') || 'none',
    Object.entries(r.outcomes).map(([o, n]) => `${o} ${n}`).join(', ') +
      (Object.keys(r.failureReasons).length > 0
        ? `; failed: ${Object.entries(r.failureReasons).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([why, n]) => `${n}× "${why}"`).join('; ')}`
        : ''),
    ms(r.wallMs),
  ]);
  return [
    table(
      ['warnings', 'mode', 'traffic stopped before deadline', 'to traffic stopped p50', 'p99', 'max', 'DeregisterTargets calls (attempts)', 'AWS calls (attempts)', 'throttled attempts', 'invocations', 'invocation time total / longest', 'events failed'],
      rows,
    ),
    '',
    table(['warnings', 'mode', 'throttled attempts by bucket', 'outcomes (last answer per event)', 'wall time of the run'], throttleRows),
    '',
    '**Calls by API** (SDK sends; in brackets the attempts the service saw, retries and throttled ones included, where they differ):',
    '',
    ...results.map((r) => `- ${r.size} ${r.mode}: ${byApi(r)}`),
  ].join('\n');
}
