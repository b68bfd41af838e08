// respond() in a dry run: the real readers over guarded clients, stand-ins for every write.
// Every SDK client is mocked (test/support/mock-aws.ts plus the raw DynamoDB client), so
// whatever reached AWS is on record; the plan is compared with what a real run sends in the
// same world.
import 'aws-sdk-client-mock-jest';
import {
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  PutItemCommand,
  ResourceNotFoundException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type GetCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { DEFAULT_BEHAVIOUR } from '../../../lambda/core/behaviour';
import type { ShutdownSettings } from '../../../lambda/core/shutdown';
import { LoadBalancingAdapter } from '../../../lambda/aws/load-balancing';
import type { ResponseRecord } from '../../../lambda/core/model';
import { isReadOperation, operationOf, type PlanStep } from '../../../lambda/dry-run/guard';
import { createDryRun } from '../../../lambda/dry-run/planning';
import { silentLog } from '../../../lambda/log';
import { respond } from '../../../lambda/responder';
import { fixturePaths, fixturePolicy, loadEvent, loadJson, type RawEvent } from '../../support/fixtures';
import {
  FLEET,
  TABLE_NAME,
  claimsSent,
  deregistrationsSent,
  eventTimeOf,
  finishesSent,
  mockAws,
} from '../../support/mock-aws';

const ID = FLEET.instanceId;
const [HTTP, HTTPS] = FLEET.asgTargetGroups;
const WARNINGS = ['terminate', 'stop', 'hibernate'];

function warning(action = 'terminate'): RawEvent {
  return loadEvent(`spot-interruption-warning/${action}.json`);
}

/** The default world of mock-aws (plus the raw DynamoDB client), five seconds after the event, and a dry run over it. */
/** Graceful shutdown as the construct deploys it in stack SpotResponder (the fixtures' document). */
const SHUTDOWN: ShutdownSettings = {
  documentName: 'SpotResponder-GracefulShutdown',
  defaultCommand: { systemdUnit: 'app.service' },
  tagKey: 'spot-responder:shutdown',
};

function dryWorld(event: unknown, opts: { ecsClusters?: string[]; shutdown?: ShutdownSettings } = {}) {
  const time = typeof event === 'object' && event !== null ? Date.parse(String((event as RawEvent).time)) : NaN;
  const aws = mockAws({ now: (Number.isNaN(time) ? Date.parse('2025-03-04T10:15:30Z') : time) + 5_000, ...opts });
  const dynamoRaw = mockClient(aws.clients.dynamoRaw);
  const { shutdown, ...rest } = opts;
  const settings = {
    tableName: TABLE_NAME,
    recordRetentionDays: 90,
    policy: fixturePolicy(),
    ...rest,
    ...(shutdown ? { behaviour: { ...DEFAULT_BEHAVIOUR, shutdown } } : {}),
  };
  const dryRun = createDryRun(aws.clients, settings, silentLog, aws.clock.now);
  return { aws, dynamoRaw, dryRun, respond: () => respond(event, dryRun.deps) };
}

type World = ReturnType<typeof dryWorld>;

/** Nothing but reads reached any client; the mutations the responder makes, by name. */
function expectOnlyReads({ aws, dynamoRaw }: World): void {
  expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
  expect(aws.autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
  expect(aws.ecs).not.toHaveReceivedCommand(UpdateContainerInstancesStateCommand);
  expect(aws.ssm).not.toHaveReceivedCommand(SendCommandCommand);
  expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  expect(aws.dynamo).not.toHaveReceivedCommand(PutCommand);
  expect(aws.dynamo).not.toHaveReceivedCommand(UpdateCommand);
  expect(dynamoRaw).not.toHaveReceivedCommand(TransactWriteItemsCommand);
  expect(dynamoRaw).not.toHaveReceivedCommand(PutItemCommand);
  expect(dynamoRaw).not.toHaveReceivedCommand(UpdateItemCommand);
  const received = [aws.ec2, aws.autoScaling, aws.elbv2, aws.ecs, aws.ssm, aws.dynamo, dynamoRaw].flatMap((stub) =>
    stub.calls().map((call) => operationOf(call.args[0])),
  );
  expect(received.filter((operation) => !isReadOperation(operation))).toEqual([]);
}

const writes = (plan: PlanStep[], command?: string) =>
  plan.filter((s) => s.kind === 'write' && (command === undefined || s.command === command));
const shape = (plan: PlanStep[]) => plan.map((s) => `${s.kind} ${s.service} ${s.command}`);

/** The pk of every item a TransactWriteItems input or plan summary touches. */
const keysOfTransaction = (items: Array<Record<string, unknown>>): string[] =>
  items.map((item) => {
    const put = item.Put as { Item?: { pk?: unknown } } | string | undefined;
    const update = item.Update as { Key?: { pk?: unknown } } | string | undefined;
    if (typeof put === 'string') return put;
    if (typeof update === 'string') return update;
    return String(put?.Item?.pk ?? update?.Key?.pk);
  });

describe('a dry run of a warning for an InService instance of an Auto Scaling group', () => {
  it.each(WARNINGS)('sends only reads for instance-action %s, and records the actions as planned', async (action) => {
    // Prepare
    const world = dryWorld(warning(action));

    // Act
    const record = await world.respond();

    // Assess
    expectOnlyReads(world);
    // Only planned calls: the response itself says observed; dryRunRecord shows it as the
    // handled record acting would write (planning.test / the CLI tests).
    expect(record).toMatchObject({ outcome: 'observed', instanceAction: action, deregisteredFrom: [], detached: false });
    expect(record.actions.map((a) => `${a.action} ${a.result}`)).toEqual([
      'deregister planned',
      'deregister planned',
      'deregister planned',
      'detach planned',
    ]);
  });

  it('lists every call in order: the reads with their inputs, then the writes it would make', async () => {
    // Prepare
    const event = warning();
    const world = dryWorld(event);

    // Act
    await world.respond();

    // Assess
    const plan = world.dryRun.plan();
    expect(shape(plan)).toEqual([
      'read ec2 DescribeInstances',
      'read autoscaling DescribeAutoScalingInstances',
      'read dynamodb BatchGetItem',
      'read dynamodb GetItem',
      'read dynamodb GetItem',
      'read dynamodb GetItem',
      'write dynamodb TransactWriteItems',
      'read autoscaling DescribeAutoScalingGroups',
      'read autoscaling DescribeLifecycleHooks',
      'write elbv2 DeregisterTargets',
      'write elbv2 DeregisterTargets',
      'write elbv2 DeregisterTargets',
      'write autoscaling DetachInstances',
      'write dynamodb TransactWriteItems',
    ]);
    expect(plan.map((s) => s.step)).toEqual(plan.map((_, i) => i + 1));
    const reads = plan.filter((s) => s.kind === 'read').map((s) => s.input);
    expect(reads).toEqual([
      { InstanceIds: [ID] },
      { InstanceIds: [ID] },
      { RequestItems: { [TABLE_NAME]: { Keys: [{ pk: `TARGETS#${ID}` }, { pk: 'INDEX#META' }], ConsistentRead: true } } },
      { TableName: TABLE_NAME, Key: { pk: `EVENT#${String(event.id)}` }, ConsistentRead: true },
      { TableName: TABLE_NAME, Key: { pk: `WARNING#${ID}#${String(event.time)}` }, ConsistentRead: true },
      { TableName: TABLE_NAME, Key: { pk: `ACTION#${ID}` }, ConsistentRead: true },
      { AutoScalingGroupNames: [FLEET.groupName] },
      { AutoScalingGroupName: FLEET.groupName },
    ]);
    expect(writes(plan).map((s) => s.note ?? null)).toEqual([
      'claim',
      null,
      null,
      null,
      null,
      'record the response and release the claims',
    ]);
  });

  it("plans exactly the fleet writes a real run sends, and the same table keys", async () => {
    // Prepare: the same world twice, one run dry, one real
    const event = warning();
    const dry = dryWorld(event);
    const real = mockAws({ now: eventTimeOf(event) + 5_000 });

    // Act
    await dry.respond();
    await real.handler()(event);

    // Assess
    const plan = dry.dryRun.plan();
    expect(writes(plan, 'DeregisterTargets').map((s) => s.input)).toEqual(deregistrationsSent(real));
    expect(writes(plan, 'DeregisterTargets').map((s) => s.input)).toEqual([
      { TargetGroupArn: FLEET.indexedGroup, Targets: [{ Id: ID, Port: FLEET.indexedPort }] },
      { TargetGroupArn: HTTP, Targets: [{ Id: ID }] },
      { TargetGroupArn: HTTPS, Targets: [{ Id: ID }] },
    ]);
    expect(writes(plan, 'DetachInstances').map((s) => s.input)).toEqual(
      real.autoScaling.commandCalls(DetachInstancesCommand).map((c) => c.args[0].input),
    );
    const [claim, finish] = writes(plan, 'TransactWriteItems').map((s) => (s.input as { items: Array<Record<string, unknown>> }).items);
    expect(keysOfTransaction(claim ?? [])).toEqual(
      keysOfTransaction((claimsSent(real)[0]?.TransactItems ?? []) as Array<Record<string, unknown>>),
    );
    expect(keysOfTransaction(finish ?? [])).toEqual(
      keysOfTransaction((finishesSent(real)[0]?.TransactItems ?? []) as Array<Record<string, unknown>>),
    );
  });

  it('plans TerminateInstanceInAutoScalingGroup with its exact input when the group has a terminating hook', async () => {
    // Prepare
    const world = dryWorld(warning());
    world.aws.autoScaling.on(DescribeLifecycleHooksCommand).resolves({
      LifecycleHooks: [{ LifecycleHookName: 'drain-logs', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' }],
    });

    // Act
    const record = await world.respond();

    // Assess
    expectOnlyReads(world);
    expect(writes(world.dryRun.plan(), 'TerminateInstanceInAutoScalingGroup').map((s) => s.input)).toEqual([
      { InstanceId: ID, ShouldDecrementDesiredCapacity: false },
    ]);
    expect(writes(world.dryRun.plan(), 'DetachInstances')).toEqual([]);
    expect(record.actions).toContainEqual(expect.objectContaining({ action: 'terminate-in-group', result: 'planned' }));
  });

  it('plans the ECS drain of the container instance with its exact input', async () => {
    // Prepare
    const arn = 'arn:aws:ecs:us-east-1:123456789012:container-instance/batch/6f1c9b7aead34a2cae8935440dedfabf';
    const world = dryWorld(warning(), { ecsClusters: ['batch'] });
    world.aws.ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [arn] });
    world.aws.ecs
      .on(DescribeContainerInstancesCommand)
      .resolves({ containerInstances: [{ containerInstanceArn: arn, ec2InstanceId: ID, status: 'ACTIVE' }] });

    // Act
    const record = await world.respond();

    // Assess
    expectOnlyReads(world);
    const plan = world.dryRun.plan();
    expect(shape(plan)).toEqual(
      expect.arrayContaining(['read ecs ListContainerInstances', 'read ecs DescribeContainerInstances']),
    );
    expect(writes(plan, 'UpdateContainerInstancesState').map((s) => s.input)).toEqual([
      { cluster: 'batch', containerInstances: [arn], status: 'DRAINING' },
    ]);
    expect(record.actions).toContainEqual(expect.objectContaining({ action: 'ecs-drain', target: arn, result: 'planned' }));
  });
});

describe('a dry run of an event that was handled already', () => {
  it('shows the duplicate it would be: the claim would be cancelled, the fleet is left alone', async () => {
    // Prepare: the event's own record is COMPLETED
    const event = warning();
    const world = dryWorld(event);
    const eventId = String(event.id);
    world.aws.dynamo.on(GetCommand).callsFake((input: GetCommandInput) =>
      input.Key?.pk === `EVENT#${eventId}` ? { Item: { pk: `EVENT#${eventId}`, eventId, status: 'COMPLETED' } } : {},
    );

    // Act
    const record = await world.respond();

    // Assess
    expectOnlyReads(world);
    expect(record).toMatchObject({ outcome: 'duplicate', duplicateOf: eventId });
    const planned = writes(world.dryRun.plan());
    expect(planned.map((s) => `${s.command}: ${s.note}`)).toEqual([
      `TransactWriteItems: claim; would be cancelled: held by ${eventId} (COMPLETED)`,
      'UpdateItem: note the repeated delivery on the original record',
    ]);
    expect(planned[1]?.input).toMatchObject({ Update: `EVENT#${eventId}`, add: { duplicateEventIds: [eventId] } });
  });

  it('shows a warning for an instance a rebalance recommendation acted on as its duplicate, extending that timeline and pointer', async () => {
    // Prepare: ACTION# is held by the rebalance response, and INSTANCE# points at it
    const event = warning();
    const world = dryWorld(event);
    const items: Record<string, Record<string, unknown>> = {
      [`ACTION#${ID}`]: { status: 'COMPLETED', owner: 'rebalance-1', leaseUntil: '2999-01-01T00:00:00.000Z' },
      [`INSTANCE#${ID}`]: {
        eventId: 'rebalance-1',
        role: 'interrupted',
        signalDetailType: 'EC2 Instance Rebalance Recommendation',
        signalTime: '2025-03-04T10:10:00Z',
      },
    };
    world.aws.dynamo.on(GetCommand).callsFake((input: GetCommandInput) => {
      const item = items[String(input.Key?.pk)];
      return item ? { Item: { pk: input.Key?.pk, ...item } } : {};
    });

    // Act
    const record = await world.respond();

    // Assess
    expectOnlyReads(world);
    expect(record).toMatchObject({ outcome: 'duplicate', duplicateOf: 'rebalance-1' });
    const plan = world.dryRun.plan();
    expect(plan.filter((s) => s.command === 'GetItem').map((s) => (s.input as GetCommandInput).Key?.pk)).toContain(`INSTANCE#${ID}`);
    expect(writes(plan, 'UpdateItem').map((s) => s.input)).toEqual([
      expect.objectContaining({ Update: 'EVENT#rebalance-1', add: expect.anything() }),
      expect.objectContaining({ Update: `INSTANCE#${ID}`, set: { warningTime: String(event.time) } }),
      expect.objectContaining({
        Update: 'EVENT#rebalance-1',
        set: { 'timeline.warning-received': { at: String(event.time), detail: 'instance-action terminate' } },
      }),
    ]);
  });
});

describe('a dry run against a table that does not exist', () => {
  it('degrades as the responder does, plans the group actions and says the claim would fail', async () => {
    // Prepare
    const world = dryWorld(warning());
    const missing = () => new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} });
    world.aws.dynamo.on(BatchGetCommand).rejects(missing());
    world.aws.dynamo.on(GetCommand).rejects(missing());

    // Act
    const record = await world.respond().catch((err: { record?: unknown }) => err.record as ResponseRecord);

    // Assess
    expectOnlyReads(world);
    expect(record.notes).toContainEqual(expect.stringMatching(/target index lookup failed/));
    const plan = world.dryRun.plan();
    expect(plan.find((s) => s.command === 'BatchGetItem')?.note).toBe('failed: ResourceNotFoundException');
    expect(writes(plan, 'TransactWriteItems')[0]?.note).toMatch(/the table does not exist/);
    expect(writes(plan, 'DeregisterTargets').map((s) => (s.input as { TargetGroupArn: string }).TargetGroupArn)).toEqual([HTTP, HTTPS]);
    expect(writes(plan, 'DetachInstances')).toHaveLength(1);
  });
});

describe('the guard under the responder', () => {
  it('fails a real adapter slipped into a dry run instead of letting it write', async () => {
    // Prepare: a bug wires the real ELBv2 adapter over the dry run's guarded client
    const world = dryWorld(warning());
    const deps = { ...world.dryRun.deps, loadBalancing: new LoadBalancingAdapter(world.dryRun.clients.elbv2) };

    // Act
    const record = await respond(warning(), deps).catch((err: { record?: unknown }) => err.record as ResponseRecord);

    // Assess
    expect(world.aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    const deregistrations = record.actions.filter((a) => a.action === 'deregister');
    expect(deregistrations).toHaveLength(3);
    expect(deregistrations.every((a) => a.result === 'failed' && a.error?.name === 'DryRunViolationError')).toBe(true);
  });
});

describe('every fixture', () => {
  it.each(fixturePaths())('%s: a dry run sends only reads (graceful shutdown on)', async (path) => {
    // Prepare
    const world = dryWorld(loadJson(path), { shutdown: SHUTDOWN });

    // Act
    await world.respond().catch(() => undefined);

    // Assess
    expectOnlyReads(world);
    expect(world.dryRun.plan().length).toBeGreaterThan(0);
  });
});

describe('graceful shutdown in a dry run', () => {
  it('plans the SendCommand a warning would send, with the seconds left, and sends none', async () => {
    // Prepare
    const world = dryWorld(loadJson('spot-interruption-warning/terminate.json'), { shutdown: SHUTDOWN });

    // Act
    const record = await world.respond();

    // Assess
    expect(world.aws.ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(writes(world.dryRun.plan(), 'SendCommand')).toEqual([
      expect.objectContaining({
        service: 'ssm',
        input: expect.objectContaining({
          DocumentName: SHUTDOWN.documentName,
          InstanceIds: ['i-1234567890abcdef0'],
          Parameters: { Action: ['stop-unit'], Unit: ['app.service'], SecondsLeft: ['115'] },
        }),
      }),
    ]);
    expect(record.actions).toContainEqual(expect.objectContaining({ action: 'shutdown', result: 'planned', targetId: 'i-1234567890abcdef0' }));
    expect(record.timeline?.map((t) => t.event)).not.toContain('shutdown-command-sent');
  });
});
