// `spot-responder replay --dry-run`: the very same respond() over read-only clients and planning
// adapters (lambda/dry-run), against a real account (--profile, --region, --table of the deployed
// stack) or an emulator (--endpoint-url). Only reads are sent, setup included: for each event it
// prints every call in order (the reads it made, the writes it would have made), then the record
// it would have written. Nothing is created: not the table, not the target index.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsClients } from '../lambda/aws/clients';
import type { ResponseRecord } from '../lambda/core/model';
import { PlanJournal, guardClients, guardedView, installGuard, type PlanStep } from '../lambda/dry-run/guard';
import { createDryRun, dryRunRecord } from '../lambda/dry-run/planning';
import { DEFAULTS } from '../lambda/contract';
import { silentLog } from '../lambda/log';
import { ResponseFailedError, respond, respondBatch } from '../lambda/responder';
import type { ResponderSettings } from '../lambda/wiring';
import { clientsFor, regionOf, type AwsTarget } from './aws-target';
import { dryRunSummary, formatDryRun, formatDryRunBatch } from './format';
import { loadEventFiles, replayExitCode } from './read-events';
import { batchSummary, clockFor, newestEvent, unrecordedFailure, type ReplayOptions, type ReplayReport } from './replay';

/** replay's options; the index is used as it is (refreshing it writes). */
export type DryRunOptions = Omit<ReplayOptions, 'refreshIndex'> & {
  /** The stack (--stack-name) was looked for and is not deployed: there is no table to read. */
  stackNotDeployed?: string;
  /**
   * ELBv2 describe calls per second when there is no index and registrations are read live.
   * Default DEFAULTS.indexDescribeCallsPerSecond, the refresher's own share of the account's bucket.
   */
  describeCallsPerSecond?: number;
};

export interface DryRunResult {
  /** The record the response would have written, marked dryRun. */
  record: ResponseRecord;
  plan: PlanStep[];
}

export interface DryRunClients {
  aws: AwsClients;
  /** Only for GetCallerIdentity, when no --account is given. */
  sts: STSClient;
}

export interface DryRunReplayer {
  /** The accounts whose events are accepted: --account, else the caller's own. */
  accounts: string[];
  /** The records table does not exist (it is never created in a dry run). */
  tableMissing: boolean;
  replay(event: unknown): Promise<DryRunResult>;
  /**
   * All `events` as one batch, as the warning queue hands them over: one record per event, in
   * order, and the batch's calls once (merged: the plan is the batch's, not any one event's).
   */
  replayBatch(events: readonly unknown[]): Promise<{ records: ResponseRecord[]; plan: PlanStep[] }>;
}

/** The clients `spot-responder` uses for this target, plus STS with the same credentials. */
export function dryRunClientsFor(target: AwsTarget): DryRunClients {
  const aws = clientsFor(target);
  const sts = new STSClient({
    region: regionOf(target),
    ...(target.endpointUrl ? { endpoint: target.endpointUrl } : {}),
    // Whatever the other clients resolved: --profile, the emulator's dummies or the default chain.
    credentials: aws.ec2.config.credentials,
  });
  return { aws, sts };
}

export function destroyDryRunClients({ aws, sts }: DryRunClients): void {
  for (const client of [aws.ec2, aws.autoScaling, aws.elbv2, aws.ecs, aws.dynamo, aws.dynamoRaw, sts]) client.destroy();
}

export async function createDryRunReplayer(opts: DryRunOptions, clients: DryRunClients): Promise<DryRunReplayer> {
  // The setup's reads pass the same guard as the responder's: nothing in a dry run can write.
  const setup = new PlanJournal();
  const readOnly = guardClients(clients.aws, setup);
  installGuard(clients.sts, 'sts');
  const sts = guardedView(clients.sts, 'sts', setup);

  const tableMissing = opts.stackNotDeployed !== undefined || (await isTableMissing(readOnly.dynamoRaw, opts.table));
  const accounts = opts.accounts ?? [await callerAccount(sts)];
  const settings: ResponderSettings = {
    tableName: opts.table,
    recordRetentionDays: DEFAULTS.recordRetentionDays,
    policy: { accounts, regions: [regionOf(opts)] },
    ...(opts.behaviour ? { behaviour: opts.behaviour } : {}),
    ...(opts.ecsClusters ? { ecsClusters: opts.ecsClusters } : {}),
  };
  const log = opts.log ?? silentLog;

  // No table, no index: read the instance's registrations from ELBv2 instead, so the plan
  // is as complete as the deployed responder's would be.
  const mode = tableMissing
    ? { liveTargets: { describeCallsPerSecond: opts.describeCallsPerSecond ?? DEFAULTS.indexDescribeCallsPerSecond } }
    : {};
  const finish = (record: ResponseRecord, notes: string[]) =>
    dryRunRecord(notes.length > 0 ? { ...record, notes: [...(record.notes ?? []), ...notes] } : record);

  return {
    accounts,
    tableMissing,
    async replayBatch(events) {
      const dryRun = createDryRun(clients.aws, settings, log, clockFor(newestEvent(events), opts.clock), mode);
      let records: ResponseRecord[];
      try {
        records = await respondBatch(events, dryRun.deps);
      } catch (err) {
        records = events.map((event) => unrecordedFailure(event, err));
      }
      const notes = dryRun.notes();
      return { records: records.map((record) => finish(record, notes)), plan: dryRun.plan() };
    },
    async replay(event) {
      const dryRun = createDryRun(clients.aws, settings, log, clockFor(event, opts.clock), mode);
      let record: ResponseRecord;
      try {
        record = await respond(event, dryRun.deps);
      } catch (err) {
        record = err instanceof ResponseFailedError ? err.record : unrecordedFailure(event, err);
      }
      return { record: finish(record, dryRun.notes()), plan: dryRun.plan() };
    },
  };
}

/** Dry-run every event of every file in order, printing as it goes. */
export async function dryRunFiles(
  files: string[],
  opts: DryRunOptions & { json: boolean; batch?: boolean },
  print: (line: string) => void,
  printError: (line: string) => void,
  clients?: DryRunClients,
): Promise<ReplayReport> {
  const { events, fileErrors } = await loadEventFiles(files, printError, opts.instanceId);

  const records: ResponseRecord[] = [];
  if (events.length > 0) {
    const used = clients ?? dryRunClientsFor(opts);
    try {
      const replayer = await createDryRunReplayer(opts, used);
      if (!opts.json) print(header(opts, replayer.accounts));
      // On stderr under --json, so stdout stays one JSON object per line.
      if (replayer.tableMissing) (opts.json ? printError : print)(missingTableWarning(opts));
      if (opts.batch) {
        const batch = await replayer.replayBatch(events);
        records.push(...batch.records);
        if (opts.json) {
          // One line per event; the batch's calls are shared, so each line carries them all.
          for (const record of batch.records) print(JSON.stringify(dryRunSummary(record, batch.plan)));
        } else {
          print(`${formatDryRunBatch(batch.records, batch.plan)}\n`);
          print(batchSummary(batch.records));
        }
      } else {
        for (const event of events) {
          const { record, plan } = await replayer.replay(event);
          records.push(record);
          print(opts.json ? JSON.stringify(dryRunSummary(record, plan)) : `${formatDryRun(record, plan)}\n`);
        }
      }
    } finally {
      if (!clients) destroyDryRunClients(used);
    }
  }
  return { records, fileErrors, exitCode: replayExitCode(records, fileErrors) };
}

function header(opts: DryRunOptions, accounts: string[]): string {
  const where = opts.endpointUrl
    ? `the emulator at ${opts.endpointUrl}`
    : `${regionOf(opts)}${opts.profile ? ` with profile ${opts.profile}` : ''}`;
  const table = opts.stackNotDeployed ? `stack ${opts.stackNotDeployed} not deployed` : `table ${opts.table}`;
  return (
    `dry run against ${where}, ${table}, accepting events of account ${accounts.join(', ')}: ` +
    'only reads are sent; the target index is used as it is\n'
  );
}

function missingTableWarning(opts: DryRunOptions): string {
  const what = opts.stackNotDeployed
    ? `the stack ${opts.stackNotDeployed} is not deployed in ${regionOf(opts)}`
    : `table ${opts.table} does not exist in ${regionOf(opts)} (check --table, --stack-name and --region)`;
  return (
    `warning: ${what}: this is what the responder would do once deployed. With no target index, the ` +
    "instance's registrations outside its Auto Scaling group are read from ELBv2 (each plan says how many " +
    'describe calls that took); no claim is held. Nothing is created.\n'
  );
}

/** DescribeTable: only a table that is not there counts; any other error shows up in the plans. */
async function isTableMissing(dynamo: DynamoDBClient, table: string): Promise<boolean> {
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: table }));
    return false;
  } catch (err) {
    return err instanceof Error && err.name === 'ResourceNotFoundException';
  }
}

async function callerAccount(sts: STSClient): Promise<string> {
  const { Account } = await sts.send(new GetCallerIdentityCommand({}));
  if (!Account) throw new Error('STS GetCallerIdentity returned no account; pass --account');
  return Account;
}
