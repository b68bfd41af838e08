// The real CLI, `node bin/spot-responder.js ...`, against the test emulator: what a user types,
// what it prints, how it exits. Each run pays about a second of tsx start-up, so the runs are
// few and each checks several things; the --help runs go side by side.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { spotWarningEvent } from '../../cli/demo';
import { buildDemoFleet, describeFleet, type DemoFleet } from '../../dev/fleet';
import { createReplayer } from '../../cli/replay';
import { testClients, testEndpoint, useEmulator } from '../support/emulator-env';
import { eventWith, loadEvent } from '../support/fixtures';
import { destroyClients, eventTime, jsonLines, registrationsIn, runCli, uniqueName } from '../support/integration';

useEmulator();

/** The fields `replay --json` and `history --json` promise every line has. */
const DOCUMENTED_FIELDS = ['eventId', 'instanceId', 'outcome', 'autoScalingGroup', 'detached', 'deregisteredFrom', 'reason'];
/** A CLI run starts tsx, builds clients, refreshes the index: seconds on a loaded machine. */
const CLI_TIMEOUT_MS = 60_000;

const clients = testClients();
let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-cli-'));
});
afterAll(() => {
  Object.values(clients).forEach((client) => client.destroy());
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Writes `content` (JSON-encoded unless already text) to a scratch file; returns its path. */
function eventFile(name: string, content: unknown): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

describe('replay', () => {
  const table = uniqueName('cli-tbl');
  let fleet: DemoFleet;
  const target = () => ['--endpoint-url', testEndpoint(), '--table', table];

  beforeAll(async () => {
    fleet = await buildDemoFleet(clients, { prefix: uniqueName('cli'), asgSize: 5 });
  }, CLI_TIMEOUT_MS);

  it('--json prints one line per event of an array, with the documented fields, and exits 0', async () => {
    // Prepare: a group instance and the standalone one, warned ten and five seconds ago
    const grouped = fleet.asgInstanceIds[1] as string;
    const events = [
      spotWarningEvent(grouped, { time: eventTime(-10_000) }),
      spotWarningEvent(fleet.standaloneInstanceId, { time: eventTime(-5_000) }),
    ];
    const file = eventFile('two-warnings.json', events);
    const { web, api, admin } = fleet.targetGroups;

    // Act
    const run = await runCli(['replay', '--json', '--clock', 'wall', ...target(), file]);

    // Assess
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(DOCUMENTED_FIELDS));
    expect(lines[0]).toMatchObject({
      eventId: events[0]?.id,
      instanceId: grouped,
      outcome: 'handled',
      autoScalingGroup: fleet.autoScalingGroupName,
      detached: true,
      reason: null,
    });
    expect((lines[0]?.deregisteredFrom as string[]).sort()).toEqual([web.arn, api.arn].sort());
    expect(lines[1]).toMatchObject({
      eventId: events[1]?.id,
      instanceId: fleet.standaloneInstanceId,
      outcome: 'handled',
      autoScalingGroup: null,
      detached: false,
      deregisteredFrom: [admin.arn],
      reason: null,
    });
    // The run acted on the emulator, not only printed.
    expect((await registrationsIn(clients.elbv2, web.arn)).join(' ')).not.toContain(grouped);
    expect((await registrationsIn(clients.elbv2, admin.arn)).join(' ')).not.toContain(fleet.standaloneInstanceId);
  }, CLI_TIMEOUT_MS);

  it("--batch hands the files' events to the responder as one batch: one line per event, and the summary", async () => {
    // Prepare: two group instances, one file each
    const [a, b] = [fleet.asgInstanceIds[3] as string, fleet.asgInstanceIds[4] as string];
    const files = [eventFile('batch-a.json', spotWarningEvent(a)), eventFile('batch-b.json', spotWarningEvent(b))];

    // Act
    const json = await runCli(['replay', '--batch', '--json', '--clock', 'wall', ...target(), ...files]);
    const human = await runCli(['replay', '--batch', '--clock', 'wall', '--no-refresh-index', ...target(), ...files]);

    // Assess: both handled in the first run; the second finds them already handled
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(jsonLines(json.stdout).map((l) => [l.instanceId, l.outcome, l.detached])).toEqual([
      [a, 'handled', true],
      [b, 'handled', true],
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('batch of 2 events: 2 answered, 0 failed (none returns to the queue)');
    expect(human.stdout.match(/DUPLICATE/g)).toHaveLength(2);
  }, CLI_TIMEOUT_MS);

  it('a file that is not JSON: an error naming it on stderr, the other files still replayed, a non-zero exit', async () => {
    // Prepare
    const broken = eventFile('cut-short.json', '{"version": "0", "id": ');
    const warning = spotWarningEvent(fleet.asgInstanceIds[2] as string);
    const good = eventFile('good.json', warning);

    // Act
    const run = await runCli(['replay', '--json', '--clock', 'wall', ...target(), broken, good]);

    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^error: ${escape(broken)}: not valid JSON \\(.+\\)\\n$`));
    expect(jsonLines(run.stdout)).toEqual([expect.objectContaining({ eventId: warning.id, outcome: 'handled' })]);
  }, CLI_TIMEOUT_MS);

  it('an event whose response fails: the failed line, a non-zero exit, nothing changed', async () => {
    // Prepare: a table the responder cannot claim in (its key is not `pk`), so the response
    // fails before any mutation, as it would with a misconfigured table in AWS. moto cancels
    // the claim's transaction with KeyError reasons where AWS answers ValidationException; the
    // event store rethrows both (test/unit/aws/event-store.test.ts "throws a cancellation for
    // any other reason at once", "rethrows errors that are not cancellations").
    const brokenTable = uniqueName('cli-bad');
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: brokenTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    const warning = spotWarningEvent(fleet.shared.instanceId);
    const file = eventFile('fails.json', warning);
    const before = await describeFleet(clients, fleet);

    // Act
    const run = await runCli([
      'replay', '--json', '--clock', 'wall', '--no-refresh-index',
      '--endpoint-url', testEndpoint(), '--table', brokenTable, file,
    ]);

    // Assess
    expect(run.code).toBe(1);
    expect(jsonLines(run.stdout)).toEqual([
      expect.objectContaining({ eventId: warning.id, outcome: 'failed', reason: expect.stringMatching(/\(not recorded\)$/) }),
    ]);
    expect(await describeFleet(clients, fleet)).toEqual(before);
  }, CLI_TIMEOUT_MS);
});

describe('history --json --since 1h', () => {
  it('lists the records of the last hour, newest first', async () => {
    // Prepare: records of three outcomes in the last minute, and one from two hours ago
    const table = uniqueName('cli-hist');
    const replayer = await createReplayer({ endpointUrl: testEndpoint(), table, clock: 'wall', refreshIndex: false });
    const oldest = spotWarningEvent('i-00000000000000001', { time: eventTime(-30_000) });
    const rejected = eventWith(loadEvent('invalid/wrong-detail-type.json'), { id: uniqueName('fulfil'), time: eventTime(-20_000) });
    const newest = spotWarningEvent('i-00000000000000003', { time: eventTime(-10_000) });
    const twoHoursAgo = spotWarningEvent('i-00000000000000004', { time: eventTime(-2 * 3_600_000) });
    try {
      for (const event of [newest, oldest, twoHoursAgo, rejected]) await replayer.replay(event);
    } finally {
      destroyClients(replayer.clients);
    }

    // Act
    const run = await runCli(['history', '--json', '--since', '1h', '--endpoint-url', testEndpoint(), '--table', table]);

    // Assess
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = jsonLines(run.stdout);
    expect(lines.map((l) => l.eventId)).toEqual([newest.id, rejected.id, oldest.id]);
    expect(lines.map((l) => l.outcome)).toEqual(['skipped', 'rejected', 'skipped']);
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(DOCUMENTED_FIELDS));
    const times = lines.map((l) => String(l.eventTime));
    expect(times).toEqual([...times].sort().reverse());
  }, CLI_TIMEOUT_MS);
});

describe('replay against a real account', () => {
  it.each([
    ['no --endpoint-url, a profile that does not exist', ['--profile', 'no-such-profile-here']],
    ['an AWS endpoint', ['--endpoint-url', 'https://dynamodb.us-east-1.amazonaws.com']],
  ])('%s, without --dry-run: refuses at once with why, before any credentials or stack is looked up', async (_what, flags) => {
    const run = await runCli(['replay', ...flags, eventFile('refused.json', spotWarningEvent('i-0123456789abcdef0'))]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'error: replay acts on the fleet and would change a real account: pass --endpoint-url <url> to replay against an ' +
        'emulator, or --dry-run to only read and print what it would do\n',
    );
  }, CLI_TIMEOUT_MS);
});

describe('history with nothing in its window', () => {
  it('names the window, that --since was the default, and that older events need a longer --since', async () => {
    // Prepare: a records table with nothing in it
    const table = uniqueName('cli-none');
    const replayer = await createReplayer({ endpointUrl: testEndpoint(), table, clock: 'wall', refreshIndex: false });
    destroyClients(replayer.clients);

    // Act
    const run = await runCli(['history', '--endpoint-url', testEndpoint(), '--table', table]);

    // Assess
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const match = /^no recorded events between (\S+) and (\S+) \(--since 7d, the default\); events older than that need a longer --since, e\.g\. --since 30d\n$/.exec(run.stdout);
    expect(match).not.toBeNull();
    const [from, to] = [Date.parse(match?.[1] ?? ''), Date.parse(match?.[2] ?? '')];
    expect(to - from).toBe(7 * 86_400_000);
  }, CLI_TIMEOUT_MS);
});

/** Each command's --help, and words its usage must mention. */
const HELP: [string[], string[]][] = [
  [[], ['replay', 'history', 'index', 'demo']],
  [['replay'], ['<file...>', '--json', '--clock', '--no-refresh-index', '--account', '--endpoint-url', '--table']],
  [['history'], ['--since', '--limit', '--json', '--endpoint-url', '--table']],
  [['dlq', 'redrive'], ['--queue-url', '--warning-queue-url', '--state-change-queue-url', '--delete-late', '--event-id']],
  [['index'], ['refresh']],
  [['index', 'refresh'], ['--json', '--endpoint-url', '--table']],
  [['demo'], ['--verbose']],
];

describe('--help', () => {
  const runs = new Map<string, Awaited<ReturnType<typeof runCli>>>();
  beforeAll(async () => {
    // Side by side: none of them touches AWS.
    await Promise.all(HELP.map(async ([command]) => runs.set(command.join(' '), await runCli([...command, '--help']))));
  }, CLI_TIMEOUT_MS);

  it.each(HELP)('spot-responder %j --help prints its usage and exits 0', (command, words) => {
    const run = runs.get(command.join(' '));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run?.stdout).toMatch(new RegExp(`^Usage: spot-responder${command.map((c) => ` ${c}`).join('')} `));
    for (const word of words) expect(run?.stdout).toContain(word);
  });
});

describe('usage errors', () => {
  it.each([
    [['replay', '--bogus', 'x.json'], /unknown option '--bogus'/],
    [['replay'], /missing required argument 'file'/],
    [['history', '--since', '100y'], /not a duration like 30m, 6h, 7d or 1w/],
  ])('spot-responder %j exits 2 (a setup error, not a failed event) with one line and a hint, not the whole help', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/\(add --help for usage\)/);
    expect(run.stderr).not.toMatch(/^Usage:/m);
  }, CLI_TIMEOUT_MS);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
