// Issue 10, case 4: `dlq list | redrive` over the three shapes a dead-lettered event takes; and
// what redrive holds back: a terminate warning past its deadline, which the responder would fail
// back to the DLQ (three failed receives and an alarm per redrive).
import 'aws-sdk-client-mock-jest';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import {
  classifyDlqMessage,
  dlqQueues,
  queueFor,
  receiveDlq,
  redrive,
  redriveSources,
  runRedrive,
  tooLateReason,
  type DlqEntry,
} from '../../../cli/dlq';
import { StackNotDeployedError, StackOutputMissingError, readStack } from '../../../cli/stack-target';
import { NOTICE_MS } from '../../../lambda/core/model';
import { eventWith, loadEvent } from '../../support/fixtures';

const DLQ = 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/warnings';
const STATE_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/state-changes';
const QUEUES = { warningQueueUrl: QUEUE, stateChangeQueueUrl: STATE_QUEUE };
const event = loadEvent('spot-interruption-warning/terminate.json');
const detail = event.detail as Record<string, unknown>;
/** Ten seconds after the fixture warning's time: well inside its two-minute window. */
const IN_TIME = Date.parse(event.time as string) + 10_000;
const inTime = { now: () => IN_TIME };

const ruleDlqMessage: Message = {
  MessageId: 'rule-1',
  ReceiptHandle: 'h-rule',
  Body: JSON.stringify(event),
  Attributes: { SentTimestamp: '1767225600000' },
  MessageAttributes: {
    RULE_ARN: { DataType: 'String', StringValue: 'arn:aws:events:us-east-1:123456789012:rule/warnings' },
    ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
    ERROR_MESSAGE: { DataType: 'String', StringValue: 'Unable to invoke Lambda' },
  },
};
const onFailureMessage: Message = {
  MessageId: 'lambda-1',
  ReceiptHandle: 'h-lambda',
  Body: JSON.stringify({
    version: '1.0',
    requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', condition: 'RetriesExhausted' },
    requestPayload: event,
    responsePayload: { errorType: 'ResponseFailedError', errorMessage: 'deregister failed' },
  }),
};
const queueDlqMessage: Message = { MessageId: 'queue-1', ReceiptHandle: 'h-queue', Body: JSON.stringify(event) };
const stranger: Message = { MessageId: 'odd-1', ReceiptHandle: 'h-odd', Body: 'hello' };

describe('classifyDlqMessage', () => {
  it('an EventBridge rule DLQ message: the event is the body, the error is in the attributes', () => {
    expect(classifyDlqMessage(DLQ, ruleDlqMessage)).toMatchObject({
      kind: 'eventbridge-rule-dlq',
      event,
      eventId: event.id,
      instanceId: detail['instance-id'],
      error: 'SDK_CLIENT_ERROR: Unable to invoke Lambda',
      sentAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('a Lambda on-failure record: the event is requestPayload, the error is the response', () => {
    expect(classifyDlqMessage(DLQ, onFailureMessage)).toMatchObject({
      kind: 'lambda-on-failure-record',
      event,
      error: 'ResponseFailedError: deregister failed',
    });
  });

  it("the event queue's DLQ: the body is the event, no error attributes", () => {
    expect(classifyDlqMessage(DLQ, queueDlqMessage)).toMatchObject({ kind: 'event-queue-dlq', event });
  });

  it('anything else is unrecognised, with the reason, and carries no event to redrive', () => {
    const entry = classifyDlqMessage(DLQ, stranger);
    expect(entry).toMatchObject({ kind: 'unrecognised', problem: 'the body is not JSON' });
    expect(entry.event).toBeUndefined();
  });
});

function world() {
  const sqsClient = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const sqs = mockClient(sqsClient);
  sqs
    .on(ReceiveMessageCommand)
    .resolvesOnce({ Messages: [ruleDlqMessage, onFailureMessage, queueDlqMessage, stranger] })
    .resolves({ Messages: [] });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'sent' });
  sqs.on(DeleteMessageCommand).resolves({});
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  return { sqs, clients: { sqs: sqsClient } };
}

describe('redrive', () => {
  it('to the event queue: re-sends each event as it was, deletes each only after, leaves the stranger', async () => {
    // Prepare
    const w = world();
    const entries = await receiveDlq(w.clients.sqs, DLQ, 100);

    // Act
    const results = await redrive(w.clients, entries, QUEUES, inTime);

    // Assess
    expect(results.map((r) => r.result)).toEqual(['redriven', 'redriven', 'redriven', 'skipped']);
    expect(w.sqs).toHaveReceivedCommandTimes(SendMessageCommand, 3);
    expect(w.sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: QUEUE, MessageBody: JSON.stringify(event) });
    expect(w.sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual([
      'h-rule',
      'h-lambda',
      'h-queue',
    ]);
    expect(w.sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'h-odd', VisibilityTimeout: 0 });
  });

  it('a state change goes back to the state-change queue, a warning or a recommendation to the warning queue', () => {
    const stateChange = loadEvent('instance-state-change/running.json');
    expect(queueFor(stateChange, QUEUES)).toBe(STATE_QUEUE);
    expect(queueFor(event, QUEUES)).toBe(QUEUE);
    expect(queueFor({ ...event, 'detail-type': 'EC2 Instance Rebalance Recommendation' }, QUEUES)).toBe(QUEUE);
  });

  it('a send that fails leaves the message in the DLQ (never deleted) and says why', async () => {
    // Prepare
    const w = world();
    w.sqs.on(SendMessageCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const entries = await receiveDlq(w.clients.sqs, DLQ, 100);

    // Act
    const [result] = await redrive(w.clients, entries.slice(0, 1), QUEUES, inTime);

    // Assess
    expect(result).toMatchObject({ result: 'failed', reason: expect.stringMatching(/AccessDenied.*left in the queue/) });
    expect(w.sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
    expect(w.sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'h-rule', VisibilityTimeout: 0 });
  });
});

describe('receiveDlq', () => {
  it('stops at --max and at an empty receive; asks for every attribute', async () => {
    const w = world();
    const entries = await receiveDlq(w.clients.sqs, DLQ, 2);
    expect(entries).toHaveLength(4); // one receive of up to 2 answered 4 in the mock: no second receive
    expect(w.sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 1);
    expect(w.sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, {
      MaxNumberOfMessages: 2,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Too late to act on: held back from redrive, listed with why, left or deleted (--delete-late).

const EVENT_MS = Date.parse(event.time as string);
/** An hour after the fixture warning: its terminate deadline is long past. */
const AN_HOUR_LATER = EVENT_MS + 3_600_000;

function entryOf(kind: DlqEntry['kind'], evt: Record<string, unknown>, handle = `h-${kind}`): DlqEntry {
  return { queueUrl: DLQ, messageId: `m-${handle}`, receiptHandle: handle, kind, event: evt };
}

describe('tooLateReason: the responder\'s own window rule, asked at redrive time', () => {
  it.each([
    ['event-queue-dlq', /its record stays failed in history/],
    ['lambda-on-failure-record', /its record stays failed in history/],
    ['eventbridge-rule-dlq', /EventBridge never delivered it to the responder, so history holds no record of it/],
  ] as const)('a terminate warning past its deadline (%s) is too late, and says what history holds', (kind, history) => {
    const reason = tooLateReason(entryOf(kind, event), AN_HOUR_LATER);
    expect(reason).toMatch(/^too late to act: the instance was reclaimed \(a terminate warning of 2025-03-04T10:15:30Z, its deadline passed 58 min 0 s ago\)/);
    expect(reason).toMatch(history);
  });

  it('the boundary is the responder\'s: acted on up to 120 s after the event time, too late from then on', () => {
    const entry = entryOf('event-queue-dlq', event);
    expect(tooLateReason(entry, EVENT_MS + NOTICE_MS - 1)).toBeUndefined();
    expect(tooLateReason(entry, EVENT_MS + NOTICE_MS)).toMatch(/too late to act/);
  });

  it.each([
    ['a stop warning', loadEvent('spot-interruption-warning/stop.json')],
    ['a hibernate warning', loadEvent('spot-interruption-warning/hibernate.json')],
    ['a rebalance recommendation', loadEvent('rebalance-recommendation/recommendation.json')],
    ['a state change', loadEvent('instance-state-change/running.json')],
    ['a terminate warning dated in the future', eventWith(event, { time: '2025-03-04T12:00:00Z' })],
    ['an event the responder would reject', loadEvent('invalid/malformed-instance-id.json')],
  ])('%s an hour later is not too late: redriven as before', (_what, evt) => {
    expect(tooLateReason(entryOf('event-queue-dlq', evt), AN_HOUR_LATER)).toBeUndefined();
  });

  it('an unrecognised message carries no event: not late (skipped as before)', () => {
    expect(tooLateReason(classifyDlqMessage(DLQ, stranger), AN_HOUR_LATER)).toBeUndefined();
  });
});

const stop = loadEvent('spot-interruption-warning/stop.json');
const stateChange = loadEvent('instance-state-change/running.json');
const recommendation = loadEvent('rebalance-recommendation/recommendation.json');
const freshWarning = eventWith(event, { id: 'fresh-warning', time: new Date(AN_HOUR_LATER - 30_000).toISOString() });

/** A DLQ holding late terminate warnings in all three shapes beside events redrive still sends. */
function lateWorld() {
  const messages: Message[] = [
    { ...ruleDlqMessage, MessageId: 'late-rule', ReceiptHandle: 'h-late-rule' },
    { MessageId: 'stop', ReceiptHandle: 'h-stop', Body: JSON.stringify(stop) },
    { ...onFailureMessage, MessageId: 'late-lambda', ReceiptHandle: 'h-late-lambda' },
    { MessageId: 'state', ReceiptHandle: 'h-state', Body: JSON.stringify(stateChange) },
    { ...queueDlqMessage, MessageId: 'late-queue', ReceiptHandle: 'h-late-queue' },
    { MessageId: 'rebalance', ReceiptHandle: 'h-rebalance', Body: JSON.stringify(recommendation) },
    { MessageId: 'fresh', ReceiptHandle: 'h-fresh', Body: JSON.stringify(freshWarning) },
  ];
  const sqsClient = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const sqs = mockClient(sqsClient);
  // What happened, in order: each printed line and each DeleteMessage.
  const happened: string[] = [];
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'sent' });
  sqs.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
    happened.push(`delete ${input.ReceiptHandle}`);
    return {};
  });
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  const printed: string[] = [];
  const print = (line: string) => {
    printed.push(line);
    happened.push(`print ${line}`);
  };
  const run = { queues: [DLQ], target: QUEUES, max: 100, deleteLate: false, json: false, now: () => AN_HOUR_LATER };
  return { sqs, clients: { sqs: sqsClient }, printed, happened, print, run };
}

const LATE_HANDLES = ['h-late-rule', 'h-late-lambda', 'h-late-queue'];
const sentIds = (sqs: ReturnType<typeof lateWorld>['sqs']) =>
  sqs.commandCalls(SendMessageCommand).map((c) => (JSON.parse(c.args[0].input.MessageBody ?? '{}') as { id: string }).id);
const deleted = (sqs: ReturnType<typeof lateWorld>['sqs']) => sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle);

describe('runRedrive', () => {
  it('does not send back a terminate warning past its deadline, in any of the three shapes: lists why, leaves it in the DLQ', async () => {
    // Prepare
    const w = lateWorld();

    // Act
    const report = await runRedrive(w.clients, w.run, w.print);

    // Assess: stop, state change, rebalance and the fresh warning go back as before
    expect(sentIds(w.sqs).sort()).toEqual([stop.id, stateChange.id, recommendation.id, freshWarning.id].sort());
    expect(w.sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: STATE_QUEUE, MessageBody: JSON.stringify(stateChange) });
    expect(w.sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: QUEUE, MessageBody: JSON.stringify(stop) });
    expect(deleted(w.sqs).sort()).toEqual(['h-fresh', 'h-rebalance', 'h-state', 'h-stop']);
    // the late ones: released at once, never deleted
    for (const handle of LATE_HANDLES) {
      expect(w.sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: handle, VisibilityTimeout: 0 });
    }
    expect(report.exitCode).toBe(0);
    expect(report.results.map((r) => [r.entry.messageId, r.result])).toEqual([
      ['stop', 'redriven'],
      ['state', 'redriven'],
      ['rebalance', 'redriven'],
      ['fresh', 'redriven'],
      ['late-rule', 'late'],
      ['late-lambda', 'late'],
      ['late-queue', 'late'],
    ]);
    const text = w.printed.join('\n');
    expect(text).toMatch(
      /late: late-queue {2}event-queue-dlq {2}EC2 Spot Instance Interruption Warning 7bf73129-1428-4cd3-a780-95db273d1602 for i-1234567890abcdef0\n {4}too late to act: the instance was reclaimed \(a terminate warning of 2025-03-04T10:15:30Z, its deadline passed 58 min 0 s ago\); its record stays failed in history; left in the DLQ \(--delete-late deletes it\)/,
    );
    expect(text).toMatch(/late: late-rule {2}eventbridge-rule-dlq .*\n {4}error: .*\n {4}too late to act: .*history holds no record of it; left in the DLQ/);
    expect(w.printed.at(-1)).toBe(
      '3 messages too late to act on left in the DLQ (not re-sent: the responder would fail them again, back to the DLQ); --delete-late deletes them',
    );
  });

  it('--delete-late lists the late messages, then deletes exactly those (their receipt handles), never sending them', async () => {
    // Prepare
    const w = lateWorld();

    // Act
    const report = await runRedrive(w.clients, { ...w.run, deleteLate: true }, w.print);

    // Assess
    expect(sentIds(w.sqs)).not.toContain(event.id);
    expect(deleted(w.sqs).sort()).toEqual([...LATE_HANDLES, 'h-fresh', 'h-rebalance', 'h-state', 'h-stop'].sort());
    for (const handle of LATE_HANDLES) {
      expect(w.sqs).not.toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: handle });
      // listed (with why) before it is deleted
      const listed = w.happened.findIndex((h) => h.startsWith(`print late: ${handle.slice('h-'.length)} `) && h.includes('too late to act'));
      expect(listed).toBeGreaterThanOrEqual(0);
      expect(listed).toBeLessThan(w.happened.indexOf(`delete ${handle}`));
    }
    expect(w.printed).toEqual(
      expect.arrayContaining([
        `deleted: late-rule (too late to act on) from ${DLQ}`,
        `deleted: late-lambda (too late to act on) from ${DLQ}`,
        `deleted: late-queue (too late to act on) from ${DLQ}`,
      ]),
    );
    expect(w.printed.join('\n')).not.toMatch(/left in the DLQ/);
    expect(report.results.filter((r) => r.result === 'deleted').map((r) => r.entry.messageId)).toEqual(['late-rule', 'late-lambda', 'late-queue']);
    expect(report.exitCode).toBe(0);
  });

  it('--delete-late: a delete AWS refuses is a failure (exit 1), the message released and said to stay', async () => {
    // Prepare
    const w = lateWorld();
    w.sqs
      .on(DeleteMessageCommand, { ReceiptHandle: 'h-late-lambda' })
      .rejects(Object.assign(new Error('Value h-late-lambda for parameter ReceiptHandle is invalid'), { name: 'ReceiptHandleIsInvalid' }));

    // Act
    const report = await runRedrive(w.clients, { ...w.run, deleteLate: true }, w.print);

    // Assess
    expect(report.exitCode).toBe(1);
    expect(report.results.find((r) => r.entry.messageId === 'late-lambda')).toMatchObject({
      result: 'failed',
      reason: expect.stringMatching(/^too late to act: .*; not deleted \(ReceiptHandleIsInvalid: .*\): left in the DLQ$/),
    });
    expect(w.sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'h-late-lambda', VisibilityTimeout: 0 });
    expect(w.printed.join('\n')).toMatch(/failed: late-lambda not deleted from .*\n {4}too late to act/);
  });

  it('--json: one object per message, the late ones with result late (or deleted) and the reason', async () => {
    const left = lateWorld();
    await runRedrive(left.clients, { ...left.run, json: true }, left.print);
    const gone = lateWorld();
    await runRedrive(gone.clients, { ...gone.run, json: true, deleteLate: true }, gone.print);

    const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as { messageId: string; result: string; reason?: string; receiptHandle?: string });
    const leftLines = parse(left.printed);
    const goneLines = parse(gone.printed);
    expect(leftLines).toHaveLength(7);
    expect(goneLines).toHaveLength(7);
    expect(leftLines.find((l) => l.messageId === 'late-queue')).toMatchObject({
      kind: 'event-queue-dlq',
      result: 'late',
      reason: expect.stringMatching(/^too late to act: the instance was reclaimed .*its record stays failed in history; left in the DLQ/),
    });
    expect(goneLines.find((l) => l.messageId === 'late-queue')).toMatchObject({ result: 'deleted', reason: expect.stringMatching(/deleted from the DLQ \(--delete-late\)$/) });
    expect(goneLines.every((l) => l.receiptHandle === undefined)).toBe(true);
  });

  it('--event-id picks one message; a late one is held back, the rest released untouched', async () => {
    // Prepare
    const w = lateWorld();

    // Act
    const report = await runRedrive(w.clients, { ...w.run, eventId: stop.id as string }, w.print);

    // Assess
    expect(report.results.map((r) => [r.entry.messageId, r.result])).toEqual([['stop', 'redriven']]);
    expect(sentIds(w.sqs)).toEqual([stop.id]);
    expect(deleted(w.sqs)).toEqual(['h-stop']);
    expect(w.sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'h-late-queue', VisibilityTimeout: 0 });
  });
});

// ---------------------------------------------------------------------------------------------
// Where redrive reads and sends: flags first, the stack only for what they leave out.

function cfn(outputs?: Array<{ OutputKey: string; OutputValue: string }>) {
  const client = new CloudFormationClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const mock = mockClient(client);
  if (outputs) {
    mock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'S', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: outputs }] });
  } else {
    mock.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id SpotResponder does not exist'), { name: 'ValidationError' }));
  }
  return { mock, read: () => readStack({ region: 'eu-west-1' }, () => client) };
}

const STACK_OUTPUTS = [
  { OutputKey: 'DeadLetterQueueUrl', OutputValue: 'https://sqs/dlq' },
  { OutputKey: 'WarningDeadLetterQueueUrl', OutputValue: 'https://sqs/warnings-dlq' },
  { OutputKey: 'WarningQueueUrl', OutputValue: 'https://sqs/warnings' },
  { OutputKey: 'StateChangeQueueUrl', OutputValue: 'https://sqs/state-changes' },
];

describe('redriveSources', () => {
  it('--queue-url, --warning-queue-url and --state-change-queue-url: the stack is not read at all', async () => {
    const { mock, read } = cfn();
    await expect(
      redriveSources({ queueUrl: [DLQ], warningQueueUrl: QUEUE, stateChangeQueueUrl: STATE_QUEUE }, read),
    ).resolves.toEqual({ queues: [DLQ], target: QUEUES });
    expect(mock).not.toHaveReceivedCommand(DescribeStacksCommand);
  });

  it.each([
    [{ queueUrl: [DLQ] }, '--warning-queue-url and --state-change-queue-url'],
    [{ queueUrl: [DLQ], warningQueueUrl: QUEUE }, '--state-change-queue-url'],
    [{ warningQueueUrl: QUEUE, stateChangeQueueUrl: STATE_QUEUE }, '--queue-url'],
    [{}, '--queue-url, --warning-queue-url and --state-change-queue-url'],
  ])('stack not deployed, given %j: the error names exactly the flags missing (%s)', async (flags, missing) => {
    const { read } = cfn();
    const err = (await redriveSources(flags, read).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(StackNotDeployedError);
    expect(err.message).toMatch(/^stack SpotResponder is not deployed in eu-west-1 /);
    expect(err.message.endsWith(`or name what the command reads directly (${missing})`)).toBe(true);
    expect(err.message).not.toMatch(/--table/);
  });

  it('a flag wins over its output; what no flag names comes from the stack', async () => {
    const { read } = cfn(STACK_OUTPUTS);
    await expect(redriveSources({ warningQueueUrl: QUEUE }, read)).resolves.toEqual({
      queues: ['https://sqs/dlq', 'https://sqs/warnings-dlq'],
      target: { warningQueueUrl: QUEUE, stateChangeQueueUrl: 'https://sqs/state-changes' },
    });
  });

  it('a stack without the destination outputs (older version): names the output and the flag that replaces it', async () => {
    const { read } = cfn(STACK_OUTPUTS.filter((o) => o.OutputKey !== 'StateChangeQueueUrl'));
    const err = (await redriveSources({ queueUrl: [DLQ] }, read).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(StackOutputMissingError);
    expect(err.message).toBe(
      'stack SpotResponder has no StateChangeQueueUrl output (deployed by an older version): redeploy it, or pass ' +
        '--state-change-queue-url; the messages stay in their DLQs meanwhile',
    );
  });

  it('any other CloudFormation error is raised as it is', async () => {
    const { mock, read } = cfn(STACK_OUTPUTS);
    mock.on(DescribeStacksCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(redriveSources({ queueUrl: [DLQ] }, read)).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('dlqQueues (dlq list)', () => {
  it('--queue-url reads no stack; without it, a stack that is not deployed names --queue-url', async () => {
    const { mock, read } = cfn();
    await expect(dlqQueues({ queueUrl: [DLQ] }, read)).resolves.toEqual([DLQ]);
    expect(mock).not.toHaveReceivedCommand(DescribeStacksCommand);
    await expect(dlqQueues({}, read)).rejects.toThrow(/or name what the command reads directly \(--queue-url\)$/);
  });

  it('a stack without any DLQ output asks for --queue-url', async () => {
    const { read } = cfn([{ OutputKey: 'TableName', OutputValue: 't' }]);
    await expect(dlqQueues({}, read)).rejects.toThrow(/has no dead-letter queue output; pass --queue-url/);
  });
});
