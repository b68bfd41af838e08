// Failures of the fleet-facing calls, of the claim, and of the responder itself. A failed
// response is recorded (claim released as FAILED) and then thrown, so Lambda retries it.
import 'aws-sdk-client-mock-jest';
import {
  AutoScalingServiceException,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import {
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2ServiceException,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AWS_CALL_POLICY } from '../../../lambda/aws/clients';
import type { TargetIndexLookup } from '../../../lambda/core/model';
import { ResponseFailedError } from '../../../lambda/responder';
import {
  claimsSent,
  deregistrationsSent,
  finishedRecord,
  finishesSent,
  eventTimeOf,
  FLEET,
  mockAws,
  type MockAws,
  responseFailure,
  serviceError,
  terminateWarning,
  worldFor,
} from '../../support/mock-aws';

const [HTTP, HTTPS] = FLEET.asgTargetGroups;
const ADMIN = FLEET.indexedGroup;
const ID = FLEET.instanceId;

function throttling(): Error {
  return serviceError(ElasticLoadBalancingV2ServiceException, 'Throttling', 400, 'Rate exceeded');
}

describe('throttling', () => {
  // aws-sdk-client-mock replaces the client's `send`, so the SDK's middleware stack (and its
  // retry strategy) never runs: a mocked rejection is what the responder sees *after* the
  // SDK's retries, never a single attempt (aws-sdk-client-mock issue #205). Throttle-then-
  // success through the real retry strategy is exercised below with a scripted transport.
  it('of a deregistration whose retries are exhausted fails the response, recorded as retryable', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.elbv2.on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN }).rejects(throttling());

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    const written = finishedRecord(aws);
    expect(written).toMatchObject({
      outcome: 'failed',
      status: 'FAILED',
      reason: `deregister ${ADMIN}: Rate exceeded`,
      deregisteredFrom: [HTTP, HTTPS],
      detached: true,
    });
    expect(written.actions).toContainEqual({
      action: 'deregister',
      target: ADMIN,
      targetId: ID,
      port: FLEET.indexedPort,
      result: 'failed',
      latencyMs: 0,
      error: { name: 'Throttling', message: 'Rate exceeded', retryable: true },
    });
    expect(failure.record).toEqual(expect.objectContaining({ outcome: 'failed', eventId: event.id }));
    expect(failure.message).toBe(`response to event ${String(event.id)} failed: deregister ${ADMIN}: Rate exceeded`);
  });

  describe('by the retry strategy of the clients the Lambda builds', () => {
    // Zero jitter: the strategy's own backoff waits are real sleeps.
    beforeEach(() => jest.spyOn(Math, 'random').mockReturnValue(0));
    afterEach(() => jest.restoreAllMocks());

    it('allows maxThrottledAttempts for a throttled call and maxAttempts for a transient one, on every client', async () => {
      // Prepare
      const aws = worldFor(terminateWarning());
      const { ec2, autoScaling, elbv2, dynamoRaw } = aws.clients;

      for (const client of [ec2, autoScaling, elbv2, dynamoRaw]) {
        // Act
        const strategy = await client.config.retryStrategy();
        if (!('refreshRetryTokenForRetry' in strategy)) throw new Error('expected a token-based (v2) retry strategy');
        let throttled = await strategy.acquireInitialRetryToken('throttle-test');
        for (let retry = 1; retry < AWS_CALL_POLICY.maxThrottledAttempts; retry++) {
          throttled = await strategy.refreshRetryTokenForRetry(throttled, { errorType: 'THROTTLING' });
        }
        let transient = await strategy.acquireInitialRetryToken('transient-test');
        for (let retry = 1; retry < AWS_CALL_POLICY.maxAttempts; retry++) {
          transient = await strategy.refreshRetryTokenForRetry(transient, { errorType: 'TRANSIENT' });
        }

        // Assess
        expect(throttled.getRetryCount()).toBe(AWS_CALL_POLICY.maxThrottledAttempts - 1);
        await expect(strategy.refreshRetryTokenForRetry(throttled, { errorType: 'THROTTLING' })).rejects.toThrow();
        expect(transient.getRetryCount()).toBe(AWS_CALL_POLICY.maxAttempts - 1);
        await expect(strategy.refreshRetryTokenForRetry(transient, { errorType: 'TRANSIENT' })).rejects.toThrow();
      }
    });
  });

  describe('through the real SDK retry strategy (scripted ELBv2 transport instead of the mock)', () => {
    beforeEach(() => jest.spyOn(Math, 'random').mockReturnValue(0));
    afterEach(() => jest.restoreAllMocks());

    const THROTTLED_XML =
      '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type>' +
      '<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>req-throttled</RequestId></ErrorResponse>';
    const OK_XML =
      '<DeregisterTargetsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DeregisterTargetsResult/>' +
      '<ResponseMetadata><RequestId>req-ok</RequestId></ResponseMetadata></DeregisterTargetsResponse>';

    /**
     * Un-mocks the ELBv2 client and answers its HTTP requests instead, so the client's own
     * middleware (serialisation, retry strategy, deserialisation) runs. Returns the requests'
     * target group ARNs, one per attempt.
     */
    function scriptElbv2(aws: MockAws, throttledAttempts: (targetGroupArn: string, attempt: number) => boolean): string[] {
      aws.elbv2.restore();
      const attempts: string[] = [];
      const handler = {
        handle: async (request: { body?: unknown }) => {
          const arn = new URLSearchParams(String(request.body)).get('TargetGroupArn') ?? '';
          attempts.push(arn);
          const throttled = throttledAttempts(arn, attempts.filter((a) => a === arn).length);
          return {
            response: {
              statusCode: throttled ? 400 : 200,
              headers: { 'content-type': 'text/xml' },
              body: Buffer.from(throttled ? THROTTLED_XML : OK_XML),
            },
          };
        },
      };
      aws.clients.elbv2.config.requestHandler = handler as unknown as typeof aws.clients.elbv2.config.requestHandler;
      return attempts;
    }

    it('a deregistration throttled once succeeds on its retry and the response is handled', async () => {
      // Prepare
      const event = terminateWarning();
      const aws = worldFor(event);
      const attempts = scriptElbv2(aws, (arn, attempt) => arn === ADMIN && attempt === 1);

      // Act
      const record = await aws.handler()(event);

      // Assess
      expect(attempts.filter((arn) => arn === ADMIN)).toHaveLength(2);
      expect(attempts.filter((arn) => arn !== ADMIN).sort()).toEqual([HTTP, HTTPS]);
      expect(record).toMatchObject({ outcome: 'handled', deregisteredFrom: [ADMIN, HTTP, HTTPS] });
      expect(finishedRecord(aws)).toMatchObject({ outcome: 'handled', status: 'COMPLETED' });
    });

    it('a deregistration throttled on every attempt fails after maxThrottledAttempts, recorded as retryable', async () => {
      // Prepare
      const event = terminateWarning();
      // Pacing off: sixty attempts at ELBv2's 4 per second would take ten seconds of the test.
      const aws = mockAws({ now: eventTimeOf(event) + 5_000, pacing: { 'elbv2-targets': 'off', 'elbv2-describe': 'off', 'ec2-describe': 'off', 'auto-scaling': 'off' } });
      const attempts = scriptElbv2(aws, (arn) => arn === ADMIN);

      // Act
      const failure = await responseFailure(aws.handler()(event));

      // Assess
      expect(attempts.filter((arn) => arn === ADMIN)).toHaveLength(AWS_CALL_POLICY.maxThrottledAttempts);
      expect(failure.record.actions).toContainEqual(
        expect.objectContaining({
          target: ADMIN,
          result: 'failed',
          error: { name: 'Throttling', message: 'Rate exceeded', retryable: true },
        }),
      );
      expect(finishedRecord(aws)).toMatchObject({ outcome: 'failed', status: 'FAILED', deregisteredFrom: [HTTP, HTTPS] });
    });
  });
});

describe('a failed mutation', () => {
  it('AccessDenied on DetachInstances fails the response, recorded, after every deregistration', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const denied = 'User: arn:aws:sts::123456789012:assumed-role/spot-responder/fn is not authorized to perform: autoscaling:DetachInstances';
    aws.autoScaling.on(DetachInstancesCommand).rejects(serviceError(AutoScalingServiceException, 'AccessDenied', 403, denied));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    expect(deregistrationsSent(aws).map((input) => input.TargetGroupArn)).toEqual([ADMIN, HTTP, HTTPS]);
    const written = finishedRecord(aws);
    expect(written).toMatchObject({
      outcome: 'failed',
      status: 'FAILED',
      detached: false,
      deregisteredFrom: [ADMIN, HTTP, HTTPS],
      reason: `detach ${FLEET.groupName}: ${denied}`,
    });
    expect(written.actions).toContainEqual({
      action: 'detach',
      target: FLEET.groupName,
      result: 'failed',
      latencyMs: 0,
      error: { name: 'AccessDenied', message: denied, retryable: false },
    });
    expect(failure).toBeInstanceOf(ResponseFailedError);
  });

  it('of one deregistration fails the response while the detach and the other deregistrations stand', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.elbv2
      .on(DeregisterTargetsCommand, { TargetGroupArn: HTTPS })
      .rejects(serviceError(ElasticLoadBalancingV2ServiceException, 'InternalFailure', 500, 'Internal failure'));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    expect(finishedRecord(aws)).toMatchObject({
      outcome: 'failed',
      status: 'FAILED',
      detached: true,
      targetGroups: [ADMIN, HTTP, HTTPS],
      deregisteredFrom: [ADMIN, HTTP],
    });
    expect(failure.record.reason).toBe(`deregister ${HTTPS}: Internal failure`);
  });

  it('on a target group that no longer exists counts as not registered, and the response is handled', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.elbv2
      .on(DeregisterTargetsCommand, { TargetGroupArn: ADMIN })
      .rejects(new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: { httpStatusCode: 400 } }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', targetGroups: [ADMIN, HTTP, HTTPS], deregisteredFrom: [HTTP, HTTPS] });
    expect(finishedRecord(aws).actions).toContainEqual({
      action: 'deregister',
      target: ADMIN,
      targetId: ID,
      port: FLEET.indexedPort,
      result: 'not-registered',
      latencyMs: 0,
      reason: 'not registered (group or target gone)',
    });
  });

  it('that Auto Scaling refuses because the instance left InService is skipped, not failed', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling
      .on(DetachInstancesCommand)
      .rejects(serviceError(AutoScalingServiceException, 'ValidationError', 400, `The instance ${ID} is not in InService or Standby.`));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: false });
    expect(record.actions).toContainEqual({
      action: 'detach',
      target: FLEET.groupName,
      result: 'skipped',
      latencyMs: 0,
      reason: 'Auto Scaling refused: the instance left InService/Standby in the meantime',
    });
  });
});

describe('a claim that fails for a reason other than a held key', () => {
  it('throws the store\'s error and touches nothing', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const outage = serviceError(DynamoDBServiceException, 'InternalServerError', 500, 'Internal server error');
    aws.dynamo.on(TransactWriteCommand).rejects(outage);

    // Act
    const thrown = await aws.handler()(event).catch((err: unknown) => err);

    // Assess
    expect(thrown).toBe(outage);
    expect(claimsSent(aws)).toHaveLength(1);
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(UpdateCommand);
    expect(aws.dynamo).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('an unexpected exception inside the response', () => {
  it('is recorded as a failed response, releasing the claim, and thrown', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    // A port that breaks its contract: no targets array, so planning the work throws a TypeError.
    const brokenIndex = {
      lookupMany: async (ids: readonly string[]) => new Map(ids.map((id) => [id, { ok: true as const, value: {} as TargetIndexLookup }])),
    };

    // Act
    const failure = await responseFailure(aws.handler({ targetIndex: brokenIndex })(event));

    // Assess
    const written = finishedRecord(aws);
    expect(written).toMatchObject({ outcome: 'failed', status: 'FAILED', actions: [], detached: false });
    expect(written.reason).toMatch(/^TypeError: /);
    expect(finishesSent(aws)[0]?.TransactItems?.[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ':status': 'FAILED' });
    expect(failure.record.reason).toBe(written.reason);
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).toHaveReceivedCommand(DescribeAutoScalingInstancesCommand);
  });
});
