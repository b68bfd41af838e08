// Issue 10, case 4: `dlq list | redrive` over the three shapes a dead-lettered event takes.
import 'aws-sdk-client-mock-jest';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { classifyDlqMessage, queueFor, receiveDlq, redrive } from '../../../cli/dlq';
import { loadEvent } from '../../support/fixtures';

const DLQ = 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/warnings';
const STATE_QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/state-changes';
const QUEUES = { warningQueueUrl: QUEUE, stateChangeQueueUrl: STATE_QUEUE };
const event = loadEvent('spot-interruption-warning/terminate.json');
const detail = event.detail as Record<string, unknown>;

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
    const results = await redrive(w.clients, entries, QUEUES);

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
    const [result] = await redrive(w.clients, entries.slice(0, 1), QUEUES);

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
