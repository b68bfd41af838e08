// The responder driven through the fault-injecting proxy (dev/fault-proxy.ts) in front
// of moto: the fleet is built directly on moto, the warning is replayed through the proxy.
// What moto cannot show: it ignores DynamoDB's ClientRequestToken (the proxy honours it), and
// its threaded server lets two conflicting TransactWriteItems both succeed under load, so
// nothing here races two claims: deliveries are serialized, one after the other.
import { spotWarningEvent } from '../../cli/demo';
import { createReplayer, type Replayer } from '../../cli/replay';
import { buildDemoFleet, type DemoFleet } from '../../dev/fleet';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { destroyClients, recordOf, uniqueName } from '../support/integration';

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
