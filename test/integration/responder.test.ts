// respond() end to end against moto: the demo fleet is built through the real SDK, the events
// go through createReplayer (the path `spot-responder replay` takes), and every assertion is on
// what the emulator and the records table hold afterwards, read back directly.
//
// Where moto (5.2.5) differs from AWS, and what covers the AWS behaviour instead:
//   - DetachInstances leaves the instance registered in the group's target groups; AWS
//     deregisters it. The responder deregisters it from them itself either way, so the ASG
//     groups end up empty of it here only through its own calls. AWS side:
//     test/unit/responder/handled.test.ts "deregisters the instance from each group of its ASG
//     on the default port".
//   - A deregistered target vanishes at once; AWS keeps it 'draining' for the deregistration
//     delay (300 s by default), so "in no target group" here would read "draining in every
//     group" there. The index's handling of draining targets: test/unit/aws/target-scan.test.ts
//     "pages through target groups and indexes instance and ip targets by instance".
//   - DeregisterTargets of a target that is not registered is InvalidTargetException; AWS
//     answers success. Both count as done: test/unit/aws/load-balancing.test.ts
//     "reports not-registered when the target is gone".
//   - A target group holds one registration per target id (a second port replaces the first);
//     AWS keeps both. The exact indexed port is what the responder sends:
//     test/unit/aws/load-balancing.test.ts "deregisters the target with its port and
//     availability zone", test/unit/core/plan.test.ts "keeps instance targets of this instance
//     with their registered ports".
//   - DetachInstances for an instance outside the group succeeds; AWS answers ValidationError,
//     which the adapter turns into a skipped detach: test/unit/aws/auto-scaling.test.ts
//     "reports not-detachable on ValidationError ..." and test/unit/responder/failures.test.ts
//     "that Auto Scaling refuses because the instance left InService is skipped, not failed".
//   - Replacements are InService and registered at once; in AWS they take minutes, so the
//     record's replacement is usually seen only by a later state change.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTargetGroupCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { spotWarningEvent } from '../../cli/demo';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { createReplayer, replayFiles, type Replayer } from '../../cli/replay';
import type { ResponseRecord } from '../../lambda/core/model';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { loadEvent, eventWith } from '../support/fixtures';
import { destroyClients, eventTime, recordOf, recordsAbout, registrationsIn, uniqueName } from '../support/integration';

useEmulator();

/** This file's own records table: nothing else on the emulator writes to it. */
const TABLE = uniqueName('resp-tbl');
/** Building a fleet takes a second or two on moto; a loaded machine may need more. */
const FLEET_TIMEOUT_MS = 60_000;

let replayer: Replayer;
beforeAll(async () => {
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
});
afterAll(() => {
  if (replayer) destroyClients(replayer.clients);
});

const newFleet = (label: string): Promise<DemoFleet> => buildDemoFleet(replayer.clients, { prefix: uniqueName(label) });
const snapshot = (fleet: DemoFleet): Promise<FleetSnapshot> => describeFleet(replayer.clients, fleet);
const records = (instanceId: string) => recordsAbout(replayer.clients.dynamo, TABLE, instanceId);

/** Target groups of the snapshot that still hold `ids` (instance ids or IPs), by name. */
const groupsHolding = (s: FleetSnapshot, ...ids: string[]): string[] =>
  s.targetGroups.filter((tg) => tg.targets.some((t) => ids.includes(t.id))).map((tg) => tg.name);

const groupMembers = (s: FleetSnapshot): string[] => s.autoScalingGroup?.instances.map((i) => i.instanceId) ?? [];

describe('a warning for a group instance registered in four target groups', () => {
  let fleet: DemoFleet;
  let victim: string;
  let before: FleetSnapshot;
  let after: FleetSnapshot;
  let warning: Record<string, unknown>;
  let first: ResponseRecord;

  beforeAll(async () => {
    // Prepare: web and api are the group's, admin (port 9001) and admin-ip (its private IP) are not
    fleet = await newFleet('shared');
    victim = fleet.shared.instanceId;
    await replayer.refreshIndex();
    before = await snapshot(fleet);
    warning = spotWarningEvent(victim);

    // Act
    first = await replayer.replay(warning);
    after = await snapshot(fleet);
  }, FLEET_TIMEOUT_MS);

  it('is handled', () => {
    expect(first).toMatchObject({ outcome: 'handled', instanceId: victim, autoScalingGroup: fleet.autoScalingGroupName });
    expect(first.reason).toBeUndefined();
  });

  it('leaves the instance in no target group: web, api, admin, nor (by its IP) admin-ip', () => {
    expect(groupsHolding(before, victim, fleet.shared.privateIp)).toEqual(
      Object.values(fleet.targetGroups).map((tg) => tg.name),
    );
    expect(groupsHolding(after, victim, fleet.shared.privateIp)).toEqual([]);
  });

  it('changes no other registration; only the replacement joins the group\'s web and api', () => {
    const [replacement] = groupMembers(after).filter((id) => !groupMembers(before).includes(id));
    const { web, api } = fleet.targetGroups;
    const expected = before.targetGroups.map((tg) => {
      const kept = tg.targets.filter((t) => t.id !== victim && t.id !== fleet.shared.privateIp);
      const joined = [web, api].find((g) => g.name === tg.name);
      const targets = joined ? [...kept, { id: replacement as string, port: joined.port, state: 'healthy' }] : kept;
      return { ...tg, targets: targets.sort((a, b) => a.id.localeCompare(b.id)) };
    });
    expect(after.targetGroups).toEqual(expected);
  });

  it('detaches it: the group is back at its desired capacity with a new instance in its place', () => {
    const replacement = groupMembers(after).filter((id) => !groupMembers(before).includes(id));
    expect(groupMembers(after)).not.toContain(victim);
    expect(replacement).toHaveLength(1);
    expect(after.autoScalingGroup).toMatchObject({ desiredCapacity: 3 });
    expect(after.autoScalingGroup?.instances.every((i) => i.lifecycleState === 'InService')).toBe(true);
    expect(after.standaloneInstances).toContainEqual({ instanceId: victim, state: 'running' });
    // Not waited for on the warning's path: its state change (or the next refresh) names it.
    expect(first).not.toHaveProperty('replacement');
  });

  it('writes exactly one record: handled, detached, deregistered from the four groups', async () => {
    const stored = await records(victim);
    const { web, api, admin, adminIp } = fleet.targetGroups;

    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ eventId: warning.id, outcome: 'handled', detached: true, deliveries: 1 });
    expect([...(stored[0]?.deregisteredFrom ?? [])].sort()).toEqual([web.arn, api.arn, admin.arn, adminIp.arn].sort());
  });

  describe('delivered again (EventBridge delivers at least once)', () => {
    let second: ResponseRecord;
    let afterSecond: FleetSnapshot;
    beforeAll(async () => {
      second = await replayer.replay(warning);
      afterSecond = await snapshot(fleet);
    });

    it('is a duplicate of the first delivery', () => {
      expect(second).toMatchObject({ outcome: 'duplicate', duplicateOf: warning.id, deregisteredFrom: [], detached: false });
    });

    it('changes nothing in the fleet', () => {
      expect(afterSecond).toEqual(after);
    });

    it('leaves one record, which counts two deliveries', async () => {
      const stored = await records(victim);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ eventId: warning.id, outcome: 'handled', deliveries: 2 });
    });
  });

  describe('the same warning (instance and time) under another event id', () => {
    let other: Record<string, unknown>;
    let third: ResponseRecord;
    let afterThird: FleetSnapshot;
    beforeAll(async () => {
      other = spotWarningEvent(victim, { time: warning.time as string });
      third = await replayer.replay(other);
      afterThird = await snapshot(fleet);
    });

    it('is a duplicate of the event that handled it', () => {
      expect(other.id).not.toBe(warning.id);
      expect(third).toMatchObject({ outcome: 'duplicate', eventId: other.id, duplicateOf: warning.id });
    });

    it('changes nothing in the fleet', () => {
      expect(afterThird).toEqual(after);
    });

    it('writes no record of its own; the original notes it', async () => {
      const stored = await records(victim);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ eventId: warning.id, deliveries: 3 });
      expect([...((stored[0]?.duplicateEventIds ?? []) as Iterable<string>)]).toContain(other.id);
      expect(await recordOf(replayer.clients.dynamo, TABLE, other.id as string)).toBeUndefined();
    });
  });
});

describe('a warning for an instance in no Auto Scaling group', () => {
  let fleet: DemoFleet;
  let before: FleetSnapshot;
  let after: FleetSnapshot;
  let record: ResponseRecord;

  beforeAll(async () => {
    // Prepare: the standalone instance is registered in admin only
    fleet = await newFleet('alone');
    await replayer.refreshIndex();
    before = await snapshot(fleet);

    // Act
    record = await replayer.replay(spotWarningEvent(fleet.standaloneInstanceId));
    after = await snapshot(fleet);
  }, FLEET_TIMEOUT_MS);

  it('deregisters it from admin and changes nothing else', () => {
    const { admin } = fleet.targetGroups;
    const expected = {
      ...before,
      targetGroups: before.targetGroups.map((tg) =>
        tg.name === admin.name ? { ...tg, targets: tg.targets.filter((t) => t.id !== fleet.standaloneInstanceId) } : tg,
      ),
    };
    expect(groupsHolding(before, fleet.standaloneInstanceId)).toEqual([admin.name]);
    expect(after).toEqual(expected);
  });

  it('is handled without a detach, and the record says why', async () => {
    const expected = {
      outcome: 'handled',
      autoScalingGroup: null,
      detached: false,
      deregisteredFrom: [fleet.targetGroups.admin.arn],
    };
    const detach = { action: 'detach', result: 'skipped', reason: 'instance is in no Auto Scaling group' };
    const stored = await records(fleet.standaloneInstanceId);

    expect(record).toMatchObject(expected);
    expect(record.actions).toContainEqual(expect.objectContaining(detach));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject(expected);
    expect(stored[0]?.actions).toContainEqual(expect.objectContaining(detach));
  });
});

// The index trades freshness for speed: the refresher walks every target group on a schedule,
// the responder reads one item. A registration outside the Auto Scaling group's own target
// groups made after the last refresh is unknown to the responder until the next one.
describe('a registration made after the target index was last refreshed', () => {
  let fleet: DemoFleet;
  let late: { name: string; arn: string };

  const registerLate = async (instanceId: string): Promise<void> => {
    await replayer.clients.elbv2.send(
      new RegisterTargetsCommand({ TargetGroupArn: late.arn, Targets: [{ Id: instanceId, Port: 7001 }] }),
    );
  };

  beforeAll(async () => {
    fleet = await newFleet('stale');
    const name = `${fleet.autoScalingGroupName.replace(/-asg$/, '')}-late`;
    const created = await replayer.clients.elbv2.send(
      new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 7000, VpcId: fleet.vpcId, TargetType: 'instance' }),
    );
    late = { name, arn: created.TargetGroups?.[0]?.TargetGroupArn as string };
  }, FLEET_TIMEOUT_MS);

  it('is missed and stays registered, while the group\'s own target groups are still covered', async () => {
    // Prepare: index refreshed, then the instance registered in a group that is not the ASG's
    const instanceId = fleet.asgInstanceIds[1] as string;
    await replayer.refreshIndex();
    await registerLate(instanceId);
    const registeredAt = new Date().toISOString();
    const { web, api } = fleet.targetGroups;

    // Act
    const record = await replayer.replay(spotWarningEvent(instanceId));

    // Assess: the record shows the index it went by predates the registration
    const after = await snapshot(fleet);
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(record.indexRefreshedAt).toBeTruthy();
    expect(String(record.indexRefreshedAt) < registeredAt).toBe(true);
    expect([...record.deregisteredFrom].sort()).toEqual([web.arn, api.arn].sort());
    expect(record.targetGroups).not.toContain(late.arn);
    expect(groupsHolding(after, instanceId)).toEqual([]);
    expect(groupMembers(after)).not.toContain(instanceId);
    expect(await registrationsIn(replayer.clients.elbv2, late.arn)).toEqual([`${instanceId}:7001`]);
  });

  it('is deregistered too when the index was refreshed after it', async () => {
    // Prepare
    const instanceId = fleet.asgInstanceIds[2] as string;
    await registerLate(instanceId);
    await replayer.refreshIndex();
    const { web, api } = fleet.targetGroups;

    // Act
    const record = await replayer.replay(spotWarningEvent(instanceId));

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect([...record.deregisteredFrom].sort()).toEqual([web.arn, api.arn, late.arn].sort());
    expect(await registrationsIn(replayer.clients.elbv2, late.arn)).not.toContainEqual(expect.stringContaining(instanceId));
    expect(groupsHolding(await snapshot(fleet), instanceId)).toEqual([]);
  });
});

describe('events the responder does not act on', () => {
  let fleet: DemoFleet;
  let before: FleetSnapshot;
  let scratch: string;

  beforeAll(async () => {
    fleet = await newFleet('noop');
    await replayer.refreshIndex();
    before = await snapshot(fleet);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-it-'));
  }, FLEET_TIMEOUT_MS);
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('a file that is not JSON: an error naming the file, no event replayed, nothing changed', async () => {
    // Prepare
    const file = path.join(scratch, 'truncated.json');
    fs.writeFileSync(file, JSON.stringify(spotWarningEvent(fleet.shared.instanceId)).slice(0, 40));
    const printed: string[] = [];
    const errors: string[] = [];

    // Act
    const report = await replayFiles(
      [file],
      { endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false, json: true },
      (line) => printed.push(line),
      (line) => errors.push(line),
    );

    // Assess
    expect(report).toMatchObject({ records: [], exitCode: 2 });
    expect(report.fileErrors).toEqual([expect.stringMatching(/truncated\.json: not valid JSON/)]);
    expect(errors).toEqual([`error: ${report.fileErrors[0]}`]);
    expect(printed).toEqual([]);
    expect(await records(fleet.shared.instanceId)).toEqual([]);
    expect(await snapshot(fleet)).toEqual(before);
  });

  it('an event of another detail-type: rejected with the reason, recorded, nothing changed', async () => {
    // Prepare: a real Spot request fulfillment, about an instance of the fleet
    const event = eventWith(loadEvent('invalid/wrong-detail-type.json'), {
      id: uniqueName('fulfil'),
      time: eventTime(),
      detail: { 'instance-id': fleet.shared.instanceId },
    });

    // Act
    const record = await replayer.replay(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringContaining('unsupported detail-type "EC2 Spot Instance Request Fulfillment"'),
      actions: [],
    });
    expect(await recordOf(replayer.clients.dynamo, TABLE, event.id as string)).toMatchObject({ outcome: 'rejected' });
    expect(await snapshot(fleet)).toEqual(before);
  });

  it('a warning for an instance EC2 does not know: skipped with the reason, recorded, nothing changed', async () => {
    // Prepare
    const unknown = 'i-0123456789abcdef0';
    const event = spotWarningEvent(unknown);

    // Act
    const record = await replayer.replay(event);

    // Assess
    const expected = { outcome: 'skipped', reason: 'EC2 does not know this instance', deregisteredFrom: [], detached: false };
    expect(record).toMatchObject(expected);
    expect(await recordOf(replayer.clients.dynamo, TABLE, event.id as string)).toMatchObject(expected);
    expect(await snapshot(fleet)).toEqual(before);
  });
});
