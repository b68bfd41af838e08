// `replay --dry-run` against moto: the demo fleet and the records table are set up by a normal
// replayer (which creates the table and refreshes the index), then every dry run is checked by
// what it leaves behind: the fleet (describeFleet) and every item of the table, compared before
// and after. The plan is checked against the fleet it was made for.
//
// moto (5.2.5) answers STS GetCallerIdentity with its account, 123456789012, so the CLI runs
// below also take the "no --account" path a real account would.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createDryRunReplayer,
  destroyDryRunClients,
  dryRunClientsFor,
  type DryRunClients,
  type DryRunReplayer,
} from '../../cli/dry-run';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { createReplayer, type Replayer } from '../../cli/replay';
import { spotWarningEvent } from '../../cli/sample-events';
import type { PlanStep } from '../../lambda/dry-run/guard';
import { isReadOperation } from '../../lambda/dry-run/guard';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, jsonLines, runCli, uniqueName } from '../support/integration';

useEmulator();

const TABLE = uniqueName('dry-tbl');
/** Building a fleet takes a second or two on moto; a CLI run pays for tsx's start-up too. */
const SLOW_MS = 60_000;

let replayer: Replayer;
let dryClients: DryRunClients;
let dry: DryRunReplayer;
let fleet: DemoFleet;
let victim: string;
let scratch: string;

beforeAll(async () => {
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
  fleet = await buildDemoFleet(replayer.clients, { prefix: uniqueName('dry') });
  victim = fleet.shared.instanceId;
  await replayer.refreshIndex();
  dryClients = dryRunClientsFor({ endpointUrl: testEndpoint() });
  dry = await createDryRunReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall' }, dryClients);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-dry-run-'));
}, SLOW_MS);

afterAll(() => {
  if (replayer) destroyClients(replayer.clients);
  if (dryClients) destroyDryRunClients(dryClients);
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

/** Every item of a table, sorted by key. */
async function tableItems(dynamo: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await dynamo.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items.sort((a, b) => String(a.pk).localeCompare(String(b.pk)));
}

interface World {
  fleet: FleetSnapshot;
  table: Record<string, unknown>[];
}

const world = async (): Promise<World> => ({
  fleet: await describeFleet(replayer.clients, fleet),
  table: await tableItems(replayer.clients.dynamo, TABLE),
});

const writes = (plan: PlanStep[], command?: string) =>
  plan.filter((s) => s.kind === 'write' && (command === undefined || s.command === command));

const targetGroupsOf = (steps: Array<Pick<PlanStep, 'input'>>): string[] =>
  steps.map((s) => (s.input as { TargetGroupArn: string }).TargetGroupArn).sort();

function eventFile(name: string, event: unknown): string {
  const file = path.join(scratch, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(event));
  return file;
}

describe('a dry run of a warning for a group instance registered in four target groups', () => {
  it(
    'leaves the fleet and the table as they were, and plans each deregistration and the detach',
    async () => {
      // Prepare
      const before = await world();
      expect(before.table.length).toBeGreaterThan(0);

      // Act
      const { record, plan } = await dry.replay(spotWarningEvent(victim));

      // Assess
      expect(await world()).toEqual(before);
      expect(record).toMatchObject({
        outcome: 'handled',
        dryRun: true,
        autoScalingGroup: fleet.autoScalingGroupName,
        deregisteredFrom: [],
        detached: false,
      });
      expect(plan.filter((s) => s.kind === 'read').every((s) => isReadOperation(s.command))).toBe(true);
      const { web, api, admin, adminIp } = fleet.targetGroups;
      const deregistrations = writes(plan, 'DeregisterTargets');
      expect(targetGroupsOf(deregistrations)).toEqual([web.arn, api.arn, admin.arn, adminIp.arn].sort());
      expect(deregistrations.map((s) => (s.input as { Targets: Array<{ Id: string }> }).Targets[0]?.Id).sort()).toEqual(
        [victim, victim, victim, fleet.shared.privateIp].sort(),
      );
      expect(writes(plan, 'DetachInstances').map((s) => s.input)).toEqual([
        { AutoScalingGroupName: fleet.autoScalingGroupName, InstanceIds: [victim], ShouldDecrementDesiredCapacity: false },
      ]);
    },
    SLOW_MS,
  );
});

describe('spot-responder replay --dry-run (the CLI)', () => {
  it(
    '--json prints the record with dryRun and the plan, and changes nothing',
    async () => {
      // Prepare
      const before = await world();
      const warning = spotWarningEvent(victim);
      const file = eventFile('warning', warning);

      // Act
      const run = await runCli(['replay', '--dry-run', '--endpoint-url', testEndpoint(), '--table', TABLE, '--json', file]);

      // Assess
      expect(run.code).toBe(0);
      expect(await world()).toEqual(before);
      const lines = jsonLines(run.stdout) as Array<Record<string, unknown> & { plan: PlanStep[] }>;
      expect(lines).toHaveLength(1);
      const [line] = lines;
      expect(line).toMatchObject({ eventId: warning.id, instanceId: victim, outcome: 'handled', dryRun: true });
      expect(line?.plan.map((s) => s.step)).toEqual(line?.plan.map((_, i) => i + 1));
      expect(line?.plan[0]).toMatchObject({ kind: 'read', service: 'ec2', command: 'DescribeInstances' });
      expect(targetGroupsOf(writes(line?.plan ?? [], 'DeregisterTargets'))).toHaveLength(4);
      expect(writes(line?.plan ?? [], 'DetachInstances')).toHaveLength(1);
    },
    SLOW_MS,
  );

  it(
    'issue 9.8: before the stack is deployed (no table): a complete plan from ELBv2 read live, exit 0, a warning, nothing created',
    async () => {
      // Prepare
      const missing = uniqueName('no-tbl');
      const before = await world();
      const file = eventFile('missing-table', spotWarningEvent(victim));

      // Act
      const run = await runCli(['replay', '--dry-run', '--endpoint-url', testEndpoint(), '--table', missing, '--json', file]);

      // Assess: the same four target groups the index finds (two outside the group, one by IP)
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`warning: table ${missing} does not exist`);
      const [line] = jsonLines(run.stdout) as Array<Record<string, unknown> & { plan: PlanStep[]; notes: string[] }>;
      expect(line).toMatchObject({ outcome: 'handled', dryRun: true });
      const { web, api, admin, adminIp } = fleet.targetGroups;
      expect(targetGroupsOf(writes(line?.plan ?? [], 'DeregisterTargets'))).toEqual(
        [web.arn, api.arn, admin.arn, adminIp.arn].sort(),
      );
      expect(writes(line?.plan ?? [], 'DetachInstances')).toHaveLength(1);
      const health = (line?.plan ?? []).filter((s) => s.command === 'DescribeTargetHealth');
      const listing = (line?.plan ?? []).filter((s) => s.command === 'DescribeTargetGroups');
      expect(health.length).toBeGreaterThanOrEqual(4);
      expect(line?.notes).toContainEqual(
        expect.stringContaining(`${health.length + listing.length} describe calls (${listing.length} DescribeTargetGroups`),
      );
      expect(writes(line?.plan ?? [], 'TransactWriteItems')[0]?.note).toMatch(/the table does not exist/);
      const described = await replayer.clients.dynamoRaw
        .send(new DescribeTableCommand({ TableName: missing }))
        .catch((err: Error) => err);
      expect(described).toMatchObject({ name: 'ResourceNotFoundException' });
      expect(await world()).toEqual(before);
    },
    SLOW_MS,
  );

  it(
    'issue 9.8: --stack-name of a stack not deployed: plans anyway and says the stack is not deployed, exit 0',
    async () => {
      // Prepare
      const file = eventFile('not-deployed', spotWarningEvent(victim));

      // Act
      const run = await runCli(['replay', '--dry-run', '--endpoint-url', testEndpoint(), '--stack-name', 'NoSuchStack', file]);

      // Assess
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('warning: the stack NoSuchStack is not deployed in us-east-1');
      expect(run.stdout).toMatch(/WOULD elbv2 +DeregisterTargets/);
      expect(run.stdout).toMatch(/outcome: *handled|handled/);
    },
    SLOW_MS,
  );
});

describe('a dry run of a warning that was handled already', () => {
  it(
    'shows the duplicate it would be and still changes nothing',
    async () => {
      // Prepare: the real response
      const warning = spotWarningEvent(victim);
      const handled = await replayer.replay(warning);
      expect(handled).toMatchObject({ outcome: 'handled', detached: true });
      const before = await world();

      // Act
      const { record, plan } = await dry.replay(warning);

      // Assess
      expect(await world()).toEqual(before);
      expect(record).toMatchObject({ outcome: 'duplicate', duplicateOf: warning.id, dryRun: true });
      expect(writes(plan).map((s) => `${s.command}: ${s.note ?? ''}`)).toEqual([
        `TransactWriteItems: claim; would be cancelled: held by ${warning.id} (COMPLETED)`,
        'UpdateItem: note the repeated delivery on the original record',
      ]);
    },
    SLOW_MS,
  );
});
