// A wave against moto: 22 warnings for two Auto Scaling groups handed to the Lambda handler as
// ONE SQS batch, exactly as the warning queue's event source mapping would, with one warning
// delivered twice inside the batch. Every assertion is on what the emulator and the records
// table hold afterwards, read back directly.
//
// The fleet: two demo fleets (each an Auto Scaling group of 12 in two target groups of its own,
// web:80 and api:8080, plus admin target groups by instance and by IP), and one group instance
// that is also an ECS container instance in bridge mode, registered by the ECS service in two
// more target groups on dynamic host ports.
//
// What moto cannot show, and what covers it instead:
//   - A bridge-mode instance registered on several ports of the SAME target group: moto keeps
//     one registration per target id, so here its ports are spread over two target groups.
//     test/unit/responder/batch.test.ts and test/unit/aws/load-balancing.test.ts cover several
//     ports in one group and the chunking of DeregisterTargets.
//   - Throttling of merged calls and partial failures of a merged call (one bad instance in a
//     DetachInstances): moto never throttles and accepts what AWS refuses.
//     test/unit/responder/batch.test.ts "a failed merged call fails only the events it carried".
//   - Batches above moto's concurrency limit: its threaded server answers 500 at ~200 concurrent
//     requests, so the 1,000-warning wave runs in the simulator (npm run bench, BENCHMARKS.md).
//   - DetachInstances does not deregister from the group's target groups in moto, and
//     deregistered targets vanish instead of draining (see responder.test.ts).
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  RegisterContainerInstanceCommand,
} from '@aws-sdk/client-ecs';
import { CreateTargetGroupCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createReplayer, type Replayer } from '../../cli/replay';
import { EMULATOR_ACCOUNT, EMULATOR_REGION } from '../../cli/emulator-target';
import { spotWarningEvent } from '../../cli/sample-events';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { WARNING_BUFFER } from '../../lib/defaults';
import { DEFAULTS } from '../../lambda/contract';
import { silentLog } from '../../lambda/log';
import { makeHandler } from '../../lambda/make-handler';
import { createResponderDeps } from '../../lambda/wiring';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, recordsAbout, registrationsIn, uniqueName } from '../support/integration';

useEmulator();

const TABLE = uniqueName('wave-tbl');
const GROUP_SIZE = 12;
const WAVE_PER_GROUP = 11;
const BRIDGE_PORTS = [32768, 32769];
/** The warning queue's maxReceiveCount (lib/defaults.ts WARNING_BUFFER). */
const WARNING_RECEIVE_COUNT = WARNING_BUFFER.maxReceiveCount;
/** Two demo fleets, the ECS cluster and its registrations: moto needs a while on a loaded machine. */
const SETUP_TIMEOUT_MS = 180_000;
/** Reading back 22 instances' records and two fleets. */
const CHECK_TIMEOUT_MS = 60_000;

let replayer: Replayer;
afterAll(() => {
  if (replayer) destroyClients(replayer.clients);
});

/** The SQS batch the event source mapping would hand the Lambda: one record per message. */
function sqsBatch(events: readonly unknown[]): SQSEvent {
  return {
    Records: events.map((event, i) => ({
      messageId: `msg-${i}`,
      receiptHandle: `handle-${i}`,
      body: JSON.stringify(event),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'AROAEVENTBRIDGE',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${EMULATOR_REGION}:${EMULATOR_ACCOUNT}:warnings`,
      awsRegion: EMULATOR_REGION,
    })),
  };
}

/**
 * Deliver `events` as one batch, then redeliver what the handler reported in batchItemFailures,
 * as the queue does after the visibility timeout, up to the warning queue's receive count.
 * Returns the receives it took. Why a retry can be needed here: moto's threaded server now and
 * then answers one of many concurrent DynamoDB calls with an HTML 500 page; the responder then
 * reports that event's message as failed (nothing recorded, nothing lost), exactly the path a
 * 5xx takes in AWS.
 */
async function deliverUntilDone(handler: ReturnType<typeof makeHandler>, events: readonly unknown[]): Promise<number> {
  let pending = [...events];
  for (let receive = 1; receive <= WARNING_RECEIVE_COUNT; receive++) {
    const batch = sqsBatch(pending);
    const answer = (await handler(batch)) as SQSBatchResponse;
    const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
    pending = batch.Records.flatMap((record, i) => (failed.has(record.messageId) ? [pending[i]] : []));
    if (pending.length === 0) return receive;
  }
  throw new Error(`${pending.length} events still failed after ${WARNING_RECEIVE_COUNT} receives`);
}

const holding = (snapshots: FleetSnapshot[], ids: readonly string[]): string[] =>
  snapshots.flatMap((s) => s.targetGroups.flatMap((tg) => tg.targets.filter((t) => ids.includes(t.id)).map((t) => `${t.id} in ${tg.name}`)));

describe('a wave of 22 warnings for two groups, handed to the handler as one SQS batch', () => {
  let fleets: DemoFleet[];
  let before: FleetSnapshot[];
  let victims: string[];
  let bridged: { instanceId: string; containerInstanceArn: string; targetGroupArns: string[] };
  let handler: ReturnType<typeof makeHandler>;
  let events: ReturnType<typeof spotWarningEvent>[];
  let receives: number;
  const cluster = uniqueName('wave-ecs');

  beforeAll(async () => {
    replayer = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
    fleets = [];
    for (const label of ['wave-a', 'wave-b']) {
      fleets.push(await buildDemoFleet(replayer.clients, { prefix: uniqueName(label), asgSize: GROUP_SIZE }));
    }
    victims = fleets.flatMap((f) => f.asgInstanceIds.slice(0, WAVE_PER_GROUP));

    // One victim is an ECS container instance whose tasks (bridge mode) the ECS service
    // registered on dynamic host ports, here one per target group (see the header).
    const bridgedId = victims[0] as string;
    const { clients } = replayer;
    await clients.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    const registered = await clients.ecs.send(
      new RegisterContainerInstanceCommand({ cluster, instanceIdentityDocument: JSON.stringify({ instanceId: bridgedId }) }),
    );
    const fleet = fleets[0] as DemoFleet;
    const targetGroupArns: string[] = [];
    for (const [i, port] of BRIDGE_PORTS.entries()) {
      const tg = await clients.elbv2.send(
        new CreateTargetGroupCommand({ Name: `${uniqueName('bridge')}-${i}`, Protocol: 'HTTP', Port: port, VpcId: fleet.vpcId, TargetType: 'instance' }),
      );
      const arn = tg.TargetGroups?.[0]?.TargetGroupArn as string;
      await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: bridgedId, Port: port }] }));
      targetGroupArns.push(arn);
    }
    bridged = {
      instanceId: bridgedId,
      containerInstanceArn: registered.containerInstance?.containerInstanceArn as string,
      targetGroupArns,
    };
    // A lone instance outside every group keeps the EC2 side honest: it must stay untouched.
    await clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));

    await replayer.refreshIndex();
    before = await Promise.all(fleets.map((f) => describeFleet(clients, f)));

    handler = makeHandler(
      createResponderDeps(
        clients,
        {
          tableName: TABLE,
          recordRetentionDays: DEFAULTS.recordRetentionDays,
          policy: { accounts: [EMULATOR_ACCOUNT], regions: [EMULATOR_REGION] },
          ecsClusters: [cluster],
        },
        silentLog,
      ),
    );
    events = victims.map((id) => spotWarningEvent(id));
    // The same warning twice in one batch: EventBridge delivers at least once.
    receives = await deliverUntilDone(handler, [...events, events[3]]);
  }, SETUP_TIMEOUT_MS);

  it("answers every event within the warning queue's receive count", () => {
    expect(receives).toBeLessThanOrEqual(WARNING_RECEIVE_COUNT);
  });

  it('takes every warned instance out of every target group, the bridge-mode ports included', async () => {
    const after = await Promise.all(fleets.map((f) => describeFleet(replayer.clients, f)));
    expect(holding(before, victims).length).toBeGreaterThanOrEqual(victims.length * 2);
    expect(holding(after, victims)).toEqual([]);
    for (const arn of bridged.targetGroupArns) expect(await registrationsIn(replayer.clients.elbv2, arn)).toEqual([]);
  }, CHECK_TIMEOUT_MS);

  it('detaches every warned instance from its group with replacement, and leaves the others in service', async () => {
    const after = await Promise.all(fleets.map((f) => describeFleet(replayer.clients, f)));
    for (const [i, fleet] of fleets.entries()) {
      const group = after[i]?.autoScalingGroup;
      const members = group?.instances.map((m) => m.instanceId) ?? [];
      const warned = fleet.asgInstanceIds.slice(0, WAVE_PER_GROUP);
      expect(members.filter((id) => warned.includes(id))).toEqual([]);
      expect(members).toEqual(expect.arrayContaining(fleet.asgInstanceIds.slice(WAVE_PER_GROUP)));
      expect(group?.desiredCapacity).toBe(GROUP_SIZE);
      expect(members).toHaveLength(GROUP_SIZE);
    }
  }, CHECK_TIMEOUT_MS);

  it('sets the bridge-mode container instance to DRAINING in ECS', async () => {
    const out = await replayer.clients.ecs.send(
      new DescribeContainerInstancesCommand({ cluster, containerInstances: [bridged.containerInstanceArn] }),
    );
    expect(out.containerInstances?.[0]?.status).toBe('DRAINING');
  });

  it('records each event exactly once, handled, and counts the in-batch duplicate as a second delivery', async () => {
    const stored = await Promise.all(victims.map((id) => recordsAbout(replayer.clients.dynamo, TABLE, id)));
    for (const [i, records] of stored.entries()) {
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ eventId: events[i]?.id, outcome: 'handled', detached: true });
    }
    expect(stored[3]?.[0]?.deliveries).toBe(2);
  }, CHECK_TIMEOUT_MS);

  it('answers the same batch delivered again with duplicates, and changes nothing', async () => {
    const settled = await Promise.all(fleets.map((f) => describeFleet(replayer.clients, f)));
    await deliverUntilDone(handler, events);
    expect(await Promise.all(fleets.map((f) => describeFleet(replayer.clients, f)))).toEqual(settled);
    const stored = await Promise.all(victims.map((id) => recordsAbout(replayer.clients.dynamo, TABLE, id)));
    expect(stored.every((records) => records.length === 1)).toBe(true);
  }, CHECK_TIMEOUT_MS);
});
