// The handler's source guard (issue 9, item 9): with the construct's queues configured, only
// their records are answered; a record of another queue and a direct invocation are recorded as
// rejections under their own untrusted-* id, logged, counted, never acted on and never retried.
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Log, LogAttributes } from '../../../lambda/log';
import type { ResponseRecord } from '../../../lambda/core/model';
import type { MetricsSink } from '../../../lambda/response/metrics';
import { answerForEveryInstance, fleetMocks, warningFor, worldFor, type MockAws } from '../../support/mock-aws';
import type { RawEvent } from '../../support/fixtures';

const WARNINGS = 'arn:aws:sqs:us-east-1:123456789012:spot-responder-WarningQueue';
const STATE_CHANGES = 'arn:aws:sqs:us-east-1:123456789012:spot-responder-StateChangeQueue';
const ELSEWHERE = 'arn:aws:sqs:us-east-1:123456789012:someone-elses-queue';
const SOURCES = { queueArns: [WARNINGS, STATE_CHANGES] };

function sqsEvent(records: Array<{ event: unknown; from: string | undefined }>): SQSEvent {
  return {
    Records: records.map(({ event, from }, i) => ({
      messageId: `m-${i}`,
      receiptHandle: `r-${i}`,
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      ...(from === undefined ? {} : { eventSourceARN: from }),
      awsRegion: 'us-east-1',
    })) as SQSEvent['Records'],
  };
}

/** A log that keeps its lines, and a metrics sink that counts. */
function observed() {
  const lines: Array<{ level: string; message: string; attributes: LogAttributes }> = [];
  const log: Log = {
    debug: (message, attributes = {}) => void lines.push({ level: 'debug', message, attributes }),
    info: (message, attributes = {}) => void lines.push({ level: 'info', message, attributes }),
    warn: (message, attributes = {}) => void lines.push({ level: 'warn', message, attributes }),
    error: (message, attributes = {}) => void lines.push({ level: 'error', message, attributes }),
    child: () => log,
  };
  const rejectedSources: string[] = [];
  const closed: ResponseRecord[] = [];
  const metrics: MetricsSink = {
    recordClosed: (record) => void closed.push(record),
    indexRefreshed: () => undefined,
    deliveryRejected: (source) => void rejectedSources.push(source),
  };
  return { lines, log, metrics, rejectedSources, closed };
}

const putsOf = (aws: MockAws) => aws.dynamo.commandCalls(PutCommand).map((c) => c.args[0].input.Item as Record<string, unknown>);
const instanceOf = (event: RawEvent) => (event.detail as Record<string, string>)['instance-id'];

describe('an SQS batch with the construct’s queues configured', () => {
  it('answers the records of its queues, refuses the record of another queue without acting on it or retrying it', async () => {
    // Prepare: event 0 from the warning queue, event 1 from another queue; the fleet answers for any instance.
    const [ours, theirs] = [warningFor(0), warningFor(1)] as [RawEvent, RawEvent];
    const aws = worldFor(ours);
    answerForEveryInstance(aws);
    const seen = observed();

    // Act
    const answer = (await aws.handler({ log: seen.log, metrics: seen.metrics }, SOURCES)(
      sqsEvent([
        { event: ours, from: WARNINGS },
        { event: theirs, from: ELSEWHERE },
      ]),
    )) as SQSBatchResponse;

    // Assess: nothing to retry; only event 0's instance reached the fleet
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(aws.ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([[instanceOf(ours)]]);
    const refused = putsOf(aws).filter((item) => String(item.eventId).startsWith('untrusted-'));
    expect(refused).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        instanceId: null,
        reason: `delivered by SQS queue "${ELSEWHERE}", not by the responder's queues (event id "${theirs.id}"); not acted on`,
      }),
    ]);
    expect(putsOf(aws).some((item) => item.eventId === theirs.id)).toBe(false);
    expect(seen.rejectedSources).toEqual([`SQS queue "${ELSEWHERE}"`]);
    expect(seen.lines.filter((l) => l.level === 'warn').map((l) => [l.message, l.attributes.source])).toEqual([
      ['input refused: not from an accepted source', `SQS queue "${ELSEWHERE}"`],
    ]);
    expect(seen.closed.map((r) => [r.outcome, r.eventId.startsWith('untrusted-') ? 'untrusted' : r.eventId])).toEqual(
      expect.arrayContaining([
        ['handled', ours.id],
        ['rejected', 'untrusted'],
      ]),
    );
  });

  it('answers records of the state-change queue too', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    const answer = (await aws.handler({}, SOURCES)(sqsEvent([{ event, from: STATE_CHANGES }]))) as SQSBatchResponse;
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(aws.autoScaling.calls().length).toBeGreaterThan(0);
  });

  it('refuses a record without eventSourceARN, and a batch of refused records claims nothing', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    const seen = observed();
    const answer = (await aws.handler({ metrics: seen.metrics }, SOURCES)(sqsEvent([{ event, from: undefined }]))) as SQSBatchResponse;
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(aws.dynamo.commandCalls(TransactWriteCommand)).toEqual([]);
    for (const client of fleetMocks(aws)) expect(client.calls()).toEqual([]);
    expect(seen.rejectedSources).toEqual(['an SQS record without eventSourceARN']);
  });

  it('still reports a failed record of its own queue for retry beside a refused one', async () => {
    // Prepare: the claim of the accepted event is refused by DynamoDB outright.
    const [ours, theirs] = [warningFor(0), warningFor(1)] as [RawEvent, RawEvent];
    const aws = worldFor(ours);
    answerForEveryInstance(aws);
    aws.dynamo.on(TransactWriteCommand).rejects(Object.assign(new Error('access denied to the table'), { name: 'AccessDeniedException', $fault: 'client' }));

    // Act
    const answer = (await aws.handler({}, SOURCES)(
      sqsEvent([
        { event: theirs, from: ELSEWHERE },
        { event: ours, from: WARNINGS },
      ]),
    )) as SQSBatchResponse;

    // Assess: message m-1 (ours) comes back, m-0 (refused) does not
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
  });
});

describe('a direct invocation with the construct’s queues configured', () => {
  it('is recorded as a rejection under its own id and answered, never acted on, never thrown', async () => {
    // Prepare
    const event = warningFor(0);
    const aws = worldFor(event);
    const seen = observed();

    // Act
    const record = await aws.handler({ log: seen.log, metrics: seen.metrics }, SOURCES)(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'rejected',
      eventId: expect.stringMatching(/^untrusted-[0-9a-f]{16}$/),
      reason: `invoked directly, not through the responder's queues (event id "${event.id}"); not acted on`,
    });
    for (const client of fleetMocks(aws)) expect(client.calls()).toEqual([]);
    expect(aws.dynamo.commandCalls(TransactWriteCommand)).toEqual([]);
    expect(putsOf(aws)).toEqual([expect.objectContaining({ eventId: (record as ResponseRecord).eventId, outcome: 'rejected' })]);
    expect(seen.rejectedSources).toEqual(['a direct invocation']);
  });

  it('does not block the real event: the same event from the warning queue afterwards is handled', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    const handler = aws.handler({}, SOURCES);
    await handler(event);
    const answer = (await handler(sqsEvent([{ event, from: WARNINGS }]))) as SQSBatchResponse;
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(aws.autoScaling.calls().length).toBeGreaterThan(0);
  });

  it('does not throw when even the rejection cannot be recorded: it logs that, and Lambda does not retry it', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    aws.dynamo.on(PutCommand).rejects(Object.assign(new Error('table gone'), { name: 'ResourceNotFoundException', $fault: 'client' }));
    const seen = observed();

    const record = await aws.handler({ log: seen.log, metrics: seen.metrics }, SOURCES)(event);

    expect(record).toMatchObject({ outcome: 'rejected' });
    expect(seen.lines.filter((l) => l.level === 'error').map((l) => [l.message, l.attributes.eventId])).toEqual([
      ['refused input not recorded', (record as ResponseRecord).eventId],
    ]);
    expect(seen.rejectedSources).toEqual(['a direct invocation']);
  });
});

describe('without configured sources (the function outside the construct)', () => {
  it('answers a direct EventBridge event as before', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    expect(await aws.handler()(event)).toMatchObject({ eventId: event.id, outcome: 'handled' });
  });
});
