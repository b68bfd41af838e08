// The two-minute notice: a warning that arrives after it is recorded and dropped; a call that
// would run past it is cut off by its abort signal.
import 'aws-sdk-client-mock-jest';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchGetCommand, PutCommand, TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { type RawEvent } from '../../support/fixtures';
import {
  callOptionsOf,
  eventTimeOf,
  finishedRecord,
  finishesSent,
  FLEET,
  fleetMocks,
  isClaim,
  mockAws,
  responseFailure,
  TABLE_NAME,
  terminateWarning,
  unclaimedPuts,
} from '../../support/mock-aws';

const NOTICE_MS = 120_000;

describe('a terminate warning that arrives after its deadline', () => {
  it.each([
    ['exactly at', 0, 0, '0 ms'],
    ['1.5 s after', 1_500, -1_500, '1.5 s'],
  ])('arriving %s the deadline is skipped with the reason', async (_when, lateMs, msLeftAtFinish, late) => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + NOTICE_MS + lateMs });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'skipped',
      reason: `arrived ${late} after its deadline; the instance is already terminating and AWS removes terminated targets itself`,
      deadline: new Date(eventTimeOf(event) + NOTICE_MS).toISOString(),
      msLeftAtFinish,
    });
  });

  it('is recorded without a claim, never overwriting an existing record', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + NOTICE_MS + 1_500 });

    // Act
    await aws.handler()(event);

    // Assess
    expect(unclaimedPuts(aws)).toEqual([
      expect.objectContaining({
        TableName: TABLE_NAME,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({
          pk: `EVENT#${String(event.id)}`,
          status: 'SKIPPED',
          outcome: 'skipped',
          eventId: event.id,
          instanceId: FLEET.instanceId,
        }),
      }),
    ]);
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('makes no fleet call at all, not even a read', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + NOTICE_MS + 1_500 });

    // Act
    await aws.handler()(event);

    // Assess
    for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
    expect(aws.dynamo).not.toHaveReceivedCommand(BatchGetCommand);
  });

  it('writes only its unclaimed record, however late (property)', async () => {
    const event = terminateWarning();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 7 * 86_400_000 }), async (lateMs) => {
        // Prepare
        const aws = mockAws({ now: eventTimeOf(event) + NOTICE_MS + lateMs });

        // Act
        const record = await aws.handler()(event);

        // Assess
        expect(record.outcome).toBe('skipped');
        for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
        expect(aws.dynamo.calls().map((call) => call.args[0].constructor.name)).toEqual(['PutCommand']);
      }),
      { numRuns: 25 },
    );
  });
});

describe('a call that runs into the deadline', () => {
  /**
   * The claim lands 40 ms before the deadline, so every later call gets a 40 ms budget, and
   * DeregisterTargets hangs until the abort signal the adapter passed to `send` fires; then it
   * rejects as the SDK's HTTP handler does (AbortError "Request aborted") and the clock reads
   * the deadline. aws-sdk-client-mock hands `callsFake` only the input, so the signal is read
   * from the recorded call's second argument (see callOptionsOf).
   */
  function hangingUntilAborted(event: RawEvent) {
    const deadline = eventTimeOf(event) + NOTICE_MS;
    const aws = mockAws({ now: eventTimeOf(event) + 5_000 });
    aws.dynamo.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
      if (isClaim(input)) aws.clock.set(deadline - 40);
      return {};
    });
    aws.elbv2.on(DeregisterTargetsCommand).callsFake(
      (input: unknown) =>
        new Promise((_resolve, reject) => {
          const signal = callOptionsOf(aws.elbv2, input)?.abortSignal;
          signal?.addEventListener(
            'abort',
            () => {
              aws.clock.set(deadline);
              reject(Object.assign(new Error('Request aborted'), { name: 'AbortError', cause: signal.reason }));
            },
            { once: true },
          );
        }),
    );
    return aws;
  }

  it('is cut off at the deadline and recorded as failed with the reason', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = hangingUntilAborted(event);

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    const deregistrations = failure.record.actions.filter((a) => a.action === 'deregister');
    expect(deregistrations).toHaveLength(3);
    for (const action of deregistrations) {
      expect(action).toMatchObject({
        result: 'failed',
        reason: 'deadline reached',
        error: { name: 'AbortError', message: 'Request aborted', retryable: false },
      });
    }
    expect(finishedRecord(aws)).toMatchObject({
      outcome: 'failed',
      status: 'FAILED',
      deregisteredFrom: [],
      detached: true,
      msLeftAtFinish: 0,
    });
  });

  it('gives the call only the time left before the deadline', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = hangingUntilAborted(event);
    const started = performance.now();

    // Act
    await responseFailure(aws.handler()(event));

    // Assess
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('still has its record written, which no deadline bounds', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = hangingUntilAborted(event);

    // Act
    await responseFailure(aws.handler()(event));

    // Assess
    expect(finishesSent(aws)).toHaveLength(1);
    expect(callOptionsOf(aws.dynamo, finishesSent(aws)[0])?.abortSignal).toBeUndefined();
    expect(aws.dynamo).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('a call that times out on its own, long before the deadline', () => {
  it('is a retryable failure, not blamed on the deadline', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + 5_000 });
    // What the SDK raises once every attempt hit the client's 5 s requestTimeout (clients.ts).
    const requestTimeout = Object.assign(
      new Error('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 5000 ms requestTimeout.'),
      { name: 'TimeoutError', code: 'ETIMEDOUT' },
    );
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: FLEET.indexedGroup }).rejects(requestTimeout);

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    const action = failure.record.actions.find((a) => a.target === FLEET.indexedGroup);
    expect(action).toMatchObject({ result: 'failed', error: { name: 'TimeoutError', retryable: true } });
    expect(action).not.toHaveProperty('reason');
    expect(failure.record.msLeftAtFinish).toBe(115_000);
  });
});
