// The whole life of a Spot interruption on the emulator, through the same `respond` the Lambda
// runs (via the replayer): rebalance recommendation, warning, state changes; per instance-action
// windows, terminating lifecycle hooks, tags, ECS draining, and how the replacement is named (by its
// own state change, or by the next index refresh) and verified healthy.
// Every test builds its own fleet under its own prefix and writes its own table, and asserts the
// final state moto holds: the group, the target groups, EC2, ECS, the table's items.
//
// Where moto (5.2.5) cannot show what AWS does, the test says so and names the unit test that
// covers the rest. Beyond the list at the top of dev/fleet.ts:
// - moto sends no EventBridge events: every rebalance recommendation and state change here is
//   synthesized, and nothing in moto actually stops, hibernates or terminates an instance after
//   a warning (a detached instance simply stays running).
// - UpdateAutoScalingGroup ignores CapacityRebalance; only CreateAutoScalingGroup sets it (the
//   demo group is created with it on). Capacity Rebalancing itself launches nothing in moto.
// - Lifecycle hooks are stored and described, never run: TerminateInstanceInAutoScalingGroup
//   terminates the instance at once, with no Terminating:Wait.
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  PutLifecycleHookCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  RegisterContainerInstanceCommand,
} from '@aws-sdk/client-ecs';
import { STATE_DIR, tryLock, unlock } from '../../dev/emulator';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { createReplayer, type Replayer, type ReplayOptions } from '../../cli/replay';
import { DynamoHistoryReader } from '../../lambda/aws/store/history-reader';
import type { StoredRecord } from '../../lambda/aws/store/items';
import type { ResponseRecord, TimelineEntry } from '../../lambda/core/model';
import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from '../../lambda/core/behaviour';
import { testEndpoint } from '../support/emulator-env';
import { secondsAfter } from '../../cli/sample-events';
import { eventTime, rebalanceEvent, spotWarningEvent, stateChangeEvent } from '../support/lifecycle-events';

jest.setTimeout(60_000);

// ---------------------------------------------------------------------------------------------
// Sharing the emulator

/**
 * Other integration files reset moto while holding the lease of emulator-env.ts (useEmulator).
 * This file takes the same lease, so no reset lands in the middle of its tests, but never
 * resets itself: its fleets and tables are named per test and live beside anyone else's.
 */
function holdEmulatorLease(): void {
  const leaseDir = () => path.join(STATE_DIR, `lease-${new URL(testEndpoint()).port}`);
  const waitMs = 5 * 60_000;
  beforeAll(async () => {
    const deadline = Date.now() + waitMs;
    while (!tryLock(leaseDir())) {
      if (Date.now() > deadline) throw new Error(`the emulator stayed leased (${leaseDir()}) for ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, waitMs + 30_000);
  afterAll(() => unlock(leaseDir()));
}

holdEmulatorLease();

// ---------------------------------------------------------------------------------------------
// One world per test: a fleet, a table, a replayer

interface World {
  fleet: DemoFleet;
  table: string;
  replayer: Replayer;
  clients: Replayer['clients'];
  /** A group instance registered only in the group's own target groups (web, api). */
  victim: string;
  /** Another instance of the same group. */
  neighbour: string;
}

interface WorldOptions {
  behaviour?: Partial<ResponderBehaviour>;
  ecsClusters?: string[];
  clock?: ReplayOptions['clock'];
  /** Act on a second group, created without Capacity Rebalancing (see groupWithoutCapacityRebalance). */
  withoutCapacityRebalance?: boolean;
}

const worlds: World[] = [];
afterAll(() => worlds.forEach((w) => Object.values(w.clients).forEach((client) => client.destroy())));

/** A prefix unique to the test and the run: target group names allow it 23 characters. */
function uniquePrefix(name: string): string {
  return `lc-${name.slice(0, 12)}-${randomBytes(3).toString('hex')}`;
}

async function newWorld(name: string, opts: WorldOptions = {}): Promise<World> {
  const prefix = uniquePrefix(name);
  const table = `lifecycle-${prefix}`;
  const replayer = await createReplayer({
    endpointUrl: testEndpoint(),
    table,
    clock: opts.clock ?? 'event',
    refreshIndex: false,
    behaviour: { ...DEFAULT_BEHAVIOUR, ...opts.behaviour },
    ...(opts.ecsClusters ? { ecsClusters: opts.ecsClusters } : {}),
  });
  const clients = replayer.clients;
  const demo = await buildDemoFleet(clients, { prefix, asgSize: 3 });
  const fleet = opts.withoutCapacityRebalance ? await groupWithoutCapacityRebalance(clients, demo) : demo;
  // Index 0 of the demo group is `shared`, also registered in admin / admin-ip: the target
  // index would be needed to cover those, and is not what these tests are about.
  const [victim, neighbour] = fleet.asgInstanceIds.filter((id) => id !== demo.shared.instanceId);
  if (!victim || !neighbour) throw new Error(`group ${fleet.autoScalingGroupName} has too few instances`);
  const world = { fleet, table, replayer, clients, victim, neighbour };
  worlds.push(world);
  return world;
}

/**
 * The demo group has Capacity Rebalancing on, as AWS recommends for Spot, and moto's
 * UpdateAutoScalingGroup cannot turn it off. A rebalance recommendation in replace mode acts
 * only where it is off, so those tests act on a second group of the same fleet, created without
 * it, in the same target groups; the returned fleet describes that group.
 */
async function groupWithoutCapacityRebalance(clients: Replayer['clients'], demo: DemoFleet): Promise<DemoFleet> {
  const name = `${demo.autoScalingGroupName}-norb`;
  await clients.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      MinSize: 3,
      MaxSize: 6,
      DesiredCapacity: 3,
      VPCZoneIdentifier: demo.subnetIds.join(','),
      TargetGroupARNs: [demo.targetGroups.web.arn, demo.targetGroups.api.arn],
      CapacityRebalance: false,
      LaunchTemplate: { LaunchTemplateId: demo.launchTemplateId, Version: '$Latest' },
    }),
  );
  const group = await describeGroup(clients, name);
  expect(group.CapacityRebalance).toBe(false);
  const asgInstanceIds = (group.Instances ?? []).map((i) => i.InstanceId as string).sort();
  expect(asgInstanceIds).toHaveLength(3);
  return { ...demo, autoScalingGroupName: name, asgInstanceIds };
}

async function describeGroup(clients: Replayer['clients'], name: string) {
  const out = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const group = out.AutoScalingGroups?.[0];
  if (!group) throw new Error(`no Auto Scaling group ${name}`);
  return group;
}

const snapshot = (w: World): Promise<FleetSnapshot> => describeFleet(w.clients, w.fleet);

/** A warning stamped `secondsAgo` before now, as EC2 would have stamped it. */
const warning = (instanceId: string, action: 'terminate' | 'stop' | 'hibernate', secondsAgo = 5) =>
  spotWarningEvent(instanceId, { action, time: eventTime(Date.now() - secondsAgo * 1000) });

// ---------------------------------------------------------------------------------------------
// Reading the table

/** What `spot-responder history` would list: records of the last hour, newest first. */
async function history(w: World): Promise<StoredRecord[]> {
  const reader = new DynamoHistoryReader({ client: w.clients.dynamo, tableName: w.table });
  return reader.history({ since: new Date(Date.now() - 3_600_000).toISOString() });
}

async function stored(w: World, eventId: string): Promise<StoredRecord> {
  const record = (await history(w)).find((r) => r.eventId === eventId);
  if (!record) throw new Error(`no record of event ${eventId} in ${w.table}`);
  return record;
}

/** Every item of the table: records, claims, instance pointers. */
async function itemCount(w: World): Promise<number> {
  const out = await w.clients.dynamoRaw.send(new ScanCommand({ TableName: w.table, Select: 'COUNT' }));
  return out.Count ?? 0;
}

const milestones = (record: Pick<ResponseRecord, 'timeline'>): string[] => (record.timeline ?? []).map((e) => e.event);

function milestone(record: Pick<ResponseRecord, 'timeline'>, event: TimelineEntry['event']): TimelineEntry {
  const entry = record.timeline?.find((e) => e.event === event);
  if (!entry) throw new Error(`no ${event} in the timeline ${JSON.stringify(record.timeline)}`);
  return entry;
}

/** History lists a timeline in time order, whatever the precision or offset of each time. */
function expectChronological(record: Pick<ResponseRecord, 'timeline'>): void {
  const times = (record.timeline ?? []).map((e) => Date.parse(e.at));
  expect(times).toEqual([...times].sort((a, b) => a - b));
}

// ---------------------------------------------------------------------------------------------
// Reading the fleet

const groupIds = (s: FleetSnapshot): string[] => s.autoScalingGroup?.instances.map((i) => i.instanceId) ?? [];

function targetIds(s: FleetSnapshot, w: World, which: 'web' | 'api'): string[] {
  return s.targetGroups.find((tg) => tg.name === w.fleet.targetGroups[which].name)?.targets.map((t) => t.id) ?? [];
}

/**
 * The fleet after a response that replaced `victim`: out of the group and of the group's
 * target groups, exactly one new InService instance in its place, desired capacity unchanged.
 * Returns the new instance.
 */
function expectReplaced(w: World, before: FleetSnapshot, after: FleetSnapshot, victim: string): string {
  expect(groupIds(before)).toContain(victim);
  expect(groupIds(after)).not.toContain(victim);
  const fresh = groupIds(after).filter((id) => !groupIds(before).includes(id));
  expect(fresh).toHaveLength(1);
  const replacement = fresh[0] as string;
  expect(after.autoScalingGroup?.desiredCapacity).toBe(before.autoScalingGroup?.desiredCapacity);
  expect(after.autoScalingGroup?.instances.find((i) => i.instanceId === replacement)?.lifecycleState).toBe('InService');
  for (const which of ['web', 'api'] as const) {
    expect(targetIds(after, w, which)).not.toContain(victim);
    expect(targetIds(after, w, which)).toContain(replacement);
  }
  return replacement;
}

/**
 * What EC2 sends when the replacement launches (moto sends nothing): its `pending` state change,
 * `seconds` after `signal`. The responder names it the replacement of the waiting response.
 */
async function replacementLaunches(w: World, replacement: string, signal: { time?: unknown }, seconds: number): Promise<ResponseRecord> {
  return w.replayer.replay(stateChangeEvent(replacement, 'pending', { time: secondsAfter(String(signal.time), seconds) }));
}

async function instanceState(w: World, instanceId: string): Promise<string | undefined> {
  const out = await w.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

// ---------------------------------------------------------------------------------------------
// 1. Rebalance recommendations

describe('rebalance recommendation', () => {
  it('record mode (the default): recorded, outcome skipped, the fleet untouched', async () => {
    // Prepare
    const w = await newWorld('rb-record');
    const before = await snapshot(w);
    const event = rebalanceEvent(w.victim, { time: eventTime(Date.now() - 5_000) });

    // Act
    const record = await w.replayer.replay(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'rebalance recommendations are recorded only (rebalanceAction: record)',
      detailType: 'EC2 Instance Rebalance Recommendation',
      instanceId: w.victim,
      detached: false,
      actions: [],
    });
    const listed = await history(w);
    expect(listed.map((r) => r.eventId)).toEqual([event.id]);
    expect(listed[0]).toMatchObject({ outcome: 'skipped', reason: record.reason });
    expect(milestones(listed[0] as StoredRecord)).toEqual(['rebalance-recommended']);
    expect(milestone(listed[0] as StoredRecord, 'rebalance-recommended').at).toBe(event.time);
    expect(await snapshot(w)).toEqual(before);
  });

  it('record mode leaves the instance free: the warning that follows is acted on', async () => {
    // Prepare
    const w = await newWorld('rb-rec-warn');
    await w.replayer.replay(rebalanceEvent(w.victim, { time: eventTime(Date.now() - 60_000) }));
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expectReplaced(w, before, await snapshot(w), w.victim);
    expect((await history(w)).map((r) => r.outcome)).toEqual(['handled', 'skipped']);
  });

  it('replace mode: drained, detached and replaced early; the warning that follows is a duplicate of the action', async () => {
    // Prepare
    const w = await newWorld('rb-replace', { behaviour: { rebalanceAction: 'replace' }, withoutCapacityRebalance: true });
    const { web, api } = w.fleet.targetGroups;
    const before = await snapshot(w);
    const recommendation = rebalanceEvent(w.victim, { time: eventTime(Date.now() - 60_000) });

    // Act: the recommendation
    const first = await w.replayer.replay(recommendation);

    // Assess: acted on as a warning would be, before any warning
    expect(first).toMatchObject({ outcome: 'handled', autoScalingGroup: w.fleet.autoScalingGroupName, detached: true });
    expect([...first.deregisteredFrom].sort()).toEqual([web.arn, api.arn].sort());
    expect(first.actions).toContainEqual(
      expect.objectContaining({ action: 'detach', target: w.fleet.autoScalingGroupName, result: 'ok' }),
    );
    const afterReplace = await snapshot(w);
    const replacement = expectReplaced(w, before, afterReplace, w.victim);
    expect(first).not.toHaveProperty('replacement');
    await replacementLaunches(w, replacement, recommendation, 5);
    expect((await stored(w, recommendation.id as string)).replacement?.instanceId).toBe(replacement);
    expect(afterReplace.standaloneInstances).toContainEqual({ instanceId: w.victim, state: 'running' });
    expect(milestones(await stored(w, recommendation.id as string))).toEqual(
      expect.arrayContaining(['rebalance-recommended', 'traffic-stopped', 'detached', 'replacement-launched']),
    );

    // Act: the two-minute warning for the same instance, 30 s later
    const warned = warning(w.victim, 'terminate', 30);
    const second = await w.replayer.replay(warned);

    // Assess: a duplicate of the action (ACTION#<instance>), not a second detach
    expect(second).toMatchObject({ outcome: 'duplicate', duplicateOf: recommendation.id, detached: false, actions: [] });
    expect(await snapshot(w)).toEqual(afterReplace);
    const original = await stored(w, recommendation.id as string);
    expect(milestone(original, 'warning-received')).toEqual({
      event: 'warning-received',
      at: warned.time,
      detail: 'instance-action terminate',
    });
    expect(milestones(original)[0]).toBe('rebalance-recommended');
    expectChronological(original);
    expect(original).toMatchObject({ deliveries: 2, duplicateEventIds: [warned.id] });
    // The warning wrote no record of its own: its claim was refused as a whole.
    expect((await history(w)).map((r) => r.eventId)).toEqual([recommendation.id]);

    // Act: the instance shuts down 100 s after the warning
    await w.replayer.replay(stateChangeEvent(w.victim, 'shutting-down', { time: secondsAfter(String(warned.time), 100) }));

    // Assess: the real notice counts from the warning, though the rebalance response acted
    expect(await stored(w, recommendation.id as string)).toMatchObject({ noticeMs: 100_000 });
  });

  it('replace mode with Capacity Rebalancing on: skipped with that reason, untouched, the warning still acts', async () => {
    // Prepare: moto ignores CapacityRebalance here (the group was created with it on); AWS applies it
    const w = await newWorld('rb-capreb', { behaviour: { rebalanceAction: 'replace' } });
    await w.clients.autoScaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: w.fleet.autoScalingGroupName, CapacityRebalance: true }),
    );
    expect((await describeGroup(w.clients, w.fleet.autoScalingGroupName)).CapacityRebalance).toBe(true);
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(rebalanceEvent(w.victim, { time: eventTime(Date.now() - 60_000) }));

    // Assess. That Auto Scaling then replaces the instance itself cannot be seen: moto's Capacity
    // Rebalancing launches nothing (and sends no recommendation). The decision is unit-tested in
    // test/unit/core/plan.test.ts (rebalanceSkipReason).
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: `Capacity Rebalancing is on for ${w.fleet.autoScalingGroupName}: Auto Scaling replaces the instance itself`,
      autoScalingGroup: w.fleet.autoScalingGroupName,
      detached: false,
      actions: [],
    });
    expect(await snapshot(w)).toEqual(before);

    // A skip releases the instance: the warning is acted on, not a duplicate.
    const warned = await w.replayer.replay(warning(w.victim, 'terminate'));
    expect(warned).toMatchObject({ outcome: 'handled', detached: true });
  });
});

// ---------------------------------------------------------------------------------------------
// 2. State changes

describe('instance state changes', () => {
  it("extend the handled warning's record: shutting-down and terminated, noticeMs, the replacement running", async () => {
    // Prepare: a handled warning, then what EC2 would report (moto reports nothing: synthesized)
    const w = await newWorld('state');
    const before = await snapshot(w);
    const warned = warning(w.victim, 'terminate', 10);
    const handled = await w.replayer.replay(warned);
    expect(handled.outcome).toBe('handled');
    expect(handled).not.toHaveProperty('replacement');
    const replacement = expectReplaced(w, before, await snapshot(w), w.victim);
    const warnedAt = Date.parse(warned.time as string);
    const pending = stateChangeEvent(replacement, 'pending', { time: eventTime(warnedAt + 15_000) });
    const shuttingDown = stateChangeEvent(w.victim, 'shutting-down', { time: eventTime(warnedAt + 100_000) });
    const terminated = stateChangeEvent(w.victim, 'terminated', { time: eventTime(warnedAt + 125_000) });
    const running = stateChangeEvent(replacement, 'running', { time: eventTime(warnedAt + 40_000) });
    const items = await itemCount(w);

    // Act
    const results = [];
    for (const event of [pending, shuttingDown, terminated, running]) results.push(await w.replayer.replay(event));

    // Assess
    expect(results.map((r) => [r.outcome, r.reason])).toEqual([
      ['handled', `named the replacement of event ${warned.id} in group ${w.fleet.autoScalingGroupName}, 15.0 s after its signal`],
      ['handled', `added instance-shutting-down to the timeline of event ${warned.id}`],
      ['handled', `added instance-terminated to the timeline of event ${warned.id}`],
      ['handled', `added replacement-running to the timeline of event ${warned.id}`],
    ]);
    const record = await stored(w, warned.id as string);
    expect(record.replacement).toEqual({ instanceId: replacement, seenAt: pending.time, msFromSignal: 15_000 });
    expect(milestone(record, 'replacement-launched')).toEqual({ event: 'replacement-launched', at: pending.time, detail: replacement });
    expect(milestone(record, 'instance-shutting-down').at).toBe(shuttingDown.time);
    expect(milestone(record, 'instance-terminated').at).toBe(terminated.time);
    expect(milestone(record, 'replacement-running').at).toBe(running.time);
    expect(record.noticeMs).toBe(100_000);
    expect(milestones(record)[0]).toBe('warning-received');
    expect(milestones(record).slice(-4)).toEqual(['replacement-launched', 'replacement-running', 'instance-shutting-down', 'instance-terminated']);
    expectChronological(record);
    // Each extends the record in place; the only item added is the replacement's pointer.
    expect(await itemCount(w)).toBe(items + 1);
  });

  it('of an instance never handled: skipped, and nothing is written', async () => {
    // Prepare
    const w = await newWorld('state-other');
    await w.replayer.replay(warning(w.victim, 'terminate'));
    const items = await itemCount(w);
    const before = await history(w);

    // Act
    const record = await w.replayer.replay(stateChangeEvent(w.neighbour, 'shutting-down'));

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: 'state shutting-down: not an instance we acted on; not recorded',
    });
    expect(await itemCount(w)).toBe(items);
    expect(await history(w)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Per instance-action windows

describe('per instance-action', () => {
  it('terminate, arriving 3 minutes after EC2 stamped it (wall clock): skipped, untouched', async () => {
    // Prepare
    const w = await newWorld('late-term', { clock: 'wall' });
    const before = await snapshot(w);
    const late = warning(w.victim, 'terminate', 180);

    // Act
    const record = await w.replayer.replay(late);

    // Assess
    expect(record.outcome).toBe('skipped');
    expect(record.reason).toMatch(
      /^arrived [\d.]+ s after its deadline; the instance is already terminating and AWS removes terminated targets itself$/,
    );
    expect(record.actions).toEqual([]);
    expect(await snapshot(w)).toEqual(before);
    expect(await stored(w, late.id as string)).toMatchObject({ outcome: 'skipped', reason: record.reason });
  });

  it('stop, arriving 3 minutes late: still handled, with a note, in a fresh two-minute budget', async () => {
    // Prepare
    const w = await newWorld('late-stop', { clock: 'wall' });
    const before = await snapshot(w);
    const late = warning(w.victim, 'stop', 180);

    // Act
    const record = await w.replayer.replay(late);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', instanceAction: 'stop', detached: true });
    expect(record.notes).toContainEqual(
      expect.stringMatching(/^arrived [\d.]+ s after its deadline; a stopped instance stays registered, so it is still acted on, with a fresh two-minute budget$/),
    );
    expect(Date.parse(record.deadline as string)).toBeGreaterThan(Date.parse(late.time as string) + 120_000);
    expect(record.msLeftAtFinish).toBeGreaterThan(0);
    expectReplaced(w, before, await snapshot(w), w.victim);
  });

  it('hibernate on time: handled, noting there was no two-minute window', async () => {
    // Prepare
    const w = await newWorld('hibernate');
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'hibernate'));

    // Assess. moto hibernates nothing; the instance stays running (detached) after the response.
    expect(record).toMatchObject({ outcome: 'handled', instanceAction: 'hibernate', detached: true });
    expect(record.notes).toContain('hibernate: hibernation began with the warning; there was no two-minute window');
    expectReplaced(w, before, await snapshot(w), w.victim);
    expect(await instanceState(w, w.victim)).toBe('running');
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Terminating lifecycle hooks

describe('a group with an EC2_INSTANCE_TERMINATING hook', () => {
  it('is left through TerminateInstanceInAutoScalingGroup (no decrement), never DetachInstances', async () => {
    // Prepare
    const w = await newWorld('hook');
    const group = w.fleet.autoScalingGroupName;
    const hook = `${group}-drain`;
    await w.clients.autoScaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: group,
        LifecycleHookName: hook,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        HeartbeatTimeout: 300,
        DefaultResult: 'CONTINUE',
      }),
    );
    const before = await snapshot(w);
    const sent = jest.spyOn(w.clients.autoScaling, 'send');

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess: the record
    expect(record).toMatchObject({ outcome: 'handled', detached: false });
    expect(record.actions).toContainEqual(
      expect.objectContaining({
        action: 'terminate-in-group',
        target: group,
        result: 'ok',
        reason: `terminating lifecycle hook ${hook} runs before the instance goes`,
      }),
    );
    expect(record.actions.map((a) => a.action)).not.toContain('detach');
    expect(milestones(record)).toContain('terminated-in-group');
    expect(milestones(record)).not.toContain('detached');

    // Assess: what was sent to Auto Scaling
    const commands = sent.mock.calls.map(([command]) => command as unknown as { constructor: { name: string }; input: unknown });
    expect(commands.map((c) => c.constructor.name)).not.toContain('DetachInstancesCommand');
    expect(commands.filter((c) => c.constructor.name === 'TerminateInstanceInAutoScalingGroupCommand').map((c) => c.input)).toEqual([
      { InstanceId: w.victim, ShouldDecrementDesiredCapacity: false },
    ]);

    // Assess: the fleet. moto runs no lifecycle hook: it takes the instance out of the group and
    // terminates it at once, and launches the replacement. In AWS the instance would wait in
    // Terminating:Wait (still running, still listed in the group) until the hook completes or its
    // heartbeat times out. That the hook decides the path is unit-tested in
    // test/unit/core/plan.test.ts (decideReplacement).
    const after = await snapshot(w);
    const replacement = expectReplaced(w, before, after, w.victim);
    await replacementLaunches(w, replacement, { time: record.eventTime }, 5);
    const named = await stored(w, record.eventId);
    expect(named.replacement?.instanceId).toBe(replacement);
    expect(milestones(named)).toEqual(expect.arrayContaining(['terminated-in-group', 'replacement-launched']));
    expect(await instanceState(w, w.victim)).toBe('terminated');
    const membership = await w.clients.autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [w.victim] }));
    expect(membership.AutoScalingInstances ?? []).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Tags

describe('tag policy', () => {
  const TAG = DEFAULT_BEHAVIOUR.tagPolicy.key;

  it('opt-out: the instance tagged off is skipped and untouched', async () => {
    // Prepare
    const w = await newWorld('tag-out-i');
    await w.clients.ec2.send(new CreateTagsCommand({ Resources: [w.victim], Tags: [{ Key: TAG, Value: 'off' }] }));
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: `excluded by tag ${TAG}=off on the instance`,
      detached: false,
      actions: [],
    });
    expect(await snapshot(w)).toEqual(before);
  });

  it("opt-out: the group tagged false excludes its instances, unless the instance's own tag says otherwise", async () => {
    // Prepare
    const w = await newWorld('tag-out-g');
    const group = w.fleet.autoScalingGroupName;
    await w.clients.autoScaling.send(
      new CreateOrUpdateTagsCommand({
        Tags: [{ ResourceId: group, ResourceType: 'auto-scaling-group', Key: TAG, Value: 'false', PropagateAtLaunch: false }],
      }),
    );
    await w.clients.ec2.send(new CreateTagsCommand({ Resources: [w.neighbour], Tags: [{ Key: TAG, Value: 'on' }] }));
    const before = await snapshot(w);

    // Act
    const excluded = await w.replayer.replay(warning(w.victim, 'terminate'));
    const afterExcluded = await snapshot(w);
    const included = await w.replayer.replay(warning(w.neighbour, 'terminate'));

    // Assess
    expect(excluded).toMatchObject({
      outcome: 'skipped',
      reason: `excluded by tag ${TAG}=false on the Auto Scaling group`,
      autoScalingGroup: group,
      actions: [],
    });
    expect(afterExcluded).toEqual(before);
    expect(included).toMatchObject({ outcome: 'handled', detached: true });
    expectReplaced(w, before, await snapshot(w), w.neighbour);
  });

  it('opt-in: an untagged instance is skipped and untouched', async () => {
    // Prepare
    const w = await newWorld('tag-in-none', { behaviour: { tagPolicy: { mode: 'opt-in', key: TAG } } });
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: `opt-in mode: neither the instance nor its group is tagged ${TAG}=on`,
      actions: [],
    });
    expect(await snapshot(w)).toEqual(before);
  });

  it('opt-in: the instance tagged on is handled', async () => {
    // Prepare
    const w = await newWorld('tag-in-on', { behaviour: { tagPolicy: { mode: 'opt-in', key: TAG } } });
    await w.clients.ec2.send(new CreateTagsCommand({ Resources: [w.victim], Tags: [{ Key: TAG, Value: 'on' }] }));
    const before = await snapshot(w);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expectReplaced(w, before, await snapshot(w), w.victim);
  });
});

// ---------------------------------------------------------------------------------------------
// 6. ECS

describe('ECS', () => {
  it("sets the instance's container instance DRAINING, and only that one", async () => {
    // Prepare: the victim and its neighbour are container instances of one cluster
    const prefixCluster = `${uniquePrefix('ecs')}-cluster`;
    const w = await newWorld('ecs', { ecsClusters: [prefixCluster] });
    await w.clients.ecs.send(new CreateClusterCommand({ clusterName: prefixCluster }));
    const register = async (instanceId: string) =>
      (
        await w.clients.ecs.send(
          new RegisterContainerInstanceCommand({
            cluster: prefixCluster,
            instanceIdentityDocument: JSON.stringify({ instanceId }),
          }),
        )
      ).containerInstance?.containerInstanceArn as string;
    const victimArn = await register(w.victim);
    const neighbourArn = await register(w.neighbour);

    // Act
    const record = await w.replayer.replay(warning(w.victim, 'terminate'));

    // Assess. DRAINING is only a status in moto: it runs no tasks, so none move.
    expect(record.outcome).toBe('handled');
    expect(record.actions).toContainEqual(
      expect.objectContaining({ action: 'ecs-drain', target: victimArn, result: 'ok' }),
    );
    expect(milestone(record, 'ecs-draining').detail).toBe(prefixCluster);
    const described = await w.clients.ecs.send(
      new DescribeContainerInstancesCommand({ cluster: prefixCluster, containerInstances: [victimArn, neighbourArn] }),
    );
    const status = Object.fromEntries(
      (described.containerInstances ?? []).map((c) => [c.containerInstanceArn, c.status]),
    );
    expect(status).toEqual({ [victimArn]: 'DRAINING', [neighbourArn]: 'ACTIVE' });
    expect(milestones(await stored(w, record.eventId))).toContain('ecs-draining');
  });
});

// ---------------------------------------------------------------------------------------------
// 8. Verification of the replacement

describe('verification', () => {
  it('does not wait for the replacement: its pending state change names it on the record, once', async () => {
    // Prepare
    const w = await newWorld('verify');
    const before = await snapshot(w);
    const warned = warning(w.victim, 'terminate');

    // Act
    const record = await w.replayer.replay(warned);
    const replacement = expectReplaced(w, before, await snapshot(w), w.victim);
    const named = await replacementLaunches(w, replacement, warned, 8);
    const again = await replacementLaunches(w, replacement, warned, 8);
    const running = await w.replayer.replay(stateChangeEvent(replacement, 'running', { time: secondsAfter(String(warned.time), 30) }));

    // Assess: the warning's own record names none (nothing was looked for on its path).
    expect(record).not.toHaveProperty('replacement');
    expect(named).toMatchObject({ outcome: 'handled', replacement: { instanceId: replacement, msFromSignal: 8_000 } });
    // Redelivered: the pointer exists now, so it meets the milestone already there, not a second naming.
    expect(again.reason).toBe(`added replacement-launched to the timeline of event ${warned.id}`);
    expect(running.reason).toBe(`added replacement-running to the timeline of event ${warned.id}`);
    const saved = await stored(w, warned.id as string);
    expect(saved.replacement).toEqual({ instanceId: replacement, seenAt: secondsAfter(String(warned.time), 8), msFromSignal: 8_000 });
    expect(milestone(saved, 'replacement-launched')).toEqual({ event: 'replacement-launched', at: saved.replacement?.seenAt, detail: replacement });
    expect(milestones(saved)).toContain('replacement-running');
    // A neighbour launched later (a scale-out, say) is no replacement: nothing waits any more.
    const neighbour = w.fleet.asgInstanceIds.find((id) => id !== w.victim) as string;
    const other = await w.replayer.replay(stateChangeEvent(neighbour, 'running', { time: secondsAfter(String(warned.time), 40) }));
    expect(other).toMatchObject({ outcome: 'skipped', skipKind: 'not-acted-on' });
  });

  it('records time-to-healthy at the next index refresh, from the health it already reads, once', async () => {
    // Prepare
    const w = await newWorld('healthy');
    const { web, api } = w.fleet.targetGroups;
    const before = await snapshot(w);
    const warned = warning(w.victim, 'terminate');
    await w.replayer.replay(warned);
    const replacement = expectReplaced(w, before, await snapshot(w), w.victim);

    // Act
    const first = await w.replayer.refreshIndex();
    const afterFirst = await stored(w, warned.id as string);
    const second = await w.replayer.refreshIndex();

    // Assess. moto reports a target healthy as soon as it is registered; in AWS the replacement
    // stays `initial` through its first health checks, and a later refresh records it.
    // No state change named it (none was sent): the refresh did, then found it healthy.
    expect(first).toMatchObject({ replacementsNamed: 1, replacementsVerified: 1, verificationErrors: 0 });
    expect(afterFirst.replacement?.instanceId).toBe(replacement);
    expect(milestone(afterFirst, 'replacement-healthy')).toEqual({
      event: 'replacement-healthy',
      at: first.snapshotAt,
      detail: `healthy in ${[web.name, api.name].sort().join(', ')}`,
    });
    expect(afterFirst.msToHealthy).toBe(Date.parse(first.snapshotAt) - Date.parse(warned.time as string));
    expectChronological(afterFirst);
    // The pointer remembers it: the next refresh passes the replacement by without a write.
    expect(second).toMatchObject({ replacementsNamed: 0, replacementsVerified: 0, verificationErrors: 0 });
    expect(await stored(w, warned.id as string)).toEqual(afterFirst);
  });
});
