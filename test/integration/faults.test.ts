// The responder driven through the fault-injecting proxy (dev/fault-proxy.ts) in front
// of moto: the fleet is built directly on moto, the warning is replayed through the proxy, and
// every assertion is on what moto and the records table hold afterwards, read back directly.
// What moto cannot show:
//   - it ignores DynamoDB's ClientRequestToken (the proxy honours it), and its threaded server
//     lets two conflicting TransactWriteItems both succeed under load, so nothing here races two
//     claims: deliveries are serialized, one after the other;
//   - a DetachInstances for an instance no longer in the group succeeds there with no
//     activities, where AWS answers ValidationError "... is not part of Auto Scaling group ...":
//     the lost-response case (issue 9.5) puts a small stand-in for that answer between the
//     proxy and moto (refuseDetachOfNonMembers), so the SDK's real retry meets AWS's refusal;
//   - DetachInstances leaves the instance registered in the group's target groups (AWS
//     deregisters it), and deregistered targets vanish at once (AWS drains them), so "in no
//     target group" here reads "draining" in AWS; the target groups keep the instance in them
//     only when our own DeregisterTargets did not reach moto.
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeAutoScalingInstancesCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { spotWarningEvent } from '../../cli/demo';
import { createReplayer, type Replayer } from '../../cli/replay';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../../dev/fleet';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { startFaultProxy, type FaultProxy, type ProxiedCall } from '../../dev/fault-proxy';
import { destroyClients, eventTime, recordOf, uniqueName } from '../support/integration';

useEmulator();

const TABLE = uniqueName('fault-tb');
const FLEET_TIMEOUT_MS = 60_000;

let direct: Replayer;
let proxied: Replayer;
let proxy: FaultProxy;

beforeAll(async () => {
  direct = await createReplayer({ endpointUrl: testEndpoint(), table: TABLE, clock: 'wall', refreshIndex: false });
  proxy = await startFaultProxy(testEndpoint());
  proxied = await createReplayer({ endpointUrl: proxy.endpoint, table: TABLE, clock: 'wall', refreshIndex: false });
}, FLEET_TIMEOUT_MS);
afterAll(async () => {
  if (direct) destroyClients(direct.clients);
  if (proxied) destroyClients(proxied.clients);
  if (proxy) await proxy.close();
});

beforeEach(() => proxy.setPlan(() => undefined));

const newFleet = (label: string): Promise<DemoFleet> => buildDemoFleet(direct.clients, { prefix: uniqueName(label) });

describe('the record write through faults', () => {
  it('a 500 after DynamoDB committed the record write is answered from the idempotency token on the SDK retry, recorded once', async () => {
    // Prepare: the claim passes; the record write is committed upstream, then answered 500.
    const fleet = await newFleet('idem');
    const victim = fleet.shared.instanceId;
    let transactions = 0;
    proxy.setPlan((call) => (call.operation === 'TransactWriteItems' && ++transactions === 2 ? '5xx-after' : undefined));
    const warning = spotWarningEvent(victim);

    // Act
    const record = await proxied.replay(warning);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    const writes = proxy.calls.filter((c) => c.operation === 'TransactWriteItems');
    expect(writes.map((c) => [c.fault ?? null, c.replayed])).toEqual([
      [null, false],
      ['5xx-after', false],
      [null, true],
    ]);
    const stored = await recordOf(direct.clients.dynamo, TABLE, String(warning.id));
    expect(stored).toMatchObject({ outcome: 'handled', detached: true });
    expect(stored?.attempts).toHaveLength(1);
  }, FLEET_TIMEOUT_MS);

  it('issue 9.2: the record write is retried past 503s before the service processed it, and the work is recorded', async () => {
    // Prepare
    const fleet = await newFleet('retry');
    const victim = fleet.shared.instanceId;
    let transactions = 0;
    // The SDK makes 5 attempts per write: 6 refusals outlast one whole SDK call.
    proxy.setPlan((call) => (call.operation === 'TransactWriteItems' && ++transactions >= 2 && transactions <= 7 ? '5xx-before' : undefined));
    const warning = spotWarningEvent(victim);

    // Act
    const record = await proxied.replay(warning);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    const stored = await recordOf(direct.clients.dynamo, TABLE, String(warning.id));
    expect(stored).toMatchObject({ outcome: 'handled', status: 'COMPLETED' });
  }, FLEET_TIMEOUT_MS);

  it('issue 9.1: a record write that keeps failing makes the invocation fail loudly, its claim left to be taken over', async () => {
    // Prepare: DynamoDB refuses every record write (a service down for writes).
    const fleet = await newFleet('down');
    const victim = fleet.shared.instanceId;
    let transactions = 0;
    proxy.setPlan((call) => (call.operation === 'TransactWriteItems' && ++transactions >= 2 ? '5xx-before' : undefined));
    const warning = spotWarningEvent(victim);

    // Act
    const answer = await proxied.replay(warning);
    proxy.setPlan(() => undefined);

    // Assess: the responder threw RecordWriteFailedError (the Lambda path rethrows it, so Lambda
    // retries and then dead-letters: test/unit/responder/attempts.test.ts); the replayer reports
    // the throw as a failed answer. The claim is open with a short lease, and the attempt is
    // parked for the takeover.
    expect(answer).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/^RecordWriteFailedError: /) });
    const claim = await recordOf(direct.clients.dynamo, TABLE, String(warning.id));
    expect(claim).toMatchObject({ status: 'IN_PROGRESS' });
    expect(Date.parse(String((claim as unknown as { leaseUntil: string }).leaseUntil)) - Date.now()).toBeLessThan(21_000);
  }, FLEET_TIMEOUT_MS);
});

/** A fleet whose `shared` instance is in four target groups (web, api, admin, admin-ip by its IP), all of them in the index. */
async function indexedFleet(label: string): Promise<DemoFleet> {
  const fleet = await newFleet(label);
  await direct.refreshIndex();
  return fleet;
}

/** Target groups of the snapshot that still hold `ids` (instance ids or IPs), by name, read from moto. */
const groupsHolding = (s: FleetSnapshot, ...ids: string[]): string[] =>
  s.targetGroups.filter((tg) => tg.targets.some((t) => ids.includes(t.id))).map((tg) => tg.name);
const groupMembers = (s: FleetSnapshot): string[] => s.autoScalingGroup?.instances.map((i) => i.instanceId) ?? [];
const allGroups = (fleet: DemoFleet) => Object.values(fleet.targetGroups);

/** The proxy's calls of one operation from `from` on, as [fault, upstream status]. */
const callsOf = (operation: string, from: number): Array<Pick<ProxiedCall, 'service' | 'fault' | 'upstreamStatus'>> =>
  proxy.calls.slice(from).filter((c) => c.operation === operation).map(({ service, fault, upstreamStatus }) => ({ service, fault, upstreamStatus }));

describe('the fleet calls through faults', () => {
  it("issue 9: a DeregisterTargets throttled with ELBv2's own throttling body, then answered: the instance leaves every target group, recorded handled", async () => {
    // Prepare: the first six DeregisterTargets (the four groups' first attempts and two retries) are throttled.
    const fleet = await indexedFleet('throttle');
    const victim = fleet.shared.instanceId;
    let deregistrations = 0;
    proxy.setPlan((call) => (call.operation === 'DeregisterTargets' && ++deregistrations <= 6 ? 'throttle' : undefined));
    const from = proxy.calls.length;
    const warning = spotWarningEvent(victim);

    // Act
    const record = await proxied.replay(warning);

    // Assess
    const after = await describeFleet(direct.clients, fleet);
    expect(groupsHolding(after, victim, fleet.shared.privateIp)).toEqual([]);
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect([...record.deregisteredFrom].sort()).toEqual(allGroups(fleet).map((tg) => tg.arn).sort());
    const calls = callsOf('DeregisterTargets', from);
    expect(calls.filter((c) => c.fault === 'throttle')).toHaveLength(6);
    expect(calls.filter((c) => c.fault === undefined)).toEqual(allGroups(fleet).map(() => ({ service: 'elasticloadbalancing', fault: undefined, upstreamStatus: 200 })));
    expect(await recordOf(direct.clients.dynamo, TABLE, String(warning.id))).toMatchObject({ outcome: 'handled', status: 'COMPLETED' });
  }, FLEET_TIMEOUT_MS);

  it('issue 9: a connection reset before DetachInstances was forwarded is retried by the SDK: detached once, one replacement, recorded handled', async () => {
    // Prepare
    const fleet = await indexedFleet('reset');
    const victim = fleet.shared.instanceId;
    let detaches = 0;
    proxy.setPlan((call) => (call.operation === 'DetachInstances' && ++detaches === 1 ? 'reset' : undefined));
    const from = proxy.calls.length;
    const warning = spotWarningEvent(victim);

    // Act
    const record = await proxied.replay(warning);

    // Assess
    const after = await describeFleet(direct.clients, fleet);
    expect(groupMembers(after)).not.toContain(victim);
    expect(groupMembers(after)).toHaveLength(fleet.asgInstanceIds.length);
    expect(groupsHolding(after, victim, fleet.shared.privateIp)).toEqual([]);
    expect(callsOf('DetachInstances', from)).toEqual([
      { service: 'autoscaling', fault: 'reset', upstreamStatus: undefined },
      { service: 'autoscaling', fault: undefined, upstreamStatus: 200 },
    ]);
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(await recordOf(direct.clients.dynamo, TABLE, String(warning.id))).toMatchObject({ outcome: 'handled', detached: true, status: 'COMPLETED' });
  }, FLEET_TIMEOUT_MS);

  it('issue 9.5: DetachInstances processed, then its connection reset: the SDK retry is refused "not part of Auto Scaling group", and the record says detached', async () => {
    // Prepare: client -> fault proxy -> AWS's refusal (moto does not give it) -> moto.
    const refusing = await refuseDetachOfNonMembers(testEndpoint(), direct.clients.autoScaling);
    const lossy = await startFaultProxy(refusing.endpoint);
    const replayer = await createReplayer({ endpointUrl: lossy.endpoint, table: TABLE, clock: 'wall', refreshIndex: false });
    try {
      const fleet = await indexedFleet('lost');
      const victim = fleet.shared.instanceId;
      let detaches = 0;
      lossy.setPlan((call) => (call.operation === 'DetachInstances' && ++detaches === 1 ? 'reset-after' : undefined));
      const warning = spotWarningEvent(victim);

      // Act
      const record = await replayer.replay(warning);

      // Assess: the first call detached it (moto launched one replacement), the retry was refused.
      const after = await describeFleet(direct.clients, fleet);
      expect(groupMembers(after)).not.toContain(victim);
      expect(groupMembers(after)).toHaveLength(fleet.asgInstanceIds.length);
      expect(lossy.calls.filter((c) => c.operation === 'DetachInstances').map((c) => [c.fault ?? null, c.upstreamStatus])).toEqual([
        ['reset-after', 200],
        [null, 400],
      ]);
      expect(record).toMatchObject({ outcome: 'handled', detached: true });
      expect(record.actions.filter((a) => a.action === 'detach')).toEqual([
        expect.objectContaining({ result: 'ok', target: fleet.autoScalingGroupName, reason: expect.stringMatching(/first call took effect/) }),
      ]);
      expect(record.reason ?? '').not.toMatch(/left InService\/Standby/);
      expect(await recordOf(direct.clients.dynamo, TABLE, String(warning.id))).toMatchObject({ outcome: 'handled', detached: true, status: 'COMPLETED' });
    } finally {
      destroyClients(replayer.clients);
      await lossy.close();
      await refusing.close();
    }
  }, FLEET_TIMEOUT_MS);

  it('issue 9: a hung DetachInstances is ended by the deadline: the detach is recorded failed with its reason, the event fails, the deregistrations were done', async () => {
    // Prepare: a warning with about three seconds of its window left (no waiting out two
    // minutes); the proxy holds every DetachInstances without forwarding or answering it.
    const fleet = await indexedFleet('hang');
    const victim = fleet.shared.instanceId;
    proxy.setPlan((call) => (call.operation === 'DetachInstances' ? 'hang' : undefined));
    const from = proxy.calls.length;
    const warning = spotWarningEvent(victim, { time: eventTime(-117_000) });

    // Act
    const record = await proxied.replay(warning);

    // Assess: never forwarded, so moto still has it in its group; out of every target group.
    const after = await describeFleet(direct.clients, fleet);
    expect(groupMembers(after)).toContain(victim);
    expect(groupsHolding(after, victim, fleet.shared.privateIp)).toEqual([]);
    expect(callsOf('DetachInstances', from).every((c) => c.fault === 'hang')).toBe(true);
    expect(record).toMatchObject({ outcome: 'failed', detached: false, reason: expect.stringMatching(/detach/i) });
    expect([...record.deregisteredFrom].sort()).toEqual(allGroups(fleet).map((tg) => tg.arn).sort());
    expect(record.actions.filter((a) => a.action === 'detach')).toEqual([
      expect.objectContaining({ result: 'failed', target: fleet.autoScalingGroupName, reason: 'deadline reached', error: expect.objectContaining({ retryable: false }) }),
    ]);
    // Recorded and released as failed: what the Lambda reports in batchItemFailures, so the queue retries it.
    expect(await recordOf(direct.clients.dynamo, TABLE, String(warning.id))).toMatchObject({ outcome: 'failed', status: 'FAILED', detached: false });
  }, FLEET_TIMEOUT_MS);

  it('issue 9: ELBv2 down (every connection reset) fails the response loudly, its claim released as failed, while Auto Scaling detached the instance', async () => {
    // Prepare
    const fleet = await indexedFleet('elbdown');
    const victim = fleet.shared.instanceId;
    proxy.setPlan((call) => (call.service === 'elasticloadbalancing' ? 'down' : undefined));
    const from = proxy.calls.length;
    const warning = spotWarningEvent(victim);

    // Act
    const record = await proxied.replay(warning);

    // Assess: still registered everywhere (moto leaves a detached instance in the group's
    // target groups; AWS would deregister it from those two), out of its group.
    const after = await describeFleet(direct.clients, fleet);
    expect(groupsHolding(after, victim, fleet.shared.privateIp)).toEqual(allGroups(fleet).map((tg) => tg.name));
    expect(groupMembers(after)).not.toContain(victim);
    const elbv2 = proxy.calls.slice(from).filter((c) => c.service === 'elasticloadbalancing');
    expect(elbv2.length).toBeGreaterThanOrEqual(allGroups(fleet).length);
    expect(elbv2.every((c) => c.fault === 'down' && c.upstreamStatus === undefined)).toBe(true);
    expect(record).toMatchObject({ outcome: 'failed', detached: true, deregisteredFrom: [] });
    expect(record.actions.filter((a) => a.action === 'deregister').map((a) => a.result)).toEqual(allGroups(fleet).map(() => 'failed'));
    expect(await recordOf(direct.clients.dynamo, TABLE, String(warning.id))).toMatchObject({ outcome: 'failed', status: 'FAILED', detached: true });
  }, FLEET_TIMEOUT_MS);
});

/**
 * AWS's answer to a DetachInstances of an instance no longer in the named group, which moto
 * does not give (it succeeds with no activities): ValidationError "The instance <id> is not
 * part of Auto Scaling group <name>.", in the query protocol's error body. The rule is applied
 * to moto's own state (DescribeAutoScalingInstances, read directly), not scripted per call;
 * every other request is forwarded to moto untouched.
 */
async function refuseDetachOfNonMembers(upstream: string, autoScaling: AutoScalingClient): Promise<{ endpoint: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const refusal = async (body: Buffer): Promise<string | undefined> => {
    const form = new URLSearchParams(body.toString('utf8'));
    if (form.get('Action') !== 'DetachInstances') return undefined;
    const group = form.get('AutoScalingGroupName') ?? '';
    const ids = [...form.entries()].filter(([key]) => key.startsWith('InstanceIds.member.')).map(([, id]) => id);
    const out = await autoScaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ids }));
    const members = new Set((out.AutoScalingInstances ?? []).filter((i) => i.AutoScalingGroupName === group).map((i) => i.InstanceId));
    const outsider = ids.find((id) => !members.has(id));
    return outsider === undefined
      ? undefined
      : `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>The instance ${outsider} is not part of Auto Scaling group ${group}.</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      refusal(body).then(
        (refused) => {
          if (refused !== undefined) {
            res.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
            res.end(refused);
            return;
          }
          const forwarded = http.request(
            { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            },
          );
          forwarded.on('error', () => req.socket.destroy());
          forwarded.end(body);
        },
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
