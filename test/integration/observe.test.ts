// Observe mode against moto: a real fleet, a warning answered by a responder wired in observe
// mode (createResponderDeps with mode 'observe', the wiring the Lambda uses), and then the fleet
// and the records table read back directly: nothing in the fleet moved, and the record, through
// `spot-responder history`, says what acting would have done.
//
// What moto cannot show, and what covers it: IAM (moto does not evaluate the role's policy, so
// the observe role's missing mutation permissions are asserted by test/stack/mode.test.ts), and
// the paths this fleet does not take (terminate in group, ECS drain, batches), which
// test/unit/responder/observe.test.ts covers by what was sent.
import { spotWarningEvent } from '../../cli/demo';
import { clientsFor } from '../../cli/aws-target';
import { createReplayer, type Replayer } from '../../cli/replay';
import { EMULATOR_ACCOUNT } from '../../cli/emulator-target';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import type { AwsClients } from '../../lambda/aws/clients';
import { DEFAULTS } from '../../lambda/contract';
import type { ResponseRecord } from '../../lambda/core/model';
import { silentLog } from '../../lambda/log';
import { respond } from '../../lambda/responder';
import { createResponderDeps } from '../../lambda/wiring';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, jsonLines, recordsAbout, runCli, uniqueName } from '../support/integration';

useEmulator();

const TABLE = uniqueName('obs-tbl');
const FLEET_TIMEOUT_MS = 60_000;

let replayer: Replayer;
/** The observing responder's own clients: observe mode makes them refuse mutations for good. */
let observeClients: AwsClients;
let observeDeps: ReturnType<typeof createResponderDeps>;
let fleet: DemoFleet;
let victim: string;
let before: FleetSnapshot;
let after: FleetSnapshot;
let warning: Record<string, unknown>;
let record: ResponseRecord;

beforeAll(async () => {
  // Prepare: the demo fleet (web and api are the group's target groups, admin and admin-ip are
  // not) and a fresh index, written through the acting replayer's clients.
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
  fleet = await buildDemoFleet(replayer.clients, { prefix: uniqueName('observe') });
  victim = fleet.shared.instanceId;
  await replayer.refreshIndex();
  before = await describeFleet(replayer.clients, fleet);
  warning = spotWarningEvent(victim);
  observeClients = clientsFor({ endpointUrl: testEndpoint() });
  // One set of deps for both deliveries, as one Lambda container keeps them.
  observeDeps = createResponderDeps(
    observeClients,
    {
      tableName: TABLE,
      recordRetentionDays: DEFAULTS.recordRetentionDays,
      policy: { accounts: [EMULATOR_ACCOUNT], regions: ['us-east-1'] },
      mode: 'observe',
    },
    silentLog,
  );

  // Act
  record = await respond(warning, observeDeps);
  after = await describeFleet(replayer.clients, fleet);
}, FLEET_TIMEOUT_MS);

afterAll(() => {
  if (replayer) destroyClients(replayer.clients);
  if (observeClients) destroyClients(observeClients);
});

test('the fleet is unchanged: every registration, the group and its members as before', () => {
  expect(after).toEqual(before);
  expect(after.autoScalingGroup?.instances.map((i) => i.instanceId)).toContain(victim);
});

test('the response is observed: every call acting would make is planned', () => {
  const { web, api, admin, adminIp } = fleet.targetGroups;
  expect(record).toMatchObject({ outcome: 'observed', mode: 'observe', detached: false, deregisteredFrom: [] });
  expect(record.actions.filter((a) => a.action === 'deregister').map((a) => [a.target, a.result]).sort()).toEqual(
    [web.arn, api.arn, admin.arn, adminIp.arn].map((arn) => [arn, 'planned']).sort(),
  );
  expect(record.actions.filter((a) => a.action === 'detach')).toEqual([
    expect.objectContaining({ target: fleet.autoScalingGroupName, result: 'planned' }),
  ]);
});

test('the record is in the table, marked observe', async () => {
  const stored = await recordsAbout(replayer.clients.dynamo, TABLE, victim);
  expect(stored).toHaveLength(1);
  expect(stored[0]).toMatchObject({ eventId: warning.id, outcome: 'observed', mode: 'observe', detached: false });
});

test('`spot-responder history` shows what observe mode would have done', async () => {
  const shown = await runCli(['history', '--since', '1h', '--endpoint-url', testEndpoint(), '--table', TABLE]);
  const json = await runCli(['history', '--json', '--since', '1h', '--endpoint-url', testEndpoint(), '--table', TABLE]);

  expect(shown).toMatchObject({ code: 0, stderr: '' });
  expect(shown.stdout).toContain(`OBSERVED (observe mode)  event ${String(warning.id)}`);
  expect(shown.stdout).toContain(
    `observe: would deregister from 4 target group(s), detach from ${fleet.autoScalingGroupName} with replacement; nothing was changed`,
  );
  expect(jsonLines(json.stdout)).toEqual([expect.objectContaining({ eventId: warning.id, outcome: 'observed', mode: 'observe' })]);
}, FLEET_TIMEOUT_MS);

test('the same warning again is a duplicate of the observed one, and still changes nothing', async () => {
  const second = await respond(warning, observeDeps);
  expect(second).toMatchObject({ outcome: 'duplicate', duplicateOf: warning.id, mode: 'observe' });
  expect(await describeFleet(replayer.clients, fleet)).toEqual(before);
});
