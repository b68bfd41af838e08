// The throttle counter sits inside the SDK's retry loop, so it must run with the real middleware
// stack: aws-sdk-client-mock replaces `send` and would skip it. The clients here get a request
// handler that answers like DynamoDB does when it throttles (HTTP 400, ThrottlingException).
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HttpResponse } from '@smithy/core/transport';
import { ConfiguredRetryStrategy } from '@smithy/util-retry';
import { Readable } from 'node:stream';
import { countThrottles } from '../../../lambda/aws/throttles';

function answering(replies: Array<{ status: number; type?: string }>) {
  let call = 0;
  return {
    calls: () => call,
    handle: async () => {
      const reply = replies[Math.min(call, replies.length - 1)]!;
      call++;
      const body = reply.type ? { __type: `com.amazonaws.dynamodb.v20120810#${reply.type}`, message: 'Rate exceeded' } : { Item: {} };
      return {
        response: new HttpResponse({
          statusCode: reply.status,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from(JSON.stringify(body))]),
        }),
      };
    },
  };
}

function client(handler: ReturnType<typeof answering>, attempts = 3): DynamoDBClient {
  return new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    retryStrategy: new ConfiguredRetryStrategy(attempts, () => 0),
    requestHandler: handler,
  });
}

const get = new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } });

describe('countThrottles', () => {
  it('counts every throttled attempt, retried ones included, when the call then succeeds', async () => {
    // Prepare
    const handler = answering([{ status: 400, type: 'ThrottlingException' }, { status: 400, type: 'ThrottlingException' }, { status: 200 }]);
    const dynamo = client(handler);
    const counter = countThrottles({ DynamoDB: dynamo });

    // Act
    await dynamo.send(get);

    // Assess
    expect(handler.calls()).toBe(3);
    expect(counter.take()).toEqual(new Map([['DynamoDB', 2]]));
    expect(counter.take()).toEqual(new Map());
  });

  it('counts the attempts of a call that stays throttled, and the error still reaches the caller', async () => {
    // Prepare
    const handler = answering([{ status: 400, type: 'ProvisionedThroughputExceededException' }]);
    const dynamo = client(handler, 4);
    const counter = countThrottles({ DynamoDB: dynamo });

    // Act
    const error = await dynamo.send(get).catch((err: Error) => err);

    // Assess
    expect(error).toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    expect(counter.take().get('DynamoDB')).toBe(4);
  });

  it('does not count other errors', async () => {
    // Prepare
    const handler = answering([{ status: 500, type: 'InternalServerError' }, { status: 400, type: 'ResourceNotFoundException' }]);
    const dynamo = client(handler);
    const counter = countThrottles({ DynamoDB: dynamo });

    // Act
    await dynamo.send(get).catch(() => undefined);

    // Assess
    expect(handler.calls()).toBe(2);
    expect(counter.take()).toEqual(new Map());
  });
});
