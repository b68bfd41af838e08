// `spot-responder replay --dry-run` as the CLI runs it (dryRunFiles), over mocked clients: what
// it prints, to which stream, and which account it accepts. Without --dry-run, replay refuses
// to run against a real account.
import 'aws-sdk-client-mock-jest';
import { join } from 'node:path';
import { DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { dryRunFiles, type DryRunOptions } from '../../../cli/dry-run';
import { replayFiles } from '../../../cli/replay';
import { EVENT_FIXTURES_DIR, loadEvent } from '../../support/fixtures';
import { FLEET, TABLE_NAME, mockAws } from '../../support/mock-aws';

const TERMINATE = join(EVENT_FIXTURES_DIR, 'spot-interruption-warning', 'terminate.json');
const OPTIONS: DryRunOptions = { region: 'us-east-1', table: TABLE_NAME, clock: 'event' };

/** The default mocked world, with the raw DynamoDB client (DescribeTable) and STS (GetCallerIdentity). */
function cliWorld(opts: { tableMissing?: boolean } = {}) {
  const aws = mockAws({ now: Date.now() });
  const dynamoRaw = mockClient(aws.clients.dynamoRaw);
  if (opts.tableMissing) {
    dynamoRaw.on(DescribeTableCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  } else {
    dynamoRaw.on(DescribeTableCommand).resolves({ Table: { TableName: TABLE_NAME } });
  }
  const stsClient = new STSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const sts = mockClient(stsClient);
  sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ops' });
  const out: string[] = [];
  const err: string[] = [];
  const run = (options: DryRunOptions & { json: boolean }) =>
    dryRunFiles([TERMINATE], options, (l) => out.push(l), (l) => err.push(l), { aws: aws.clients, sts: stsClient });
  return { aws, dynamoRaw, sts, out, err, run };
}

describe('replay --dry-run --json', () => {
  it("prints one object per event: replay's fields, dryRun and the numbered plan", async () => {
    // Prepare
    const world = cliWorld();
    const event = loadEvent('spot-interruption-warning/terminate.json');

    // Act
    const report = await world.run({ ...OPTIONS, json: true });

    // Assess
    expect(report.exitCode).toBe(0);
    expect(world.err).toEqual([]);
    expect(world.out).toHaveLength(1);
    const line = JSON.parse(world.out[0] ?? '') as Record<string, unknown> & { plan: Array<Record<string, unknown>> };
    expect(line).toMatchObject({ eventId: event.id, instanceId: FLEET.instanceId, outcome: 'handled', dryRun: true });
    expect(Object.keys(line)).toEqual(expect.arrayContaining(['deregisteredFrom', 'actions', 'notes', 'timeline']));
    expect(line.plan[0]).toEqual({
      step: 1,
      kind: 'read',
      service: 'ec2',
      command: 'DescribeInstances',
      input: { InstanceIds: [FLEET.instanceId] },
    });
    expect(line.plan.map((s) => s.step)).toEqual(line.plan.map((_, i) => i + 1));
    expect(line.plan.filter((s) => s.kind === 'write').map((s) => s.command)).toEqual([
      'TransactWriteItems',
      'DeregisterTargets',
      'DeregisterTargets',
      'DeregisterTargets',
      'DetachInstances',
      'TransactWriteItems',
    ]);
    expect(world.aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  });

  it("accepts the caller's account from STS when no --account is given, and only then asks", async () => {
    // Prepare
    const caller = cliWorld();
    const given = cliWorld();

    // Act
    await caller.run({ ...OPTIONS, json: true });
    await given.run({ ...OPTIONS, accounts: ['999999999999'], json: true });

    // Assess
    expect(caller.sts).toHaveReceivedCommand(GetCallerIdentityCommand);
    expect(given.sts).not.toHaveReceivedCommand(GetCallerIdentityCommand);
    expect(JSON.parse(given.out[0] ?? '')).toMatchObject({ outcome: 'rejected', dryRun: true });
  });

  it('issue 9.8: warns on stderr that the table does not exist, keeping stdout to JSON lines', async () => {
    // Prepare
    const world = cliWorld({ tableMissing: true });

    // Act
    await world.run({ ...OPTIONS, json: true });

    // Assess
    expect(world.err.join('\n')).toMatch(new RegExp(`table ${TABLE_NAME} does not exist .*Nothing is created`));
    expect(world.out.map((l) => JSON.parse(l) as unknown)).toHaveLength(1);
  });
});

describe('replay --dry-run (human)', () => {
  it('prints the target, then per event the numbered plan with the writes marked WOULD, then the record', async () => {
    // Prepare
    const world = cliWorld();

    // Act
    await world.run({ ...OPTIONS, json: false });

    // Assess
    const text = world.out.join('\n');
    expect(text).toMatch(/^dry run against us-east-1, table spot-responder-test, accepting events of account 123456789012/);
    expect(text).toMatch(/DRY RUN {2}event \S+: 8 reads made, 6 writes planned \(WOULD\) and not made/);
    expect(text).toMatch(/\n {3}1\. read {2}ec2 +DescribeInstances +\{"InstanceIds":\["i-1234567890abcdef0"\]\}\n/);
    expect(text).toMatch(/\n {2}10\. WOULD elbv2 +DeregisterTargets +\{"TargetGroupArn":"[^"]+targetgroup\/admin\/[^"]+","Targets":\[\{"Id":"i-1234567890abcdef0","Port":8080\}\]\}\n/);
    expect(text).toMatch(/WOULD autoscaling +DetachInstances +\{"AutoScalingGroupName":"web-asg","InstanceIds":\["i-1234567890abcdef0"\],"ShouldDecrementDesiredCapacity":false\}/);
    expect(text).toMatch(/\nHANDLED \(dry run\) {2}event /);
    expect(text).toMatch(/→ detach from web-asg with replacement +planned/);
    expect(text).toMatch(/note: dry run: after its record, the real response also waits in the group for the replacement/);
  });
});

describe('replay without --dry-run', () => {
  it('refuses a real account (no --endpoint-url), pointing at --dry-run', async () => {
    await expect(
      replayFiles([TERMINATE], { ...OPTIONS, refreshIndex: true, json: false }, () => undefined, () => undefined),
    ).rejects.toThrow(/would change a real account: pass --endpoint-url .* or --dry-run/);
  });
});
