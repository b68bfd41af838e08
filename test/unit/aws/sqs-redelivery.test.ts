// The handler's shortened visibility for failed messages (make-handler.ts), on SQS through
// aws-sdk-client-mock: moto accepts ChangeMessageVisibility, but its Lambda never polls a queue,
// so the integration tests cannot show a real event source mapping bringing the message back.
import 'aws-sdk-client-mock-jest';
import { ChangeMessageVisibilityBatchCommand, GetQueueUrlCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { parseQueueArn, SqsRedelivery } from '../../../lambda/aws/sqs-redelivery';
import type { QueueMessage } from '../../../lambda/core/ports';

const sqsMock = mockClient(SQSClient);
const WARNINGS = 'arn:aws:sqs:eu-west-1:111122223333:spot-responder-WarningQueue';
const STATE_CHANGES = 'arn:aws:sqs:eu-west-1:111122223333:spot-responder-StateChangeQueue';
const urlOf = (arn: string) => `https://sqs.eu-west-1.amazonaws.com/111122223333/${arn.split(':')[5]}`;

function messages(queueArn: string, count: number, prefix = 'm'): QueueMessage[] {
  return Array.from({ length: count }, (_, i) => ({ messageId: `${prefix}-${i}`, queueArn, receiptHandle: `receipt-${prefix}-${i}` }));
}

describe('SqsRedelivery', () => {
  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(GetQueueUrlCommand).callsFake(async (input: { QueueName: string }) => ({ QueueUrl: `https://sqs.eu-west-1.amazonaws.com/111122223333/${input.QueueName}` }));
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  });

  it('changes the visibility per queue in calls of at most 10 entries, naming each queue once per container', async () => {
    // Prepare
    const redelivery = new SqsRedelivery(new SQSClient({ region: 'eu-west-1' }));

    // Act: 23 messages of one queue and 2 of another; then a second failure of the first queue.
    const first = await redelivery.redeliverIn([...messages(WARNINGS, 23), ...messages(STATE_CHANGES, 2, 's')], 5);
    const second = await redelivery.redeliverIn(messages(WARNINGS, 1, 'later'), 5);

    // Assess
    expect(first).toEqual([]);
    expect(second).toEqual([]);
    expect(sqsMock).toHaveReceivedCommandTimes(GetQueueUrlCommand, 2);
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueUrlCommand, { QueueName: 'spot-responder-WarningQueue', QueueOwnerAWSAccountId: '111122223333' });
    const calls = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.QueueUrl, c.Entries?.length])).toEqual([
      [urlOf(WARNINGS), 10],
      [urlOf(WARNINGS), 10],
      [urlOf(WARNINGS), 3],
      [urlOf(STATE_CHANGES), 2],
      [urlOf(WARNINGS), 1],
    ]);
    expect(calls[0]?.Entries?.[0]).toEqual({ Id: 'm-0', ReceiptHandle: 'receipt-m-0', VisibilityTimeout: 5 });
  });

  it("returns the ids SQS reported failed, and every id of a call that failed as a whole", async () => {
    // Prepare: the first chunk answers one entry failed; the second chunk's call fails.
    sqsMock
      .on(ChangeMessageVisibilityBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: 'm-3', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] })
      .rejectsOnce(new SQSServiceException({ name: 'AccessDenied', $fault: 'client', message: 'denied', $metadata: {} }));
    const redelivery = new SqsRedelivery(new SQSClient({ region: 'eu-west-1' }));

    // Act
    const failed = await redelivery.redeliverIn(messages(WARNINGS, 12), 5);

    // Assess
    expect(failed.sort()).toEqual(['m-10', 'm-11', 'm-3']);
  });

  it('rejects when the queue cannot be named, and asks again next time', async () => {
    // Prepare
    sqsMock
      .on(GetQueueUrlCommand)
      .rejectsOnce(new SQSServiceException({ name: 'QueueDoesNotExist', $fault: 'client', message: 'no queue', $metadata: {} }))
      .resolves({ QueueUrl: urlOf(WARNINGS) });
    const redelivery = new SqsRedelivery(new SQSClient({ region: 'eu-west-1' }));

    // Act
    const first = redelivery.redeliverIn(messages(WARNINGS, 1), 5);

    // Assess
    await expect(first).rejects.toThrow('no queue');
    await expect(redelivery.redeliverIn(messages(WARNINGS, 1), 5)).resolves.toEqual([]);
    expect(sqsMock).toHaveReceivedCommandTimes(GetQueueUrlCommand, 2);
  });
});

describe('parseQueueArn', () => {
  it('reads region, account and name', () => {
    expect(parseQueueArn(WARNINGS)).toEqual({ region: 'eu-west-1', account: '111122223333', name: 'spot-responder-WarningQueue' });
    expect(parseQueueArn('arn:aws-cn:sqs:cn-north-1:111122223333:q.fifo')).toEqual({ region: 'cn-north-1', account: '111122223333', name: 'q.fifo' });
  });

  it.each(['', 'arn:aws:sns:eu-west-1:111122223333:topic', 'arn:aws:sqs:eu-west-1:1111:q', 'arn:aws:sqs::111122223333:q', 'arn:aws:sqs:eu-west-1:111122223333:'])(
    'refuses %j',
    (arn) => {
      expect(() => parseQueueArn(arn)).toThrow('not an SQS queue ARN');
    },
  );
});
