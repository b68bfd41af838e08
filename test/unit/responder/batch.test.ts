// A batch of warnings answered together (respondBatch, and the handler's SQS entry): each event
// keeps its own claim, plan and record; the AWS calls are merged and chunked; a failed merged
// call fails exactly the events it carried.
import { DescribeAutoScalingInstancesCommand, DetachInstancesCommand, type DetachInstancesCommandInput } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand, ElasticLoadBalancingV2ServiceException } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AutoScalingServiceException } from '@aws-sdk/client-auto-scaling';
import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { respondBatch } from '../../../lambda/responder';
import {
  FLEET,
  answerForEveryInstance,
  claimedEventIds,
  claimsSent,
  emulateClaimTable,
  serviceError,
  warningFor,
  worldFor,
} from '../../support/mock-aws';
import type { RawEvent } from '../../support/fixtures';

const [HTTP, HTTPS] = FLEET.asgTargetGroups;

const instanceOf = (event: RawEvent) => (event.detail as Record<string, string>)['instance-id'] as string;

describe('a batch of warnings for instances of one group', () => {
  it('makes one call per API and per target group, each carrying every instance, and records every event', async () => {
    // Prepare
    const events = [0, 1, 2].map(warningFor);
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);
    const ids = events.map(instanceOf);

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expect(records.map((r) => [r.eventId, r.outcome, r.detached])).toEqual(events.map((e) => [e.id, 'handled', true]));
    expect(aws.ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ids }]);
    expect(aws.autoScaling.commandCalls(DescribeAutoScalingInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ids }]);
    expect(aws.dynamo.commandCalls(BatchGetCommand)).toHaveLength(1);
    const deregistrations = aws.elbv2.commandCalls(DeregisterTargetsCommand).map((c) => c.args[0].input);
    expect(deregistrations).toContainEqual({ TargetGroupArn: HTTP, Targets: ids.map((Id) => ({ Id })) });
    expect(deregistrations).toContainEqual({ TargetGroupArn: HTTPS, Targets: ids.map((Id) => ({ Id })) });
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { AutoScalingGroupName: FLEET.groupName, InstanceIds: ids, ShouldDecrementDesiredCapacity: false },
    ]);
    // Each event its own claim (the three in one transaction) and its own record.
    expect(claimsSent(aws)).toHaveLength(1);
    expect(claimedEventIds(aws)).toEqual(records.map((r) => r.eventId));
    for (const r of records) expect(r.deregisteredFrom).toEqual(expect.arrayContaining([HTTP, HTTPS]));
  });

  it('chunks DetachInstances by 20 and DescribeAutoScalingInstances by 50', async () => {
    // Prepare
    const events = Array.from({ length: 55 }, (_, n) => warningFor(n));
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expect(records.every((r) => r.outcome === 'handled')).toBe(true);
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand).map((c) => c.args[0].input.InstanceIds?.length)).toEqual([20, 20, 15]);
    expect(aws.autoScaling.commandCalls(DescribeAutoScalingInstancesCommand).map((c) => c.args[0].input.InstanceIds?.length)).toEqual([50, 5]);
    expect(aws.elbv2.commandCalls(DeregisterTargetsCommand).map((c) => c.args[0].input.Targets?.length).sort()).toEqual([1, 55, 55]); // ADMIN: only instance 0 is indexed there
    expect(aws.dynamo.commandCalls(BatchGetCommand)).toHaveLength(1);
  });
});

describe('a failed merged call', () => {
  it('fails every event it carried, naming the merged call, and only those', async () => {
    // Prepare: the index puts only instance 0 in ADMIN; that target group's call fails
    const events = [0, 1, 2].map(warningFor);
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);
    aws.elbv2
      .on(DeregisterTargetsCommand, { TargetGroupArn: FLEET.indexedGroup })
      .rejects(serviceError(ElasticLoadBalancingV2ServiceException, 'AccessDenied', 403, 'not allowed'));

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expect(records.map((r) => r.outcome)).toEqual(['failed', 'handled', 'handled']);
    expect(records[0]?.actions).toContainEqual(
      expect.objectContaining({ action: 'deregister', target: FLEET.indexedGroup, result: 'failed', error: expect.objectContaining({ name: 'AccessDenied' }) }),
    );
  });

  it('of DetachInstances fails each event of that call, with a reason naming the merged call', async () => {
    // Prepare
    const events = [0, 1].map(warningFor);
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);
    aws.autoScaling.on(DetachInstancesCommand).rejects(serviceError(AutoScalingServiceException, 'AccessDenied', 403, 'not allowed'));

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    for (const record of records) {
      expect(record.outcome).toBe('failed');
      expect(record.actions).toContainEqual(
        expect.objectContaining({ action: 'detach', result: 'failed', reason: 'the merged DetachInstances call carrying 2 events failed' }),
      );
      expect(record.deregisteredFrom).toEqual(expect.arrayContaining([HTTP, HTTPS]));
    }
  });

  it('of DetachInstances refused for one instance that left InService is split: the others are still detached', async () => {
    // Prepare
    const events = [0, 1, 2].map(warningFor);
    const ids = events.map(instanceOf);
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);
    const refusal = () => serviceError(AutoScalingServiceException, 'ValidationError', 400, `The instance ${ids[1]} is not in InService or Standby.`);
    aws.autoScaling.on(DetachInstancesCommand).callsFake((input: DetachInstancesCommandInput) => {
      if ((input.InstanceIds ?? []).includes(ids[1] as string)) throw refusal();
      return { Activities: [] };
    });

    // Act
    const records = await respondBatch(events, aws.deps());

    // Assess
    expect(records.map((r) => [r.outcome, r.detached])).toEqual([
      ['handled', true],
      ['handled', false],
      ['handled', true],
    ]);
    expect(records[1]?.actions).toContainEqual(expect.objectContaining({ action: 'detach', result: 'skipped' }));
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([
      ids,
      [ids[0]],
      [ids[1]],
      [ids[2]],
    ]);
  });
});

describe('duplicates inside one batch', () => {
  it('the same event twice: the second meets the first one\'s claim and is its duplicate; nothing is done twice', async () => {
    // Prepare
    const event = warningFor(0);
    const aws = worldFor(event);
    emulateClaimTable(aws);

    // Act
    const records = await respondBatch([event, { ...event }], aws.deps());

    // Assess
    expect(records.map((r) => r.outcome)).toEqual(['handled', 'duplicate']);
    expect(records[1]?.duplicateOf).toBe(event.id);
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand)).toHaveLength(1);
  });

  it('two warnings for one instance: only the first acts', async () => {
    // Prepare
    const first = warningFor(0);
    const second = { ...warningFor(0), id: '11111111-2222-4333-8444-555555555555' };
    const aws = worldFor(first);
    emulateClaimTable(aws);

    // Act
    const records = await respondBatch([first, second], aws.deps());

    // Assess
    expect(records.map((r) => r.outcome)).toEqual(['handled', 'duplicate']);
    expect(records[1]?.duplicateOf).toBe(first.id);
    expect(aws.autoScaling.commandCalls(DetachInstancesCommand)).toHaveLength(1);
  });
});

describe('the handler given an SQS batch', () => {
  function sqsEvent(bodies: string[]): SQSEvent {
    return {
      Records: bodies.map((body, i) => ({
        messageId: `m-${i}`,
        receiptHandle: `r-${i}`,
        body,
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'events', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:spot-responder',
        awsRegion: 'us-east-1',
      })),
    };
  }

  it('reports exactly the failed records for retry; a body that is not JSON is recorded as rejected, not retried', async () => {
    // Prepare: the claim of event 1 is refused by DynamoDB outright (the store fails)
    const events = [0, 1, 2].map(warningFor);
    const aws = worldFor(events[0] as RawEvent);
    answerForEveryInstance(aws);
    aws.elbv2
      .on(DeregisterTargetsCommand, { TargetGroupArn: FLEET.indexedGroup })
      .rejects(serviceError(ElasticLoadBalancingV2ServiceException, 'AccessDenied', 403, 'not allowed'));

    // Act
    const response = await aws.handler()(sqsEvent([...events.map((e) => JSON.stringify(e)), '{not json']));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }] });
    expect(aws.dynamo.commandCalls(TransactWriteCommand).length).toBeGreaterThan(0);
  });

  it('still answers a direct EventBridge event with its record', async () => {
    const event = warningFor(0);
    const aws = worldFor(event);
    const record = await aws.handler()(event);
    expect(record).toMatchObject({ eventId: event.id, outcome: 'handled' });
  });
});
