// Graceful shutdown against moto: the construct's document registered with moto's SSM
// (CreateDocument), a real fleet, a warning answered by a responder with graceful shutdown on,
// then moto's own view of the command (ListCommands, GetCommandInvocation) and the record; then
// SSM's status event for that command, which completes the record's timeline.
//
// What moto cannot show, and what covers it:
// - the command running on an instance: moto runs nothing and reports every invocation Success at
//   once. The script's behaviour is the document's (test/stack/graceful-shutdown.test.ts checks
//   its parameters' patterns);
// - which instances a command names: moto adds every instance of the region to a command sent
//   without Targets; the unit tests assert InstanceIds as sent;
// - SSM's refusals: moto accepts SendCommand for any instance id (no agent, no InvalidInstanceId),
//   for any document name and any parameter value (no allowedPattern check, no InvalidParameters);
//   test/unit/responder/shutdown.test.ts covers InvalidInstanceId (alone and within a batch),
//   throttling and AccessDenied by what was sent;
// - EventBridge delivering the status event (moto's rules cannot reach the queue's consumer):
//   the event is handed to the responder here, as the state-change queue would;
// - IAM (moto does not evaluate policies): test/stack/graceful-shutdown.test.ts.
import { CreateDocumentCommand, GetCommandInvocationCommand, ListCommandsCommand } from '@aws-sdk/client-ssm';
import { spotWarningEvent } from '../../cli/demo';
import { createReplayer, type Replayer } from '../../cli/replay';
import { buildDemoFleet, describeFleet, type DemoFleet } from '../../dev/fleet';
import { shutdownDocumentContent } from '../../lib/shutdown-document';
import { DEFAULT_BEHAVIOUR } from '../../lambda/core/behaviour';
import type { ResponseRecord } from '../../lambda/core/model';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, recordOf, uniqueName } from '../support/integration';

useEmulator();

const TABLE = uniqueName('sd-tbl');
const DOCUMENT = uniqueName('GracefulShutdown');
const FLEET_TIMEOUT_MS = 60_000;

let replayer: Replayer;
let fleet: DemoFleet;
let victim: string;
let warning: Record<string, unknown>;
let record: ResponseRecord;

beforeAll(async () => {
  // Prepare: the document as the construct deploys it, the demo fleet, a fresh index.
  replayer = await createReplayer({
    endpointUrl: testEndpoint(),
    table: TABLE,
    clock: 'wall',
    refreshIndex: false,
    behaviour: {
      ...DEFAULT_BEHAVIOUR,
      shutdown: { documentName: DOCUMENT, defaultCommand: { systemdUnit: 'app.service' }, tagKey: 'spot-responder:shutdown' },
    },
  });
  await replayer.clients.ssm.send(
    new CreateDocumentCommand({ Name: DOCUMENT, DocumentType: 'Command', DocumentFormat: 'JSON', Content: JSON.stringify(shutdownDocumentContent()) }),
  );
  fleet = await buildDemoFleet(replayer.clients, { prefix: uniqueName('shutdown') });
  victim = fleet.shared.instanceId;
  await replayer.refreshIndex();
  warning = spotWarningEvent(victim);

  // Act
  record = await replayer.replay(warning);
}, FLEET_TIMEOUT_MS);

afterAll(() => {
  if (replayer) destroyClients(replayer.clients);
});

test('the warning stops traffic and sends the document to the instance, recording the command id', async () => {
  const shutdown = record.actions.find((a) => a.action === 'shutdown');
  expect(record.outcome).toBe('handled');
  expect(record.deregisteredFrom.length).toBeGreaterThan(0);
  expect(shutdown).toMatchObject({ target: DOCUMENT, targetId: victim, result: 'ok', commandId: expect.any(String) });
  expect(record.timeline?.map((t) => t.event)).toEqual(expect.arrayContaining(['traffic-stopped', 'shutdown-command-sent']));
  const after = await describeFleet(replayer.clients, fleet);
  expect(after.autoScalingGroup?.instances.map((i) => i.instanceId)).not.toContain(victim);
});

test("moto's SSM holds the command: this document, this instance, the unit and the seconds left", async () => {
  const commandId = record.actions.find((a) => a.action === 'shutdown')?.commandId;
  const { Commands } = await replayer.clients.ssm.send(new ListCommandsCommand({ CommandId: commandId }));
  expect(Commands).toHaveLength(1);
  const [command] = Commands ?? [];
  // moto adds every instance of the region to a command sent without Targets (its Targets filter
  // of nothing matches all); that SendCommand names only the warned instance is asserted by
  // test/unit/responder/shutdown.test.ts.
  expect(command).toMatchObject({ DocumentName: DOCUMENT, InstanceIds: expect.arrayContaining([victim]) });
  expect(command?.Parameters).toMatchObject({ Action: ['stop-unit'], Unit: ['app.service'] });
  const seconds = Number(command?.Parameters?.SecondsLeft?.[0]);
  expect(seconds).toBeGreaterThanOrEqual(100);
  expect(seconds).toBeLessThanOrEqual(120);
  // moto reports Success at once; a real invocation is Pending/InProgress until the agent reports.
  const invocation = await replayer.clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: victim }));
  expect(invocation.Status).toBe('Success');
});

test("SSM's status event for the command adds shutdown-command-finished to the warning's record", async () => {
  // Prepare: the event SSM sends when the invocation ends (as the rule delivers it).
  const commandId = record.actions.find((a) => a.action === 'shutdown')?.commandId as string;
  const finishedAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const status = {
    version: '0',
    id: `${uniqueName('ssm')}-status`,
    'detail-type': 'EC2 Command Invocation Status-change Notification',
    source: 'aws.ssm',
    account: warning.account,
    time: finishedAt,
    region: warning.region,
    resources: [`arn:aws:ec2:${String(warning.region)}:${String(warning.account)}:instance/${victim}`],
    detail: { 'command-id': commandId, 'document-name': DOCUMENT, 'instance-id': victim, 'requested-date-time': finishedAt, status: 'Success' },
  };

  // Act
  const answered = await replayer.replay(status);

  // Assess
  expect(answered).toMatchObject({ outcome: 'handled' });
  const stored = await recordOf(replayer.clients.dynamo, TABLE, String(warning.id));
  expect((stored as unknown as { timeline: Record<string, unknown> }).timeline['shutdown-command-finished']).toEqual({
    at: finishedAt,
    detail: `Success (command ${commandId})`,
  });
});
