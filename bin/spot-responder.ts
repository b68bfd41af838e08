// The spot-responder CLI: replay events through the responder, read its history, run the demo.
import { Command, InvalidArgumentError, Option } from 'commander';
import { powertoolsLog } from '../lambda/log';
import { Logger } from '@aws-lambda-powertools/logger';
import { INSTANCE_ID } from '../lambda/events/envelope';
import { runDemo } from '../cli/demo';
import { listHistory, parseDuration, printHistory } from '../cli/history';
import { dryRunFiles } from '../cli/dry-run';
import { runDoctor } from '../cli/doctor';
import { createReplayer, replayFiles } from '../cli/replay';
import { CLI_ENV, DEFAULTS } from '../lambda/contract';

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

/** Options every command that talks to AWS shares. */
function withAwsOptions(command: Command): Command {
  return command
    .option('--endpoint-url <url>', 'a local AWS emulator (moto server), e.g. http://127.0.0.1:5000')
    .option('--region <region>', 'AWS region (default: AWS_REGION, else us-east-1)')
    .option('--profile <name>', 'AWS profile for a real account')
    .option('--table <name>', 'the records table', process.env[CLI_ENV.tableName] ?? DEFAULTS.cliTableName);
}

/** What withAwsOptions parsed: which AWS, and which records table. */
function awsTargetOf(opts: { endpointUrl?: string; region?: string; profile?: string; table: string }) {
  return { endpointUrl: opts.endpointUrl, region: opts.region, profile: opts.profile, table: opts.table };
}

/** Pretty JSON logs of the responder on stderr, for --verbose. */
function verboseLog(verbose: boolean | undefined) {
  return verbose ? powertoolsLog(new Logger({ serviceName: DEFAULTS.serviceName, logLevel: 'DEBUG' })) : undefined;
}

const program = new Command()
  .name('spot-responder')
  .description('Drain, replace and record EC2 Spot instances on their interruption warning.')
  .showHelpAfterError();

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
    '--account <id...>',
    'accounts whose events are accepted (default: the emulator account 123456789012; with --dry-run, the caller\'s account)',
  )
  .option('--instance-id <id>', 'point every event at this instance (replay a sample against your own)', instanceId)
  .option('--no-refresh-index', 'do not rebuild the target index before replaying (see how a stale index behaves)')
  .option('--verbose', 'print the responder\'s structured logs on stderr')
  .action(async (files: string[], opts) => {
    const common = {
      ...awsTargetOf(opts),
      json: Boolean(opts.json),
      clock: opts.clock,
      accounts: opts.account,
      instanceId: opts.instanceId,
      log: verboseLog(opts.verbose),
    };
    const report = opts.dryRun
      ? await dryRunFiles(files, common, print, printError)
      : await replayFiles(files, { ...common, refreshIndex: opts.refreshIndex }, print, printError);
    process.exitCode = report.exitCode;
  });

withAwsOptions(program.command('history').description('list recorded events, newest first'))
  .option('--since <duration>', 'how far back by event time: 30m, 6h, 7d', duration, '7d')
  .option('--limit <n>', 'at most this many records', positiveInt, 100)
  .option('--json', 'one JSON object per record per line')
  .action(async (opts) => {
    const records = await listHistory({
      ...awsTargetOf(opts),
      since: opts.since,
      limit: opts.limit,
      json: Boolean(opts.json),
    });
    printHistory(records, Boolean(opts.json), print);
  });

const index = program.command('index').description('the target index the responder uses to find target groups');
withAwsOptions(index.command('refresh').description('rebuild the target index now (what the scheduled refresher does)'))
  .option('--json', 'print the summary as JSON')
  .action(async (opts) => {
    const replayer = await createReplayer({
      ...awsTargetOf(opts),
      clock: 'wall',
      refreshIndex: false,
    });
    const summary = await replayer.refreshIndex();
    print(opts.json ? JSON.stringify(summary) : `index refreshed: ${JSON.stringify(summary)}`);
  });

withAwsOptions(
  program
    .command('doctor')
    .description(
      'read-only preflight: target groups, Auto Scaling groups and hooks that do not fit the two-minute notice, ' +
        'each with its fix (exit 1 when a finding would lose traffic)',
    ),
)
  .option('--json', 'print the report as one JSON object')
  .option('--auto-scaling-group-names <pattern...>', "the responder's autoScalingGroupNames, to check the scope against what exists")
  .option('--target-group-names <pattern...>', "the responder's targetGroupNames, to check the scope against what exists")
  .option('--calls-per-second <n>', 'describe calls per second per service', positiveInt, 4)
  .action(async (opts) => {
    const report = await runDoctor(
      {
        ...awsTargetOf(opts),
        json: Boolean(opts.json),
        autoScalingGroupNames: opts.autoScalingGroupNames,
        targetGroupNames: opts.targetGroupNames,
        callsPerSecond: opts.callsPerSecond,
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
  const error = err as Error;
  const message =
    error.name === 'ResourceNotFoundException'
      ? `the records table was not found (${error.message}); check --table, --region and --endpoint-url`
      : error.message;
  printError(`error: ${message}`);
  process.exitCode = 2;
});
