// `spot-responder drill` scored from records the responder wrote against the emulator. moto has
// no FIS, so FIS is mocked (aws-sdk-client-mock: the experiment starts, runs, completes and
// names its targets); everything after it is real: the warnings are replayed through the
// responder against a real fleet on moto, the index refresh sees the replacement healthy, and
// the drill reads the records back from moto's DynamoDB with the history reader and scores them.
import {
  FisClient,
  GetExperimentCommand,
  ListExperimentResolvedTargetsCommand,
  StartExperimentCommand,
} from '@aws-sdk/client-fis';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { buildDemoFleet } from '../../dev/fleet';
import { runDrill } from '../../cli/drill';
import { createReplayer, type Replayer } from '../../cli/replay';
import { spotWarningEvent } from '../../cli/sample-events';
import { DynamoHistoryReader } from '../../lambda/aws/store/history-reader';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, eventTime, uniqueName } from '../support/integration';

useEmulator();
jest.setTimeout(180_000);

// The FIS client is 3.523 (older @smithy types than the mock's): casts through `never`, same run-time behaviour.
const fisMock: AwsStub<any, any, any> = mockClient(FisClient as never);
let replayer: Replayer;
afterAll(() => replayer && destroyClients(replayer.clients));

it('passes the instance the responder handled and fails the one it never heard of, from moto records', async () => {
  // Prepare: a fleet, the experiment's two targets; EC2's warning reaches the responder for one only.
  const table = uniqueName('drill');
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table, clock: 'event', refreshIndex: false });
  const fleet = await buildDemoFleet(replayer.clients, { prefix: uniqueName('dr'), asgSize: 3 });
  const [handled, unheard] = fleet.asgInstanceIds.slice(1) as [string, string];
  const startedAt = new Date(Date.now() - 30_000);
  fisMock.on(StartExperimentCommand as never).resolves({ experiment: { id: 'EXP1', state: { status: 'initiating' }, startTime: startedAt } });
  fisMock.on(GetExperimentCommand as never).resolves({ experiment: { id: 'EXP1', state: { status: 'completed' }, endTime: new Date() } });
  fisMock.on(ListExperimentResolvedTargetsCommand as never).resolves({
    resolvedTargets: [handled, unheard].map((id) => ({ resourceType: 'aws:ec2:spot-instance', targetInformation: { identifier: `arn:aws:ec2:us-east-1:123456789012:instance/${id}` } })),
  });
  const record = await replayer.replay(spotWarningEvent(handled, { time: eventTime(-10_000) }));
  expect(record.outcome).toBe('handled');
  await replayer.refreshIndex();
  const lines: string[] = [];

  // Act
  const report = await runDrill(
    { experimentTemplateId: 'EXTdrill', json: false, settleMs: 0 },
    { fis: new FisClient({ region: 'us-east-1' }), history: new DynamoHistoryReader({ client: replayer.clients.dynamo, tableName: table }) },
    (line) => lines.push(line),
  );

  // Assess
  expect(report).toMatchObject({ exitCode: 1, targetsFrom: 'fis', score: { passed: 1, failed: 1 } });
  const first = report.score.instances.find((i) => i.instanceId === handled);
  const second = report.score.instances.find((i) => i.instanceId === unheard);
  expect(first).toMatchObject({
    instanceId: handled,
    pass: true,
    warned: { result: 'pass' },
    trafficStoppedBeforeDeadline: { result: 'pass' },
    replacementLaunched: { result: 'pass' },
    replacementHealthy: { result: 'pass' },
  });
  expect(first?.trafficStoppedBeforeDeadline.ms).toBeLessThan(120_000);
  expect(second).toMatchObject({ instanceId: unheard, pass: false, eventId: null });
  expect(lines.join('\n')).toMatch(new RegExp(`${unheard}: no record`));
});
