// Graceful shutdown (issue 11, item 1) through the Lambda's entry point and the real adapters,
// only the SDK clients' `send` mocked: which warnings send the construct's SSM document, with
// which parameters and seconds left, in the same round as the deregistrations; what the record
// says when SSM sends it, refuses the instance, throttles or denies; how the final status extends
// the timeline. moto's SSM accepts SendCommand for any instance id and reports every command
// Success at once, so the refusals and the failures live here (test/integration/shutdown.test.ts
// shows the call against moto).
import 'aws-sdk-client-mock-jest';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeInstancesCommand, type DescribeInstancesCommandInput } from '@aws-sdk/client-ec2';
import { SendCommandCommand, SSMServiceException, type SendCommandCommandInput } from '@aws-sdk/client-ssm';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ShutdownSettings } from '../../../lambda/core/shutdown';
import { respondBatch } from '../../../lambda/responder';
import { loadEvent, type RawEvent } from '../../support/fixtures';
import {
  FLEET,
  answerForEveryInstance,
  callOptionsOf,
  eventTimeOf,
  finishedRecord,
  fleetMocks,
  instanceReply,
  mockAws,
  serviceError,
  terminateWarning,
  warningFor,
  type MockAws,
} from '../../support/mock-aws';

const ID = FLEET.instanceId;
const DOCUMENT = 'SpotResponder-GracefulShutdown';
const TAG = 'spot-responder:shutdown';
const UNIT: ShutdownSettings = { documentName: DOCUMENT, defaultCommand: { systemdUnit: 'app.service' }, tagKey: TAG };

/** The default world with graceful shutdown as given (null: off). */
function world(event: RawEvent, shutdown: ShutdownSettings | null = UNIT, msAfterEvent = 5_000): MockAws {
  return mockAws({ now: eventTimeOf(event) + msAfterEvent, ...(shutdown ? { shutdown } : {}) });
}

function sent(aws: MockAws): SendCommandCommandInput[] {
  return aws.ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input);
}

function shutdownAction(record: { actions: unknown[] }) {
  return record.actions.find((a) => (a as { action: string }).action === 'shutdown');
}

describe('graceful shutdown off (no document deployed)', () => {
  it('sends nothing to SSM and records no shutdown action', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event, null);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toBeUndefined();
    expect(record.outcome).toBe('handled');
  });
});

describe('a terminate warning with graceful shutdown on', () => {
  it('sends the document with the unit and the seconds left, in the same round as the deregistrations', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    // The deregistrations answer only once SendCommand was sent: a SendCommand waiting for them
    // (a later round) would never be sent, and the test would time out.
    let sendCommandSeen: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => (sendCommandSeen = resolve));
    aws.ssm.on(SendCommandCommand).callsFake(() => (sendCommandSeen(), { Command: { CommandId: 'cmd-1' } }));
    aws.elbv2.on(DeregisterTargetsCommand).callsFake(async () => (await seen, {}));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(sent(aws)).toEqual([
      expect.objectContaining({
        DocumentName: DOCUMENT,
        InstanceIds: [ID],
        Parameters: { Action: ['stop-unit'], Unit: ['app.service'], SecondsLeft: ['115'] },
        TimeoutSeconds: 115,
      }),
    ]);
    // Started last in its round: pacing never holds a deregistration behind it.
    // sinon numbers every call across spies (callId), which its typings leave out.
    const callId = (c: unknown) => (c as { callId: number }).callId;
    const ssmCalls = aws.ssm.send.getCalls().map(callId);
    const elbv2Calls = aws.elbv2.send.getCalls().map(callId);
    expect(Math.min(...ssmCalls)).toBeGreaterThan(Math.max(...elbv2Calls));
    expect(aws.elbv2).toHaveReceivedCommand(DeregisterTargetsCommand);
    const opts = callOptionsOf(aws.ssm, sent(aws)[0]);
    expect(opts?.abortSignal).toBeInstanceOf(AbortSignal);
    expect(shutdownAction(record)).toEqual({
      action: 'shutdown',
      target: DOCUMENT,
      targetId: ID,
      result: 'ok',
      commandId: 'cmd-1',
      reason: '115 s left',
      latencyMs: expect.any(Number),
    });
    expect(record.timeline).toContainEqual({ event: 'shutdown-command-sent', at: expect.any(String), detail: 'command cmd-1, 115 s left' });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'handled', status: 'COMPLETED' });
  });

  it("runs the user's script instead when the prop says so", async () => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event, { ...UNIT, defaultCommand: { script: '/opt/app/drain.sh' } }, 30_000);

    // Act
    await aws.handler()(event);

    // Assess
    expect(sent(aws)[0]?.Parameters).toEqual({ Action: ['run-script'], Script: ['/opt/app/drain.sh'], SecondsLeft: ['90'] });
  });

  it.each([
    [{ [TAG]: 'unit:worker.service' }, { Action: ['stop-unit'], Unit: ['worker.service'], SecondsLeft: ['115'] }],
    [{ [TAG]: 'script:/usr/local/bin/checkpoint' }, { Action: ['run-script'], Script: ['/usr/local/bin/checkpoint'], SecondsLeft: ['115'] }],
  ])('takes the command from the instance tag %j', async (tags, parameters) => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags }));

    // Act
    await aws.handler()(event);

    // Assess
    expect(sent(aws)[0]?.Parameters).toEqual(parameters);
  });

  it.each([
    ['off', `instance tag ${TAG}=off`],
    ['unit:app.service; rm -rf /', `instance tag ${TAG}: "app.service; rm -rf /" is not a systemd unit name (letters, digits, :_.@- and a suffix such as .service)`],
    ['script:/opt/../bin/sh', `instance tag ${TAG}: "/opt/../bin/sh" is not an absolute path of plain characters (letters, digits, ._/+-, no ..)`],
  ])('sends nothing for the instance tag %s, and says why', async (value, reason) => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: { [TAG]: value } }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toMatchObject({ action: 'shutdown', result: 'skipped', reason });
    expect(record.outcome).toBe('handled');
  });

  it('records an instance SSM does not manage (InvalidInstanceId) as skipped, and the response is handled', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    aws.ssm.on(SendCommandCommand).rejects(serviceError(SSMServiceException, 'InvalidInstanceId', 400, 'Instances not in a valid state for account'));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(shutdownAction(record)).toMatchObject({
      result: 'skipped',
      reason: 'SSM refused the instance (InvalidInstanceId): no SSM agent online, or not in a state SSM accepts',
    });
    expect(record.outcome).toBe('handled');
    expect(record.timeline?.map((t) => t.event)).not.toContain('shutdown-command-sent');
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'handled', status: 'COMPLETED' });
  });

  it.each([
    ['throttled past its retries', serviceError(SSMServiceException, 'ThrottlingException', 400, 'Rate exceeded'), true],
    ['denied', serviceError(SSMServiceException, 'AccessDeniedException', 400, 'not authorized to perform: ssm:SendCommand'), false],
  ])('records a SendCommand %s as failed with a note, without failing the response', async (_case, error, retryable) => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    aws.ssm.on(SendCommandCommand).rejects(error);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(shutdownAction(record)).toMatchObject({ result: 'failed', error: { name: error.name, retryable } });
    expect(record.outcome).toBe('handled');
    expect(record.notes).toContain(`the graceful-shutdown command was not sent (${error.name}); the response's outcome does not depend on it`);
    expect(record.deregisteredFrom.length).toBeGreaterThan(0);
  });

  it('sends nothing when less than a second is left', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/stop.json');
    const aws = world(event, UNIT, 119_500);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toMatchObject({ result: 'skipped', reason: 'deadline reached: less than a second left, nothing could run in time' });
  });
});

describe('the signals that send no shutdown command', () => {
  it('hibernate: the command would run after the resume', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/hibernate.json');
    const aws = world(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toMatchObject({ result: 'skipped', reason: 'hibernate: the instance hibernates at once; the command would run after it resumes' });
  });

  it('a rebalance recommendation acted on (replace): no interruption to prepare for yet', async () => {
    // Prepare
    const event = loadEvent('rebalance-recommendation/recommendation.json');
    const aws = mockAws({ now: eventTimeOf(event) + 5_000, shutdown: UNIT });

    // Act
    const record = await aws.handler({ behaviour: { rebalanceAction: 'replace', tagPolicy: { mode: 'opt-out', key: 'spot-responder' }, shutdown: UNIT } })(event);

    // Assess
    expect(record.outcome).toBe('handled');
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toBeUndefined();
  });
});

describe('observe mode', () => {
  it('plans the command and sends nothing', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + 5_000, shutdown: UNIT, mode: 'observe' });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toMatchObject({ result: 'planned', reason: '115 s left' });
    expect(record.outcome).toBe('observed');
  });
});

describe('a batch of warnings', () => {
  it('sends one SendCommand per command and seconds left, at most 50 instances each', async () => {
    // Prepare: 60 warnings stamped at one time, one of them 3 s later (another seconds-left group).
    const events = Array.from({ length: 61 }, (_, n) => warningFor(n));
    const late = events[60] as RawEvent;
    late.time = new Date(eventTimeOf(late) + 3_000).toISOString().replace('.000Z', 'Z');
    const aws = world(events[0] as RawEvent);
    answerForEveryInstance(aws);
    let next = 0;
    aws.ssm.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++next}` } }));

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    const calls = sent(aws);
    expect(calls.map((c) => [c.InstanceIds?.length, c.Parameters?.SecondsLeft])).toEqual([
      [50, ['115']],
      [10, ['115']],
      [1, ['118']],
    ]);
    expect(records.every((r) => r.outcome === 'handled')).toBe(true);
    expect(new Set(records.map((r) => (shutdownAction(r) as { commandId: string }).commandId)).size).toBe(3);
  });

  it('sends the instances of a refused call one by one: only the unmanaged one is skipped', async () => {
    // Prepare
    const events = [0, 1, 2].map(warningFor);
    const aws = world(events[0] as RawEvent);
    answerForEveryInstance(aws);
    const unmanaged = (events[1]?.detail as Record<string, string>)['instance-id'];
    aws.ssm.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
      if (input.InstanceIds?.includes(unmanaged as string)) {
        throw serviceError(SSMServiceException, 'InvalidInstanceId', 400, 'Instances not in a valid state for account');
      }
      return { Command: { CommandId: `cmd-${input.InstanceIds?.join('+')}` } };
    });

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expect(sent(aws).map((c) => c.InstanceIds?.length)).toEqual([3, 1, 1, 1]);
    expect(records.map((r) => (shutdownAction(r) as { result: string }).result)).toEqual(['ok', 'skipped', 'ok']);
  });

  it('reads no tag it cannot see: a failed DescribeInstances sends nothing for that instance', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = world(event);
    aws.ec2.on(DescribeInstancesCommand).callsFake((_input: DescribeInstancesCommandInput) => {
      throw serviceError(SSMServiceException, 'InternalError', 500, 'boom');
    });

    // Act
    const record = await aws.handler()(event).catch((err: { record: { actions: unknown[] } }) => err.record);

    // Assess
    expect(aws.ssm).not.toHaveReceivedAnyCommand();
    expect(shutdownAction(record)).toMatchObject({ result: 'skipped', reason: `DescribeInstances failed: the instance's ${TAG} tag could not be read` });
  });
});

describe("the shutdown command's final status", () => {
  const RESPONSE = 'evt-response';

  function pointedAt(aws: MockAws, role: string) {
    aws.dynamo.on(GetCommand, { Key: { pk: `INSTANCE#${ID}` } }).resolves({ Item: { pk: `INSTANCE#${ID}`, eventId: RESPONSE, role } });
  }

  it.each([
    ['success.json', 'Success'],
    ['failed.json', 'Failed'],
  ])('%s adds shutdown-command-finished with the status to the warning\'s record', async (file, status) => {
    // Prepare
    const event = loadEvent(`shutdown-command-status/${file}`);
    const aws = world(event);
    pointedAt(aws, 'interrupted');

    // Act
    const record = await aws.handler()(event);

    // Assess
    const detail = `${status} (command 0b2e6c1a-9d4f-4e7b-a3c8-5f1d2e9b7a46)`;
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${RESPONSE}` },
      ExpressionAttributeNames: { '#milestone': 'shutdown-command-finished' },
      ExpressionAttributeValues: { ':entry': { at: event.time, detail } },
    });
    expect(record).toMatchObject({
      outcome: 'handled',
      detailType: 'EC2 Command Invocation Status-change Notification',
      timeline: [{ event: 'shutdown-command-finished', at: event.time, detail }],
    });
    for (const stub of [...fleetMocks(aws), aws.ssm]) expect(stub).not.toHaveReceivedAnyCommand();
  });

  it.each([
    ['a status that is not final', { status: 'InProgress' }, 'status InProgress is not final'],
    ["another document's command", { 'document-name': 'AWS-RunShellScript' }, "document AWS-RunShellScript is not this deployment's shutdown document"],
  ])('ignores %s without reading or writing the table', async (_case, change, why) => {
    // Prepare
    const base = loadEvent('shutdown-command-status/success.json');
    const event = { ...base, detail: { ...(base.detail as object), ...change } };
    const aws = world(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'not-acted-on', reason: expect.stringContaining(why) });
    expect(aws.dynamo).not.toHaveReceivedAnyCommand();
  });

  it('adds nothing to the record of a replacement', async () => {
    // Prepare
    const event = loadEvent('shutdown-command-status/success.json');
    const aws = world(event);
    pointedAt(aws, 'replacement');

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'shutdown command Success: not an instance we acted on; not recorded' });
    expect(aws.dynamo).not.toHaveReceivedCommand(UpdateCommand);
  });
});
