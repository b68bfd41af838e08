// Exactly once per interruption: EventBridge delivers at least once, and the same warning can
// arrive under another event id. Only the delivery that wins the claim touches the fleet.
import 'aws-sdk-client-mock-jest';
import { AutoScalingServiceException, DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { eventWith, type RawEvent } from '../../support/fixtures';
import {
  claimsSent,
  emulateClaimTable,
  eventTimeOf,
  finishesSent,
  FLEET,
  type MockAws,
  responseFailure,
  serviceError,
  TABLE_NAME,
  terminateWarning,
  worldFor,
} from '../../support/mock-aws';

const ID = FLEET.instanceId;

/** Forget what the mocks received so far, keeping their answers. */
function forgetCalls(aws: MockAws): void {
  for (const stub of [aws.ec2, aws.autoScaling, aws.elbv2, aws.dynamo]) stub.resetHistory();
}

describe('a second delivery of a handled event', () => {
  function completedClaim(event: RawEvent) {
    const eventId = String(event.id);
    return new TransactionCanceledException({
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, ConditionalCheckFailed]',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: [
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: `EVENT#${eventId}` }, eventId: { S: eventId }, status: { S: 'COMPLETED' } } },
        { Code: 'ConditionalCheckFailed', Item: { pk: { S: `WARNING#${ID}#${String(event.time)}` }, owner: { S: eventId }, status: { S: 'COMPLETED' } } },
      ],
    });
  }

  async function deliverTwice(event: RawEvent) {
    const aws = worldFor(event);
    const handler = aws.handler();
    await handler(event);
    forgetCalls(aws);
    aws.dynamo.on(TransactWriteCommand).rejects(completedClaim(event));
    aws.clock.advance(2_000);
    const second = await handler(event);
    return { aws, second };
  }

  it('is a duplicate of the first', async () => {
    // Prepare
    const event = terminateWarning();

    // Act
    const { second } = await deliverTwice(event);

    // Assess
    expect(second).toMatchObject({
      outcome: 'duplicate',
      duplicateOf: event.id,
      reason: `already handled as event ${String(event.id)}`,
    });
  });

  it('touches nothing in the fleet and writes no record of its own', async () => {
    // Prepare
    const event = terminateWarning();

    // Act
    const { aws } = await deliverTwice(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(claimsSent(aws)).toHaveLength(1);
    expect(finishesSent(aws)).toHaveLength(0);
  });

  it('notes the repeated delivery on the original record', async () => {
    // Prepare
    const event = terminateWarning();

    // Act
    const { aws } = await deliverTwice(event);

    // Assess
    expect(aws.dynamo).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE_NAME,
      Key: { pk: `EVENT#${String(event.id)}` },
      UpdateExpression: 'ADD deliveries :one, duplicateEventIds :duplicate SET lastDuplicateAt = :at',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: {
        ':one': 1,
        ':duplicate': new Set([String(event.id)]),
        ':at': new Date(eventTimeOf(event) + 7_000).toISOString(),
      },
    });
  });
});

describe('two deliveries of one event at the same time', () => {
  it('mutate the fleet exactly once: one is handled, the other is a duplicate of it', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const table = emulateClaimTable(aws);
    const handler = aws.handler();

    // Act
    const records = await Promise.all([handler(event), handler(structuredClone(event))]);

    // Assess
    expect(records.map((r) => r.outcome).sort()).toEqual(['duplicate', 'handled']);
    expect(records.find((r) => r.outcome === 'duplicate')).toMatchObject({
      duplicateOf: event.id,
      reason: `already being handled as event ${String(event.id)}`,
    });
    expect(aws.elbv2).toHaveReceivedCommandTimes(DeregisterTargetsCommand, 3);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(claimsSent(aws)).toHaveLength(2);
    expect(finishesSent(aws)).toHaveLength(1);
    expect(table.get(`EVENT#${String(event.id)}`)).toMatchObject({ status: 'COMPLETED', outcome: 'handled' });
  });
});

describe('the same warning under another event id', () => {
  it('is a duplicate of the event that handled it, held by the WARNING key', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    emulateClaimTable(aws);
    const handler = aws.handler();
    await handler(event);
    forgetCalls(aws);
    const sameWarning = eventWith(event, { id: 'f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f' });

    // Act
    const record = await handler(sameWarning);

    // Assess
    expect(record).toMatchObject({
      eventId: 'f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f',
      outcome: 'duplicate',
      duplicateOf: event.id,
      reason: `already handled as event ${String(event.id)}`,
    });
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.dynamo).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { pk: `EVENT#${String(event.id)}` },
      ExpressionAttributeValues: expect.objectContaining({ ':duplicate': new Set(['f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f']) }),
    });
  });
});

describe('a redelivery after a failed response', () => {
  it('claims the event again and repeats the work, since a FAILED claim is free', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    const table = emulateClaimTable(aws);
    const handler = aws.handler();
    aws.autoScaling
      .on(DetachInstancesCommand)
      .rejects(serviceError(AutoScalingServiceException, 'InternalFailure', 500, 'Internal failure'));
    await responseFailure(handler(event));
    expect(table.get(`EVENT#${String(event.id)}`)).toMatchObject({ status: 'FAILED' });
    aws.autoScaling.on(DetachInstancesCommand).resolves({ Activities: [] });
    forgetCalls(aws);

    // Act
    const record = await handler(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: true });
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(aws.elbv2).toHaveReceivedCommandTimes(DeregisterTargetsCommand, 3);
    expect(table.get(`EVENT#${String(event.id)}`)).toMatchObject({ status: 'COMPLETED' });
    expect(table.get(`WARNING#${ID}#${String(event.time)}`)).toMatchObject({ status: 'COMPLETED' });
  });
});
