// The spot-responder CLI: replay events through the responder, read its history, run the demo.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { jsonLinesLog } from '../lambda/log';
import { INSTANCE_ID } from '../lambda/events/envelope';
import { runDemo } from '../cli/demo';
import { historyWindow, listHistory, parseDuration, printHistory } from '../cli/history';
import { dryRunFiles } from '../cli/dry-run';
import { runDoctor } from '../cli/doctor';
import { runReport } from '../cli/report';
import { fisClientFor, runDrill } from '../cli/drill';
import { DynamoHistoryReader } from '../lambda/aws/store/history-reader';
import { assertReplayAllowed, replayFiles } from '../cli/replay';
import { DEFAULTS } from '../lambda/contract';
import { clientsFor, resolveTarget, type AwsTarget } from '../cli/aws-target';
import { StackNotDeployedError, chooseTable, readStack, DEFAULT_STACK_NAME } from '../cli/stack-target';
import { formatRefreshSummary, refreshIndexNow } from '../cli/index-refresh';
import { dlqClientsFor, dlqEntrySummary, dlqQueues, formatDlqEntry, receiveDlq, redriveSources, release, runRedrive } from '../cli/dlq';
import { packageRoot } from '../dev/package-root';

const print = (line: string): void => void process.stdout.write(`${line}\n`);
const printError = (line: string): void => void process.stderr.write(`${line}\n`);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function instanceId(value: string): string {
  if (!INSTANCE_ID.test(value)) throw new InvalidArgumentError(`"${value}" is not an EC2 instance id (i-0123456789abcdef0)`);
  return value;
}

function duration(value: string): string {
  try {
    parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

function queueUrl(value: string): string {
  try {
    new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a queue URL (https://sqs.us-east-1.amazonaws.com/111122223333/name)`);
  }
  return value;
}

/** `--account 111122223333 --account 444455556666` or `--account 111122223333,444455556666`. */
function accountIds(value: string, previous: string[] | undefined): string[] {
  const ids = value.split(',').map((v) => v.trim());
  const bad = ids.find((id) => !/^\d{12}$/.test(id));
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not a 12-digit AWS account id`);
  return [...(previous ?? []), ...ids];
}

function endpointUrl(value: string): string {
  try {
    new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL (http://127.0.0.1:5000)`);
  }
  return value;
}

/** Where to call AWS, and which deployed stack (or table) the command reads. */
function withAwsOptions(command: Command): Command {
  return withAccountOptions(command)
    .option(
      '--stack-name <name>',
      `the deployed stack whose outputs name the table and queues (default: ${DEFAULT_STACK_NAME}; ` +
        'with --endpoint-url and no --stack-name, the local table spot-responder)',
    )
    .option('--table <name>', 'the records table (overrides the stack; env SPOT_RESPONDER_TABLE)');
}

/** Where to call AWS only: for commands that name no records table (doctor, which adds its own --stack-name). */
function withAccountOptions(command: Command): Command {
  return command
    .option('--endpoint-url <url>', 'a local AWS emulator (moto server), e.g. http://127.0.0.1:5000', endpointUrl)
    .option('--region <region>', "AWS region (default: AWS_REGION, else the profile's region, else us-east-1)")
    .option('--profile <name>', 'AWS profile for a real account (its credentials and its region)')
    .option(
      '--send-credentials-to-endpoint',
      'sign requests to a non-AWS --endpoint-url with your real credentials (default: the emulator\'s dummy ones)',
    );
}

interface AwsFlags {
  endpointUrl?: string;
  region?: string;
  profile?: string;
  sendCredentialsToEndpoint?: boolean;
  stackName?: string;
  table?: string;
}

/** Which AWS, with its region resolved as the SDK does (--region, env, the profile's config). */
async function targetOf(opts: AwsFlags): Promise<AwsTarget & { region: string }> {
  return resolveTarget({
    endpointUrl: opts.endpointUrl,
    region: opts.region,
    profile: opts.profile,
    sendCredentialsToEndpoint: Boolean(opts.sendCredentialsToEndpoint),
  });
}

/** The target and the records table (--table, else the stack's TableName output). */
async function tableTargetOf(opts: AwsFlags) {
  const target = await targetOf(opts);
  const { table } = await chooseTable({ ...target, table: opts.table, stackName: opts.stackName });
  return { ...target, table };
}

/** The responder's JSON log lines on stderr, for --verbose (stdout stays the command's result). */
function verboseLog(verbose: boolean | undefined) {
  return verbose ? jsonLinesLog((line) => process.stderr.write(line), 'debug', {}, DEFAULTS.serviceName) : undefined;
}

/** package.json's version: one place to bump. */
const VERSION = (JSON.parse(readFileSync(join(packageRoot(__dirname), 'package.json'), 'utf8')) as { version: string }).version;

const program = new Command()
  .name('spot-responder')
  .version(VERSION)
  .description('Drain, replace and record EC2 Spot instances on their interruption warning.')
  // A usage error is a setup error (exit 2, as the README's exit codes say), not "an event
  // failed" (1): commander throws instead of exiting, and the catch below sets the code.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');

withAwsOptions(
  program
    .command('replay')
    .description('replay EventBridge events (one event or an array per JSON file) through the responder')
    .argument('<file...>', 'JSON files holding EventBridge events'),
)
  .option('--json', 'one JSON object per event per line')
  .addOption(
    new Option('--clock <clock>', 'event: as if each event arrived at its own time; wall: the real clock')
      .choices(['event', 'wall'])
      .default('event'),
  )
  .option(
    '--dry-run',
    'only read, against a real account or an emulator: print every call in order (the reads made, the writes it ' +
      'WOULD make) and the record it would write; creates nothing, and uses the target index as it is',
  )
  .option(
    '--account <ids>',
    'accounts whose events are accepted, comma-separated or repeated (default: the emulator account 123456789012; ' +
      "with --dry-run, the caller's account)",
    accountIds,
  )
  .option('--instance-id <id>', 'point every event at this instance (replay a sample against your own)', instanceId)
  .option(
    '--batch',
    'hand all the events to the responder as ONE batch, as the warning queue does (merged AWS calls, one record per event)',
  )
  .option('--no-refresh-index', 'do not rebuild the target index before replaying (see how a stale index behaves)')
  .option('--verbose', 'print the responder\'s structured logs on stderr')
  .action(async (files: string[], opts) => {
    // Before anything is resolved: no credentials, region or stack is needed to refuse.
    assertReplayAllowed(opts);
    const target = await targetOf(opts);
    let table: string;
    let stackNotDeployed: string | undefined;
    try {
      table = (await chooseTable({ ...target, table: opts.table, stackName: opts.stackName })).table;
    } catch (err) {
      // A dry run is the natural first use, before the stack exists: plan anyway, and say so.
      if (!(opts.dryRun && err instanceof StackNotDeployedError)) throw err;
      stackNotDeployed = err.stackName;
      // Never created, so never found: the store reads it as "no claim held".
      table = `${err.stackName}-not-deployed`;
    }
    const common = {
      ...target,
      table,
      json: Boolean(opts.json),
      clock: opts.clock,
      accounts: opts.account,
      instanceId: opts.instanceId,
      log: verboseLog(opts.verbose),
    };
    const report = opts.dryRun
      ? await dryRunFiles(
          files,
          { ...common, batch: Boolean(opts.batch), ...(stackNotDeployed ? { stackNotDeployed } : {}) },
          print,
          printError,
        )
      : await replayFiles(files, { ...common, refreshIndex: opts.refreshIndex, batch: Boolean(opts.batch) }, print, printError);
    process.exitCode = report.exitCode;
  });

withAwsOptions(program.command('history').description('list recorded events, newest first'))
  .option('--since <duration>', 'how far back by event time: 30m, 6h, 7d, 2w', duration, '7d')
  .option('--limit <n>', 'at most this many records', positiveInt, 100)
  .option('--json', 'one JSON object per record per line')
  .action(async (opts, command: Command) => {
    const now = Date.now();
    const records = await listHistory(
      {
        ...(await tableTargetOf(opts)),
        since: opts.since,
        limit: opts.limit,
        json: Boolean(opts.json),
      },
      now,
    );
    printHistory(records, Boolean(opts.json), print, historyWindow(opts.since, now, command.getOptionValueSource('since') === 'default'));
  });

withAwsOptions(
  program
    .command('report')
    .description(
      'interruption analytics from the recorded history: per pool (instance type x Availability Zone) and per group, ' +
        'real notice, time to traffic stopped, replacement lag, failures',
    ),
)
  .option('--since <duration>', 'how far back by event time: 30m, 6h, 7d, 2w', duration, '30d')
  .option('--json', 'print the report as one JSON object')
  .option('--html <file>', 'also write a self-contained page with charts (works offline)')
  .option(
    '--spot-prices',
    "add each pool's Spot price history and its zone's placement score, and suggest pools to add " +
      '(DescribeSpotPriceHistory, GetSpotPlacementScores, DescribeInstanceTypes)',
  )
  .option('--candidate-types <types...>', 'with --spot-prices: more instance types to consider adding (default: same-shape types)')
  .option('--target-capacity <n>', 'with --spot-prices: the instances the placement score is asked for', positiveInt, 10)
  .action(async (opts) => {
    await runReport(
      {
        ...(await tableTargetOf(opts)),
        since: opts.since,
        json: Boolean(opts.json),
        ...(opts.html ? { html: opts.html } : {}),
        spotPrices: Boolean(opts.spotPrices),
        ...(opts.candidateTypes ? { candidateTypes: opts.candidateTypes } : {}),
        targetCapacity: opts.targetCapacity,
      },
      print,
    );
  });

withAwsOptions(
  program
    .command('drill')
    .description(
      "start the stack's FIS drill (real Spot interruption notices to drill-tagged instances), wait, and score the " +
        'response per instance from the records: warned, traffic stopped before the deadline, replacement launched ' +
        'and healthy (exit 1 on any failure)',
    ),
)
  .option('--experiment-template-id <id>', "the FIS experiment template (default: the stack's DrillExperimentTemplateId output)")
  .option('--json', 'print the verdict as one JSON object')
  .option('--timeout-minutes <n>', 'how long the experiment may run', positiveInt, 30)
  .option(
    '--settle-minutes <n>',
    'after the experiment, how long to wait for the records to show every check (a replacement is seen healthy at ' +
      'the next index refresh, 5 minutes by default)',
    positiveInt,
    10,
  )
  .action(async (opts) => {
    const target = await targetOf(opts);
    let templateId: string | undefined = opts.experimentTemplateId;
    if (!templateId) {
      const stack = await readStack({ ...target, stackName: opts.stackName }).catch((err: unknown) => {
        throw err instanceof StackNotDeployedError ? err.naming(['--experiment-template-id', '--table']) : err;
      });
      templateId = stack.drillExperimentTemplateId;
      if (!templateId) {
        throw new Error(
          `stack ${stack.stackName} has no DrillExperimentTemplateId output: deploy it with the drill ` +
            '(SpotResponderProps.drill, or -c spotResponder:drill=true), or pass --experiment-template-id',
        );
      }
    }
    const { table } = await chooseTable({ ...target, table: opts.table, stackName: opts.stackName });
    const clients = clientsFor(target);
    const fis = fisClientFor(target);
    try {
      const report = await runDrill(
        { experimentTemplateId: templateId, json: Boolean(opts.json), experimentTimeoutMs: opts.timeoutMinutes * 60_000, settleMs: opts.settleMinutes * 60_000 },
        { fis, history: new DynamoHistoryReader({ client: clients.dynamo, tableName: table }) },
        print,
      );
      process.exitCode = report.exitCode;
    } finally {
      fis.destroy();
      for (const client of Object.values(clients)) client.destroy();
    }
  });

const index = program.command('index').description('the target index the responder uses to find target groups');
withAwsOptions(
  index
    .command('refresh')
    .description(
      'rebuild the target index now, as the scheduled refresher does (writes only the index in the table, never the fleet)',
    ),
)
  .option('--json', 'print the summary as JSON')
  .option('--calls-per-second <n>', 'ELBv2 describe calls per second (default 4 on AWS, as the refresher; 50 on an emulator)', positiveInt)
  .option('--quiet', 'no progress on stderr')
  .action(async (opts) => {
    const target = await tableTargetOf(opts);
    if (!opts.quiet) printError(`refreshing the target index in ${target.table} (${target.endpointUrl ?? target.region}) ...`);
    const summary = await refreshIndexNow({
      ...target,
      ...(opts.callsPerSecond ? { describeCallsPerSecond: opts.callsPerSecond } : {}),
      ...(opts.quiet ? {} : { progress: printError }),
    });
    print(opts.json ? JSON.stringify(summary) : formatRefreshSummary(target.table, summary));
  });

const dlq = program.command('dlq').description("the stack's dead-letter queues: events that could not be handled");
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const collectUrl = (value: string, previous: string[] | undefined) => collect(queueUrl(value), previous);
withAwsOptions(dlq.command('list').description('list dead-lettered events (messages are left in place)'))
  .option('--queue-url <url>', 'a dead-letter queue to read (repeatable; default: every DLQ of the stack)', collectUrl)
  .option('--max <n>', 'at most this many messages per queue', positiveInt, 100)
  .option('--json', 'one JSON object per message per line')
  .action(async (opts) => {
    const target = await targetOf(opts);
    const queues = await dlqQueues(opts, () => readStack({ ...target, stackName: opts.stackName }));
    const clients = dlqClientsFor(target);
    let count = 0;
    for (const queueUrl of queues) {
      const entries = await receiveDlq(clients.sqs, queueUrl, opts.max);
      await release(clients.sqs, entries);
      count += entries.length;
      if (!opts.json) print(`${queueUrl}: ${entries.length} message${entries.length === 1 ? '' : 's'}`);
      entries.forEach((e) => print(opts.json ? JSON.stringify(dlqEntrySummary(e)) : `  ${formatDlqEntry(e)}`));
    }
    if (!opts.json && count === 0) print('no dead-lettered events');
  });
withAwsOptions(
  dlq
    .command('redrive')
    .description(
      're-send dead-lettered events to the queue their rule feeds (deleted from the DLQ only once re-sent); unrecognised ' +
        'messages stay, and so do terminate warnings past their two-minute deadline (too late to act on: the responder ' +
        'would fail them back to the DLQ), listed with why',
    ),
)
  .option('--queue-url <url>', 'a dead-letter queue to redrive (repeatable; default: every DLQ of the stack)', collectUrl)
  .option('--warning-queue-url <url>', "where warnings and rebalance recommendations go back to (default: the stack's WarningQueueUrl output)", queueUrl)
  .option('--state-change-queue-url <url>', "where every other event goes back to (default: the stack's StateChangeQueueUrl output)", queueUrl)
  .option('--event-id <id>', 'only the message(s) holding this event')
  .option('--max <n>', 'at most this many messages per queue', positiveInt, 100)
  .option('--delete-late', 'delete from the DLQ the messages too late to act on (listed first), instead of leaving them')
  .option('--json', 'one JSON object per message per line')
  .action(async (opts) => {
    const target = await targetOf(opts);
    const { queues, target: redriveTarget } = await redriveSources(opts, () => readStack({ ...target, stackName: opts.stackName }));
    const report = await runRedrive(
      dlqClientsFor(target),
      { queues, target: redriveTarget, eventId: opts.eventId, max: opts.max, deleteLate: Boolean(opts.deleteLate), json: Boolean(opts.json) },
      print,
    );
    process.exitCode = report.exitCode;
  });

withAccountOptions(
  program
    .command('doctor')
    .description(
      'read-only preflight: target groups, Auto Scaling groups and hooks that do not fit the two-minute notice, ' +
        "and the deployed responder's scope against what exists, each with its fix (exit 1 when a finding would lose traffic)",
    ),
)
  .option(
    '--stack-name <name>',
    `the deployed stack whose responder's scope and graceful-shutdown setting are checked, read from its function's ` +
      `environment (default: ${DEFAULT_STACK_NAME}; with --endpoint-url, only when given; not deployed: not checked, and said so)`,
  )
  .option('--json', 'print the report as one JSON object')
  .option('--auto-scaling-group-names <pattern...>', "the responder's autoScalingGroupNames to check (overrides the stack's)")
  .option('--target-group-names <pattern...>', "the responder's targetGroupNames to check (overrides the stack's)")
  .option('--calls-per-second <n>', 'describe calls per second per service', positiveInt, 4)
  .option(
    '--graceful-shutdown',
    "check as if graceful shutdown were on, whatever the stack says: report Spot instances without an online SSM agent " +
      '(ssm:DescribeInstanceInformation); default: on when the deployed responder has it',
  )
  .option('--no-graceful-shutdown', "do not check the SSM agents, even when the deployed responder has graceful shutdown on")
  .action(async (opts) => {
    const report = await runDoctor(
      {
        ...(await targetOf(opts)),
        json: Boolean(opts.json),
        stackName: opts.stackName,
        autoScalingGroupNames: opts.autoScalingGroupNames,
        targetGroupNames: opts.targetGroupNames,
        callsPerSecond: opts.callsPerSecond,
        gracefulShutdown: opts.gracefulShutdown,
      },
      print,
    );
    process.exitCode = report.exitCode;
  });

program
  .command('demo')
  .description('start a local AWS emulator, build a small Spot fleet, replay a warning and show what changed')
  .option('--verbose', 'print the responder\'s structured logs on stderr')
  .action(async (opts) => {
    process.exitCode = await runDemo({ print, log: verboseLog(opts.verbose) });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed the help, the version or the usage error already.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  const error = err as Error;
  const message =
    error.name === 'ResourceNotFoundException'
      ? `the records table was not found (${error.message}); check --stack-name, --table, --region and --endpoint-url`
      : error.message;
  printError(`error: ${message}`);
  process.exitCode = 2;
});
