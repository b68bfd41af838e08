// `spot-responder doctor` against a real emulated fleet: the demo fleet's target groups keep
// ELBv2's default 300 s deregistration delay, which outlives the notice; fixing it clears the
// finding and the exit code. moto cannot show an NLB's connection termination attribute being
// honoured or hooks firing; the rules themselves are unit-tested in test/unit/cli/doctor-checks.
import { PutLifecycleHookCommand } from '@aws-sdk/client-auto-scaling';
import { ModifyTargetGroupAttributesCommand as ModifyAttributes } from '@aws-sdk/client-elastic-load-balancing-v2';
import { runDoctor, type DoctorReport } from '../../cli/doctor';
import { buildDemoFleet, type DemoFleet } from '../../dev/fleet';
import { testClients, testEndpoint, useEmulator } from '../support/emulator-env';
import { jsonLines, runCli, uniqueName } from '../support/integration';

useEmulator();

const clients = testClients();
afterAll(() => Object.values(clients).forEach((client) => client.destroy()));

const CLI_TIMEOUT_MS = 60_000;
let fleet: DemoFleet;
let prefix: string;

beforeAll(async () => {
  prefix = uniqueName('doc');
  fleet = await buildDemoFleet(clients, { prefix });
}, CLI_TIMEOUT_MS);

async function doctor(extra: { autoScalingGroupNames?: string[]; targetGroupNames?: string[] } = {}): Promise<DoctorReport> {
  const lines: string[] = [];
  const report = await runDoctor({ endpointUrl: testEndpoint(), json: true, callsPerSecond: 100, ...extra }, (l) => lines.push(l));
  expect(JSON.parse(lines.join('\n'))).toEqual(report);
  return report;
}

const ours = (report: DoctorReport) => report.findings.filter((f) => f.resource.includes(prefix));

describe('doctor on the emulator', () => {
  it('flags the default 300 s deregistration delay: losing traffic on the Spot group\'s groups, a risk on the others', async () => {
    const report = await doctor();
    const delay = ours(report).filter((f) => f.kind === 'deregistration-delay-exceeds-notice');
    const { web, api, admin, adminIp } = fleet.targetGroups;
    expect(delay.map((f) => `${f.severity} ${f.resource}`).sort()).toEqual(
      [`loses-traffic ${web.name}`, `loses-traffic ${api.name}`, `risk ${admin.name}`, `risk ${adminIp.name}`].sort(),
    );
    expect(report.exitCode).toBe(1);
    expect(report.inspected.spotAutoScalingGroups).toBeGreaterThanOrEqual(1);
  });

  it('a terminating hook that waits an hour is a risk (moto stores the hook; it cannot run it)', async () => {
    await clients.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: fleet.autoScalingGroupName,
        LifecycleHookName: 'flush-logs',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 3600,
      }),
    );
    const report = await doctor();
    expect(ours(report)).toContainEqual(
      expect.objectContaining({ kind: 'terminating-hook-outlives-notice', severity: 'risk', resource: fleet.autoScalingGroupName }),
    );
  });

  it('a scope that leaves the fleet out says so', async () => {
    const report = await doctor({ autoScalingGroupNames: ['nothing-*'], targetGroupNames: [`${fleet.targetGroups.web.name}`] });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: 'group-outside-scope', resource: fleet.autoScalingGroupName }),
    );
    expect(report.findings).toContainEqual(
      expect.objectContaining({ kind: 'target-group-outside-scope', severity: 'loses-traffic', resource: fleet.targetGroups.api.name }),
    );
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: 'scope-matches-nothing', resource: 'autoScalingGroupNames: nothing-*' }));
  });

  it('once every delay fits the notice the CLI exits 0, and --json is one report', async () => {
    for (const tg of Object.values(fleet.targetGroups)) {
      await clients.elbv2.send(
        new ModifyAttributes({ TargetGroupArn: tg.arn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '90' }] }),
      );
    }
    const run = await runCli(['doctor', '--json', '--endpoint-url', testEndpoint(), '--calls-per-second', '50'], CLI_TIMEOUT_MS);
    const reports = jsonLines(run.stdout) as unknown as DoctorReport[];
    expect(reports).toHaveLength(1);
    // Each test file starts from a reset emulator: this fleet is all there is.
    expect(reports[0]?.counts['loses-traffic']).toBe(0);
    expect(reports[0]?.findings.map((f) => f.kind)).toEqual(['terminating-hook-outlives-notice']);
    expect(run.code).toBe(0);
  }, CLI_TIMEOUT_MS);
});
