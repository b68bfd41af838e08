import 'aws-sdk-client-mock-jest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { AWS_CALL_POLICY, ThrottleRetryStrategy, createAwsClients, errorInfo, fullJitterDelay } from '../../../lambda/aws/clients';

describe('AWS_CALL_POLICY', () => {
  it('keeps the worst-case retry waits within two seconds', () => {
    // Prepare
    const alwaysMax = () => 0.999999;

    // Act
    const waits = Array.from({ length: AWS_CALL_POLICY.maxAttempts - 1 }, (_, i) => fullJitterDelay(i + 1, alwaysMax));

    // Assess
    expect(waits).toEqual([99, 199, 399, 799]);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThan(2_000);
  });

  it('caps a single wait at maxDelayMs however many attempts', () => {
    expect(fullJitterDelay(20, () => 0.999999)).toBeLessThan(AWS_CALL_POLICY.maxDelayMs);
    expect(fullJitterDelay(3, () => 0)).toBe(0);
  });
});

describe('createAwsClients', () => {
  it('builds every client with the explicit retry strategy, region and endpoint', async () => {
    // Act
    const clients = createAwsClients({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:5000',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });

    // Assess
    for (const client of [clients.ec2, clients.autoScaling, clients.elbv2, clients.dynamoRaw]) {
      const strategy = await client.config.retryStrategy();
      expect(strategy).toBeInstanceOf(ThrottleRetryStrategy);
      expect(await client.config.region()).toBe('eu-west-1');
      expect((await client.config.endpoint?.())?.hostname).toBe('127.0.0.1');
    }
    expect(clients.dynamo.config.translateConfig?.marshallOptions?.removeUndefinedValues).toBe(true);
  });

  describe('against a server that always answers 500', () => {
    let server: Server;
    let requests = 0;

    beforeAll(async () => {
      server = createServer((req, res) => {
        requests++;
        req.resume();
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'boom' }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('makes exactly maxAttempts attempts, then surfaces a retryable error', async () => {
      // Prepare
      const { port } = server.address() as AddressInfo;
      const { dynamoRaw } = createAwsClients({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      requests = 0;

      // Act
      const error = await dynamoRaw.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } })).catch((e) => e);

      // Assess
      expect(requests).toBe(AWS_CALL_POLICY.maxAttempts);
      expect(errorInfo(error)).toEqual({ name: 'InternalServerError', message: 'boom', retryable: true });
      dynamoRaw.destroy();
    });
  });
});

describe('ThrottleRetryStrategy against a server that throttles', () => {
  let server: Server;
  let requests = 0;
  /** Requests answered with DynamoDB's throttling error before the server starts to answer. */
  let throttleFirst = Infinity;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      req.resume();
      const throttled = requests <= throttleFirst;
      res.writeHead(throttled ? 400 : 200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(throttled ? { __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate exceeded' } : {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A client with the strategy, its backoff waits replaced by `wait`. */
  function client(wait: (ms: number) => Promise<void> = async () => undefined) {
    const { port } = server.address() as AddressInfo;
    return new DynamoDBClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      retryStrategy: new ThrottleRetryStrategy(() => 0.5, wait),
    });
  }
  const get = (c: DynamoDBClient, abortSignal?: AbortSignal) =>
    c.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } }), abortSignal ? { abortSignal } : {});

  it('keeps retrying a throttled call past the ordinary attempts until the bucket lets it through', async () => {
    // Prepare
    requests = 0;
    throttleFirst = AWS_CALL_POLICY.maxAttempts + 3;
    const c = client();

    // Act
    const out = await get(c);

    // Assess
    expect(out.$metadata.attempts).toBe(AWS_CALL_POLICY.maxAttempts + 4);
    expect(requests).toBe(AWS_CALL_POLICY.maxAttempts + 4);
    c.destroy();
  });

  it('gives up after maxThrottledAttempts, surfacing the throttle', async () => {
    // Prepare
    requests = 0;
    throttleFirst = Infinity;
    const c = client();

    // Act
    const error = await get(c).catch((e: unknown) => e);

    // Assess
    expect(requests).toBe(AWS_CALL_POLICY.maxThrottledAttempts);
    expect(errorInfo(error)).toEqual({ name: 'ThrottlingException', message: 'Rate exceeded', retryable: true });
    c.destroy();
  });

  it('stops at the deadline: the abort signal ends the waiting between throttled attempts', async () => {
    // Prepare: each backoff wait takes 40 ms; the deadline comes after 100 ms
    requests = 0;
    throttleFirst = Infinity;
    const c = client(() => new Promise((resolve) => setTimeout(resolve, 40)));

    // Act
    const error = await get(c, AbortSignal.timeout(100)).catch((e: unknown) => e);

    // Assess
    expect((error as Error).name).toMatch(/Abort|Timeout/);
    expect(requests).toBeLessThan(10);
    c.destroy();
  });
});

describe('errorInfo', () => {
  const sdkError = (name: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: {} }, extra);

  it.each([
    ['ThrottlingException', {}],
    ['Throttling', {}],
    ['RequestLimitExceeded', {}],
    ['ProvisionedThroughputExceededException', {}],
    ['TransactionConflictException', {}],
    ['BandwidthLimitExceeded', {}],
    ['TimeoutError', {}],
    ['InternalFailure', { $metadata: { httpStatusCode: 500 } }],
    ['ServiceUnavailable', { $metadata: { httpStatusCode: 503 } }],
    ['TooManyRequests', { $metadata: { httpStatusCode: 429 } }],
    ['Anything', { $retryable: {} }],
    ['Error', { code: 'ECONNRESET' }],
  ])('%s is retryable', (name, extra) => {
    expect(errorInfo(sdkError(name, extra))).toEqual({ name, message: `${name} happened`, retryable: true });
  });

  it.each([
    ['ValidationError', { $metadata: { httpStatusCode: 400 } }],
    ['AccessDenied', { $metadata: { httpStatusCode: 403 } }],
    ['InvalidInstanceID.NotFound', {}],
    ['AbortError', { $retryable: {} }],
  ])('%s is not retryable', (name, extra) => {
    expect(errorInfo(sdkError(name, extra)).retryable).toBe(false);
  });

  it('treats a transaction cancelled only by conflicts as retryable, by a failed condition as not', () => {
    // Prepare
    const cancelled = (...codes: string[]) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: codes.map((Code) => ({ Code })),
      });

    // Act / Assess
    expect(errorInfo(cancelled('None', 'TransactionConflict')).retryable).toBe(true);
    expect(errorInfo(cancelled('ThrottlingError', 'None')).retryable).toBe(true);
    expect(errorInfo(cancelled('ConditionalCheckFailed', 'TransactionConflict')).retryable).toBe(false);
    expect(errorInfo(cancelled('ValidationError')).retryable).toBe(false);
  });

  it('describes values that are not errors', () => {
    expect(errorInfo('plain string')).toEqual({ name: 'UnknownError', message: 'plain string', retryable: false });
    expect(errorInfo(undefined)).toEqual({ name: 'UnknownError', message: 'undefined', retryable: false });
  });
});
