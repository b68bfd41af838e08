// `spot-responder replay`: feed EventBridge events to the very same `respond` the Lambda runs,
// against a local emulator (or, with --dry-run, read-only against a real account).
import { errorInfo, type AwsClients } from '../lambda/aws/clients';
import type { ResponseRecord } from '../lambda/core/model';
import { DEFAULTS } from '../lambda/contract';
import type { AcceptPolicy } from '../lambda/events';
import { makeIndexRefresher, type RefreshSummary } from '../lambda/index-refresher';
import { silentLog, type Log } from '../lambda/log';
import type { ResponderBehaviour } from '../lambda/core/behaviour';
import { ResponseFailedError, respond, respondBatch } from '../lambda/responder';
import { unansweredRecord } from '../lambda/response/records';
import { createIndexRefresherDeps, createResponderDeps } from '../lambda/wiring';
import { clientsFor, isAwsEndpoint, regionOf, type AwsTarget } from './aws-target';
import { EMULATOR_ACCOUNT } from './emulator-target';
import { formatRecord, recordSummary } from './format';
import { ensureTable } from './local-table';
import { loadEventFiles, replayExitCode } from './read-events';

export const DEFAULT_TABLE = DEFAULTS.cliTableName;

export interface ReplayOptions extends AwsTarget {
  table: string;
  /**
   * event: run as if each event arrived at its own `time` (sample files stay replayable
   * forever); wall: use the real clock, to see how a late warning is treated.
   */
  clock: 'event' | 'wall';
  /** Accounts whose events are accepted; the emulator's own by default. */
  accounts?: string[];
  /** Point every replayed event at this instance (a sample replayed against your own). */
  instanceId?: string;
  /** Rebuild the target index from the emulator's target groups before replaying. */
  refreshIndex: boolean;
  log?: Log;
  /** What the responder does with rebalance recommendations and tags; the Lambda's defaults when absent. */
  behaviour?: ResponderBehaviour;
  /** ECS clusters whose container instances are drained; none by default. */
  ecsClusters?: string[];
}

/** One configured replayer: clients and table set up once, then any number of events. */
export interface Replayer {
  clients: AwsClients;
  replay(event: unknown): Promise<ResponseRecord>;
  /**
   * All `events` as one batch, exactly as the warning queue hands them to the Lambda: one
   * respondBatch (merged AWS calls, one claim and record per event), one record per event in
   * order. A record with outcome `failed` is what the Lambda reports in `batchItemFailures`.
   */
  replayBatch(events: readonly unknown[]): Promise<ResponseRecord[]>;
  refreshIndex(): Promise<RefreshSummary>;
}

export async function createReplayer(opts: ReplayOptions): Promise<Replayer> {
  if (!opts.endpointUrl) {
    throw new Error('replaying against a real account would change it: pass --endpoint-url for an emulator');
  }
  const clients = clientsFor(opts);
  const log = opts.log ?? silentLog;
  await ensureTable(clients.dynamoRaw, opts.table);
  const policy: AcceptPolicy = { accounts: opts.accounts ?? [EMULATOR_ACCOUNT], regions: [regionOf(opts)] };
  const settings = {
    tableName: opts.table,
    recordRetentionDays: DEFAULTS.recordRetentionDays,
    policy,
    ...(opts.behaviour ? { behaviour: opts.behaviour } : {}),
    ...(opts.ecsClusters ? { ecsClusters: opts.ecsClusters } : {}),
  };

  const refreshIndex = makeIndexRefresher(
    createIndexRefresherDeps(
      clients,
      { tableName: opts.table, refreshIntervalMinutes: DEFAULTS.indexRefreshMinutes, describeCallsPerSecond: 50 },
      log,
    ),
  );

  return {
    clients,
    refreshIndex,
    async replay(event) {
      const deps = createResponderDeps(clients, settings, log, clockFor(event, opts.clock));
      try {
        return await respond(event, deps);
      } catch (err) {
        if (err instanceof ResponseFailedError) return err.record;
        return unrecordedFailure(event, err);
      }
    },
    async replayBatch(events) {
      // The batch arrives after its newest event was emitted: the clock starts there.
      const deps = createResponderDeps(clients, settings, log, clockFor(newestEvent(events), opts.clock));
      try {
        return await respondBatch(events, deps);
      } catch (err) {
        // respondBatch records every event it can; only a failure of the batch as a whole lands here.
        return events.map((event) => unrecordedFailure(event, err));
      }
    },
  };
}

/** The event with the latest parseable `time` (the first event when none has one). */
export function newestEvent(events: readonly unknown[]): unknown {
  const timeOf = (event: unknown): number => {
    const time = typeof event === 'object' && event !== null ? (event as { time?: unknown }).time : undefined;
    const ms = typeof time === 'string' ? Date.parse(time) : NaN;
    return Number.isNaN(ms) ? -Infinity : ms;
  };
  return events.reduce((newest: unknown, event) => (timeOf(event) > timeOf(newest) ? event : newest), events[0]);
}

/** Replay acts for real: without an emulator it would change the account it runs against. */
export class RealAccountError extends Error {
  override name = 'RealAccountError';
  constructor() {
    super(
      'replay acts on the fleet and would change a real account: pass --endpoint-url <url> to replay against ' +
        'an emulator, or --dry-run to only read and print what it would do',
    );
  }
}

/**
 * Raises RealAccountError unless this replay may run: with `dryRun`, or against an emulator
 * (`endpointUrl` that is not an AWS endpoint: an AWS endpoint is a real account all the same).
 * Decided from the flags alone, so the CLI refuses before it resolves credentials, the region or
 * the stack: a user without credentials sees why, not "Could not load credentials".
 */
export function assertReplayAllowed(flags: { dryRun?: boolean; endpointUrl?: string }): void {
  if (flags.dryRun) return;
  if (!flags.endpointUrl || isAwsEndpoint(flags.endpointUrl)) throw new RealAccountError();
}

export interface ReplayReport {
  records: ResponseRecord[];
  fileErrors: string[];
  exitCode: number;
}

/**
 * Replay every event of every file in order, printing as it goes; with `batch`, all of them as
 * one batch (Replayer.replayBatch), printing one result per event and then which events the
 * queue would receive again.
 */
export async function replayFiles(
  files: string[],
  opts: ReplayOptions & { json: boolean; batch?: boolean },
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<ReplayReport> {
  if (!opts.endpointUrl) throw new RealAccountError();
  const { events, fileErrors } = await loadEventFiles(files, printError, opts.instanceId);

  const records: ResponseRecord[] = [];
  if (events.length > 0) {
    const replayer = await createReplayer(opts);
    if (opts.refreshIndex) await replayer.refreshIndex();
    const show = (record: ResponseRecord) =>
      print(opts.json ? JSON.stringify(recordSummary(record)) : `${formatRecord(record)}\n`);
    if (opts.batch) {
      records.push(...(await replayer.replayBatch(events)));
      records.forEach(show);
      if (!opts.json) print(batchSummary(records));
    } else {
      for (const event of events) {
        const record = await replayer.replay(event);
        records.push(record);
        show(record);
      }
    }
  }
  return { records, fileErrors, exitCode: replayExitCode(records, fileErrors) };
}

/** One line on a batch: how many events, and which the Lambda would report in batchItemFailures. */
export function batchSummary(records: readonly ResponseRecord[]): string {
  const failed = records.filter((r) => r.outcome === 'failed');
  const retried = failed.length === 0 ? 'none returns to the queue' : `back to the queue: ${failed.map((r) => r.eventId).join(', ')}`;
  return `batch of ${records.length} event${records.length === 1 ? '' : 's'}: ${records.length - failed.length} answered, ${failed.length} failed (${retried})`;
}

/**
 * The event clock: time starts at the event's own `time` and runs at wall speed, so the
 * 120 s deadline means what it means in AWS. Events without a usable time use the wall clock.
 */
export function clockFor(event: unknown, mode: ReplayOptions['clock']): (() => number) | undefined {
  if (mode === 'wall') return undefined;
  const time = typeof event === 'object' && event !== null ? (event as { time?: unknown }).time : undefined;
  const eventMs = typeof time === 'string' ? Date.parse(time) : NaN;
  if (Number.isNaN(eventMs)) return undefined;
  const offset = Date.now() - eventMs;
  return () => Date.now() - offset;
}

/** respond() threw before it could record anything (e.g. the table is unreachable). */
export function unrecordedFailure(event: unknown, err: unknown): ResponseRecord {
  const info = errorInfo(err);
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  const detail = (typeof e.detail === 'object' && e.detail !== null ? e.detail : {}) as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const now = Date.now();
  return unansweredRecord(
    {
      eventId: str(e.id) ?? 'unidentified',
      eventTime: str(e.time),
      detailType: str(e['detail-type']),
      instanceId: str(detail['instance-id']),
      instanceAction: null,
      account: str(e.account),
      region: str(e.region),
    },
    'failed',
    `${info.name}: ${info.message} (not recorded)`,
    now,
    now,
  );
}
