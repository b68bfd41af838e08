// 6. Reliability under injected faults: 50 warnings for a real emulated fleet, every AWS call of
// the responder through the fault proxy (dev/fault-proxy.ts) at random throttling / 5xx /
// connection resets, delivered as the warning queue delivers them, and each instance's end state
// then read from moto directly (not through the proxy) and judged against its record.
//
// Delivery, as production does it: the Lambda handler (makeHandler, with the construct's source
// guard on) gets SQS batches; the messages it names in batchItemFailures come back, up to the
// warning queue's maxReceiveCount (WARNING_BUFFER), and after the last failed receive go to the
// queue's DLQ (where the alarm fires). The SDK clients are the deployed ones (createAwsClients:
// AWS_CALL_POLICY's attempts, backoff, timeouts and pacing).
//
// Where this differs from production, and why:
//   - A batch holds 10 warnings and one batch runs at a time (production: up to 100 per batch,
//     5 batches at once): moto's threaded server answers 500 at ~200 concurrent requests, which
//     would add moto's own failures to the injected ones.
//   - A failed message comes back with the responder's clock moved LEASE_MS + 1 s forward, as
//     the handler's shortened visibility brings it back (FAILED_MESSAGE_VISIBILITY_SECONDS in
//     lambda/make-handler.ts): every receive then falls inside the warning's 120 s window.
//   - The target index is refreshed once, before the faults start: the refresher runs off the
//     hot path, on its own schedule.
// RELIABILITY_DEBUG=1 prints the responder's warnings, errors, unhandled finishes and store
// failures on stderr and dumps the records of every warning not judged correct to the temp
// directory; RELIABILITY_LEVEL=n runs only level n.
// The faults are drawn from a seeded generator, one draw per HTTP request in arrival order, so a
// rerun with the same seed draws the same sequence; which request gets which fault can still
// differ where requests race (calls within a round run in parallel).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createReplayer, type Replayer } from '../cli/replay';
import { EMULATOR_ACCOUNT, EMULATOR_REGION } from '../cli/emulator-target';
import { eventTime, spotWarningEvent } from '../cli/sample-events';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../dev/fleet';
import { randomFaults, startFaultProxy, type Fault } from '../dev/fault-proxy';
import { WARNING_BUFFER } from '../lib/defaults';
import { DEFAULTS } from '../lambda/contract';
import { itemKey } from '../lambda/aws/table-schema';
import type { ResponseRecord } from '../lambda/core/model';
import { silentLog, type Log } from '../lambda/log';
import { makeHandler } from '../lambda/make-handler';
import { LEASE_MS } from '../lambda/response/deps';
import { createResponderDeps } from '../lambda/wiring';
import { median, recordCalls, table } from './support';

/** The seed of the fault draws; printed with the section, so a run can be repeated. */
export const RELIABILITY_SEED = 0x5eed_0009;
export const RELIABILITY_WARNINGS = 50;
/** Warnings per SQS batch, one batch at a time (see the header). */
export const RELIABILITY_BATCH = 5;
const FLEETS = 2;
/** Each fleet's group keeps one instance not warned, so the group is never emptied. */
const ASG_SIZE = RELIABILITY_WARNINGS / FLEETS + 1;
const QUEUE_ARN = `arn:aws:sqs:${EMULATOR_REGION}:${EMULATOR_ACCOUNT}:spot-responder-WarningQueue`;

export interface FaultRates {
  /** Share of requests (0..1) answered with the service's throttling error. */
  throttle: number;
  /** 500/503, half before the service processed the request, half after. */
  serverError: number;
  /** Connection reset, half before forwarding, half after the service processed it. */
  reset: number;
}

export const FAULT_LEVELS: readonly FaultRates[] = [
  { throttle: 0.1, serverError: 0.05, reset: 0.01 },
  { throttle: 0.3, serverError: 0.15, reset: 0.05 },
];

/** How one warning ended, judged from moto and the records table read directly. */
export type Verdict = 'correct' | 'failed-dead-lettered' | 'silently-wrong';

export interface WarningResult {
  instanceId: string;
  eventId: string;
  verdict: Verdict;
  /** Receives of its message (1 to maxReceiveCount). */
  receives: number;
  /** Attempts the record lists (claiming invocations). */
  recordedAttempts: number;
  outcome: string | null;
  /** What is wrong, for a verdict other than correct. */
  problems: string[];
}

export interface LevelResult {
  rates: FaultRates;
  warnings: WarningResult[];
  /** SDK commands the responder sent (retries inside one command). */
  commands: number;
  /** HTTP requests that reached the proxy (every SDK attempt). */
  requests: number;
  faults: Record<Fault, number>;
  /** Requests answered from the proxy's idempotency-token cache (DynamoDB's ClientRequestToken). */
  replayed: number;
  /** Forwarded requests moto itself answered with a 5xx (its threaded server's own failures, not injected). */
  emulatorErrors: number;
  /** Handler invocations (SQS batches), and how many of them threw as a whole. */
  invocations: number;
  invocationErrors: number;
  seconds: number;
}

export interface ReliabilityResult {
  seed: number;
  levels: LevelResult[];
}

/** mulberry32: a small seeded generator, so a run's fault draws can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export async function measureReliability(endpoint: string, progress: (line: string) => void): Promise<ReliabilityResult> {
  const levels: LevelResult[] = [];
  for (const [n, rates] of FAULT_LEVELS.entries()) {
    if (process.env.RELIABILITY_LEVEL && Number(process.env.RELIABILITY_LEVEL) !== n + 1) continue;
    progress(`reliability: level ${n + 1}/${FAULT_LEVELS.length} (${pct(rates.throttle)} / ${pct(rates.serverError)} / ${pct(rates.reset)})`);
    levels.push(await measureLevel(endpoint, rates, RELIABILITY_SEED + n, `rel${n + 1}`, progress));
  }
  return { seed: RELIABILITY_SEED, levels };
}

async function measureLevel(endpoint: string, rates: FaultRates, seed: number, label: string, progress: (line: string) => void): Promise<LevelResult> {
  const table = `bench-${label}`;
  const direct = await createReplayer({ endpointUrl: endpoint, table, clock: 'wall', refreshIndex: false });
  const proxy = await startFaultProxy(endpoint);
  let proxied: Replayer | undefined;
  try {
    const fleets: DemoFleet[] = [];
    for (let f = 0; f < FLEETS; f++) fleets.push(await buildDemoFleet(direct.clients, { prefix: `${label}-f${f}`, asgSize: ASG_SIZE }));
    await direct.refreshIndex();
    const before = await Promise.all(fleets.map((fleet) => describeFleet(direct.clients, fleet)));
    // Per fleet: its shared instance (also registered outside the group, by id and by IP) and the
    // first others, one instance left in the group.
    const victims = fleets.flatMap((fleet) =>
      [fleet.shared.instanceId, ...fleet.asgInstanceIds.filter((id) => id !== fleet.shared.instanceId)].slice(0, ASG_SIZE - 1),
    );

    // The table exists (direct created it): the proxied replayer is built before the faults start.
    proxied = await createReplayer({ endpointUrl: proxy.endpoint, table, clock: 'wall', refreshIndex: false });
    proxy.calls.length = 0;
    proxy.setPlan(randomFaults(rates, seededRandom(seed)));
    const recorder = recordCalls(proxied.clients);
    let offset = 0;
    const clock = () => Date.now() + offset;
    const deps = createResponderDeps(
        proxied.clients,
        {
          tableName: table,
          recordRetentionDays: DEFAULTS.recordRetentionDays,
          policy: { accounts: [EMULATOR_ACCOUNT], regions: [EMULATOR_REGION] },
        },
        process.env.RELIABILITY_DEBUG ? debugLog() : silentLog,
        clock,
    );
    if (process.env.RELIABILITY_DEBUG) {
      for (const name of ['claim', 'finish', 'recordUnclaimed'] as const) {
        const original = deps.store[name].bind(deps.store) as (...args: unknown[]) => Promise<unknown>;
        (deps.store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
          try {
            return await original(...args);
          } catch (err) {
            process.stderr.write(`${JSON.stringify({ level: 'store-threw', op: name, eventId: (args[0] as { eventId?: string }).eventId, error: String(err) })}\n`);
            throw err;
          }
        };
      }
    }
    const handler = makeHandler(deps, { queueArns: [QUEUE_ARN] });

    const started = Date.now();
    const receives = new Map<string, number>();
    const eventOf = new Map<string, string>();
    const deadLettered = new Set<string>();
    let invocations = 0;
    let invocationErrors = 0;
    const { calls } = await recorder.during(async () => {
      for (let b = 0; b < victims.length; b += RELIABILITY_BATCH) {
        const events = victims.slice(b, b + RELIABILITY_BATCH).map((id) => {
          const event = spotWarningEvent(id, { time: eventTime(clock()) });
          eventOf.set(id, event.id);
          return event;
        });
        let pending = events;
        for (let receive = 1; receive <= WARNING_BUFFER.maxReceiveCount && pending.length > 0; receive++) {
          if (receive > 1) offset += LEASE_MS + 1_000;
          for (const event of pending) receives.set(event.id, receive);
          invocations++;
          let failed: Set<string>;
          try {
            const answer = (await handler(sqsBatch(pending, receive))) as SQSBatchResponse;
            failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
          } catch {
            // A thrown invocation fails the whole batch: every message comes back.
            invocationErrors++;
            failed = new Set(pending.map((event) => event.id));
          }
          pending = pending.filter((event) => failed.has(event.id));
        }
        for (const event of pending) deadLettered.add(event.id);
        progress(`reliability ${label}: ${Math.min(b + RELIABILITY_BATCH, victims.length)}/${victims.length} warnings delivered, ${deadLettered.size} dead-lettered`);
      }
    });
    const seconds = (Date.now() - started) / 1000;
    proxy.setPlan(() => undefined);

    // The end state, read from moto directly.
    const after = await Promise.all(fleets.map((fleet) => describeFleet(direct.clients, fleet)));
    const warnings: WarningResult[] = [];
    for (const instanceId of victims) {
      const eventId = eventOf.get(instanceId) as string;
      const fleetIndex = fleets.findIndex((fleet) => fleet.asgInstanceIds.includes(instanceId));
      const fleet = fleets[fleetIndex] as DemoFleet;
      const record = await storedRecord(direct.clients.dynamo, table, eventId);
      const attemptsItem = record?.status === 'IN_PROGRESS' ? await storedAttempts(direct.clients.dynamo, table, eventId) : undefined;
      warnings.push(
        judge({
          finishedAttempts: attemptsItem,
          instanceId,
          eventId,
          privateIp: instanceId === fleet.shared.instanceId ? fleet.shared.privateIp : null,
          before: before[fleetIndex] as FleetSnapshot,
          after: after[fleetIndex] as FleetSnapshot,
          record,
          receives: receives.get(eventId) ?? 0,
          deadLettered: deadLettered.has(eventId),
        }),
      );
    }
    if (process.env.RELIABILITY_DEBUG) {
      const wrong = warnings.filter((w) => w.verdict !== 'correct').map((w) => w.eventId);
      const dump = await Promise.all(wrong.map((id) => storedRecord(direct.clients.dynamo, table, id)));
      fs.writeFileSync(path.join(os.tmpdir(), `reliability-records-${label}.json`), JSON.stringify(dump, null, 1));
    }
    const faults = { throttle: 0, '5xx-before': 0, '5xx-after': 0, reset: 0, 'reset-after': 0, hang: 0, down: 0 } as Record<Fault, number>;
    for (const call of proxy.calls) if (call.fault) faults[call.fault]++;
    return {
      rates,
      warnings,
      commands: calls.length,
      requests: proxy.calls.length,
      faults,
      replayed: proxy.calls.filter((c) => c.replayed).length,
      emulatorErrors: proxy.calls.filter((c) => (c.upstreamStatus ?? 0) >= 500).length,
      invocations,
      invocationErrors,
      seconds,
    };
  } finally {
    for (const replayer of [direct, proxied]) {
      if (!replayer) continue;
      const { ec2, autoScaling, elbv2, ecs, dynamoRaw } = replayer.clients;
      for (const client of [ec2, autoScaling, elbv2, ecs, dynamoRaw]) client.destroy();
    }
    await proxy.close();
  }
}

/** RELIABILITY_DEBUG=1: every warning and error line of the responder, and unhandled finishes, on stderr. */
function debugLog(keys: Record<string, unknown> = {}): Log {
  const write = (level: string, message: string, attributes: Record<string, unknown> = {}) =>
    process.stderr.write(`${JSON.stringify({ level, message, ...keys, ...attributes })}\n`);
  return {
    debug: () => undefined,
    info: (message, attributes) => {
      if (attributes?.outcome !== undefined && attributes.outcome !== 'handled') write('info', message, attributes);
    },
    warn: (message, attributes) => write('warn', message, attributes),
    error: (message, attributes) => write('error', message, attributes),
    child: (more) => debugLog({ ...keys, ...more }),
  };
}

/** The SQS batch the event source mapping hands the function: message id = event id here. */
function sqsBatch(events: ReadonlyArray<{ id: string }>, receive: number): SQSEvent {
  const now = String(Date.now());
  return {
    Records: events.map((event) => ({
      messageId: event.id,
      receiptHandle: `${event.id}-${receive}`,
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: String(receive), SentTimestamp: now, SenderId: 'AROAEVENTBRIDGE', ApproximateFirstReceiveTimestamp: now },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: QUEUE_ARN,
      awsRegion: EMULATOR_REGION,
    })),
  };
}

type StoredRecord = ResponseRecord & { status?: string };

async function storedRecord(dynamo: DynamoDBDocumentClient, table: string, eventId: string): Promise<StoredRecord | undefined> {
  const out = await dynamo.send(new GetCommand({ TableName: table, Key: { pk: itemKey.event(eventId) }, ConsistentRead: true }));
  return out.Item as StoredRecord | undefined;
}

async function storedAttempts(dynamo: DynamoDBDocumentClient, table: string, eventId: string): Promise<string[]> {
  const out = await dynamo.send(new GetCommand({ TableName: table, Key: { pk: itemKey.attempts(eventId) }, ConsistentRead: true }));
  const attempts = (out.Item?.attempts ?? []) as Array<{ outcome?: string }>;
  return attempts.map((a) => a.outcome ?? 'unknown');
}

interface Observed {
  /** For a record left IN_PROGRESS: the outcomes of the finished attempts its ATTEMPTS# item lists. */
  finishedAttempts?: string[] | undefined;
  instanceId: string;
  eventId: string;
  /** The instance's IP registration (the shared instance's, in the IP target group), if any. */
  privateIp: string | null;
  before: FleetSnapshot;
  after: FleetSnapshot;
  record: StoredRecord | undefined;
  receives: number;
  deadLettered: boolean;
}

/** The target groups (by name) that hold the instance, by id or by its IP. */
function holding(snapshot: FleetSnapshot, instanceId: string, privateIp: string | null): string[] {
  return snapshot.targetGroups
    .filter((tg) => tg.targets.some((t) => t.id === instanceId || (privateIp !== null && t.id === privateIp)))
    .map((tg) => tg.name);
}

/**
 * correct: out of every target group that held it, out of its group, and a closed record that
 * says handled, detached and deregistered from each of them. failed-dead-lettered: its message
 * went to the DLQ (an alarm fires: a person looks). silently-wrong: anything else: the record says
 * handled and the fleet disagrees, or the message is gone without a handled record.
 */
export function judge(o: Observed): WarningResult {
  const problems: string[] = [];
  const stillIn = holding(o.after, o.instanceId, o.privateIp);
  if (stillIn.length > 0) problems.push(`still registered in ${stillIn.join(', ')}`);
  const inGroup = o.after.autoScalingGroup?.instances.some((i) => i.instanceId === o.instanceId) ?? false;
  if (inGroup) problems.push('still in its Auto Scaling group');
  const record = o.record;
  if (!record) problems.push('no record');
  else {
    if (record.outcome !== 'handled') problems.push(`record outcome ${record.outcome}${record.reason ? ` (${record.reason})` : ''}`);
    if (record.status !== undefined && record.status !== 'COMPLETED') problems.push(`record status ${record.status}`);
    if (o.finishedAttempts && o.finishedAttempts.length > 0) {
      problems.push(
        `yet ATTEMPTS# lists ${o.finishedAttempts.length} finished attempt(s) (${o.finishedAttempts.join(', ')}), written by the same ` +
          'TransactWriteItems as the record: that transaction was applied in part',
      );
    }
    if (record.outcome === 'handled') {
      if (!record.detached && !inGroup) problems.push('record says not detached, but it left its group');
      if (record.detached && inGroup) problems.push('record says detached, but it is still in its group');
      const held = holding(o.before, o.instanceId, o.privateIp);
      const missing = held.filter((name) => !record.deregisteredFrom.some((tg) => tg === name || tg.includes(`:targetgroup/${name}/`)));
      if (missing.length > 0) {
        problems.push(`record does not list its deregistration from ${missing.join(', ')} (it lists ${record.deregisteredFrom.join(', ') || 'none'})`);
      }
    }
  }
  const verdict: Verdict = o.deadLettered ? 'failed-dead-lettered' : problems.length === 0 ? 'correct' : 'silently-wrong';
  return {
    instanceId: o.instanceId,
    eventId: o.eventId,
    verdict,
    receives: o.receives,
    recordedAttempts: record?.attempts?.length ?? (record ? 1 : 0),
    outcome: record?.outcome ?? null,
    problems,
  };
}

const pct = (share: number): string => `${Math.round(share * 100)} %`;

export function renderReliability(r: ReliabilityResult): string {
  const rows = r.levels.map((l) => {
    const count = (v: Verdict) => l.warnings.filter((w) => w.verdict === v).length;
    const receives = l.warnings.map((w) => w.receives);
    const attempts = l.warnings.map((w) => w.recordedAttempts);
    const injected = Object.values(l.faults).reduce((a, b) => a + b, 0);
    return [
      `${pct(l.rates.throttle)} / ${pct(l.rates.serverError)} / ${pct(l.rates.reset)}`,
      l.warnings.length,
      count('correct'),
      count('failed-dead-lettered'),
      `**${count('silently-wrong')}**`,
      `${median(receives)} (max ${Math.max(...receives)}; ${receives.filter((n) => n > 1).length} redelivered)`,
      `${median(attempts)} (max ${Math.max(...attempts)})`,
      l.commands,
      l.requests,
      `${injected} (${l.faults.throttle} throttled, ${l.faults['5xx-before'] + l.faults['5xx-after']} 5xx, ${l.faults.reset + l.faults['reset-after']} resets)`,
      l.emulatorErrors,
      `${l.seconds.toFixed(0)} s`,
    ];
  });
  const details = r.levels.flatMap((l) =>
    l.warnings
      .filter((w) => w.verdict !== 'correct')
      .map((w) => `- ${pct(l.rates.throttle)} level, ${w.instanceId} (${w.verdict}, ${w.receives} receives): ${w.problems.join('; ') || 'end state correct'}`),
  );
  return [
    `${RELIABILITY_WARNINGS} Spot interruption warnings (terminate) for the instances of ${FLEETS} demo fleets (each an Auto Scaling group of ` +
      `${ASG_SIZE} in two target groups, one instance also registered outside them by id and by IP), delivered through the ` +
      `Lambda handler as SQS batches of ${RELIABILITY_BATCH}, one batch at a time (moto's threaded server fails under more ` +
      `concurrency; production batches hold up to ${WARNING_BUFFER.batchSize} and run ${WARNING_BUFFER.maxConcurrency} at once). Every AWS call of the responder goes through the ` +
      'fault proxy (`dev/fault-proxy.ts`, `randomFaults`): throttling with the service\'s own error body, 500/503 before or after ' +
      'the service processed the request, connection resets before or after. The SDK clients are the deployed ones ' +
      '(`lambda/aws/clients.ts`). The messages named in `batchItemFailures` come back, with the responder\'s clock moved past ' +
      `the dead holder's ${LEASE_MS / 1000} s lease, up to the warning queue's maxReceiveCount (${WARNING_BUFFER.maxReceiveCount}), ` +
      'then go to its DLQ. Each instance\'s end state is then read from moto directly, not through the proxy.',
    '',
    `Seed: \`0x${r.seed.toString(16)}\` (level n draws from seed + n − 1), one draw per HTTP request in arrival order.`,
    '',
    table(
      [
        'faults (throttle / 5xx / reset)',
        'warnings',
        'correct end state',
        'FAILED + dead-lettered',
        'silently wrong',
        'receives per event (median)',
        'attempts on the record (median)',
        'SDK commands',
        'HTTP requests',
        'faults injected',
        "moto's own 5xx",
        'time',
      ],
      rows,
    ),
    '',
    '*Correct*: out of every target group that held it (by id and by IP), out of its Auto Scaling group, and a completed ' +
      'record that says handled, detached and deregistered from each of them. *FAILED + dead-lettered*: its message reached ' +
      'the DLQ after the last receive: the DLQ alarm fires and a person looks. *Silently wrong* (the goal is 0): anything else ' +
      '— a record that says handled while the fleet disagrees, or a message gone without a handled record.',
    '',
    "*moto's own 5xx*: forwarded requests moto itself answered with a 500 (an HTML page the SDK cannot parse, so it is " +
      'not retried as a 5xx would be): its threaded server fails some concurrent TransactWriteItems. They are failures of ' +
      'the emulator, not injected, and a warning they hit is counted where it ended (usually FAILED + dead-lettered).',
    '',
    details.length > 0 ? ['Every warning that did not end correct:', '', ...details].join('\n') : 'Every warning ended correct.',
  ].join('\n');
}
