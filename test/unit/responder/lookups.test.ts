// What the responder does with what the reads tell it: an instance EC2 does not know, one
// already gone, and reads that fail or come back thin.
import 'aws-sdk-client-mock-jest';
import {
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DetachInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2ServiceException } from '@aws-sdk/client-ec2';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ResponseFailedError } from '../../../lambda/responder';
import { type RawEvent } from '../../support/fixtures';
import {
  deregistrationsSent,
  finishedRecord,
  FLEET,
  indexedInstance,
  indexedIp,
  indexReply,
  instanceReply,
  responseFailure,
  serviceError,
  targetGroupArn,
  terminateWarning,
  worldFor,
} from '../../support/mock-aws';

const [HTTP, HTTPS] = FLEET.asgTargetGroups;
const ADMIN = FLEET.indexedGroup;
const ID = FLEET.instanceId;

describe('an instance EC2 has nothing to act on', () => {
  it('is skipped without any mutation when EC2 does not know it', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.ec2
      .on(DescribeInstancesCommand)
      .rejects(serviceError(EC2ServiceException, 'InvalidInstanceID.NotFound', 400, `The instance ID '${ID}' does not exist`));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DescribeAutoScalingGroupsCommand);
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'EC2 does not know this instance', actions: [] });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', status: 'COMPLETED', detached: false, deregisteredFrom: [] });
  });

  it('is skipped without any mutation when EC2 returns no reservation for it', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'EC2 does not know this instance' });
  });

  it('is skipped without any mutation when the instance is already terminated', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ state: 'terminated' }));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(record).toMatchObject({ outcome: 'skipped', reason: 'instance is already terminated' });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', status: 'COMPLETED' });
  });
});

describe('when DescribeInstances fails', () => {
  const IP_GROUP = targetGroupArn('grpc-ip');

  function withFailingEc2(event: RawEvent) {
    const aws = worldFor(event);
    aws.ec2
      .on(DescribeInstancesCommand)
      .rejects(serviceError(EC2ServiceException, 'InternalError', 500, 'An internal error has occurred'));
    aws.dynamo
      .on(BatchGetCommand)
      .resolves(indexReply([indexedInstance(ADMIN, FLEET.indexedPort), indexedIp(IP_GROUP, FLEET.secondaryIp, 50051)]));
    return aws;
  }

  it('still deregisters the instance-id targets and detaches', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = withFailingEc2(event);

    // Act
    await responseFailure(aws.handler()(event));

    // Assess
    expect(deregistrationsSent(aws)).toEqual([
      { TargetGroupArn: ADMIN, Targets: [{ Id: ID, Port: FLEET.indexedPort }] },
      { TargetGroupArn: HTTP, Targets: [{ Id: ID }] },
      { TargetGroupArn: HTTPS, Targets: [{ Id: ID }] },
    ]);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
  });

  it('leaves IP targets alone, since their IPs cannot be verified', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = withFailingEc2(event);

    // Act
    await responseFailure(aws.handler()(event));

    // Assess
    expect(aws.elbv2).not.toHaveReceivedCommandWith(DeregisterTargetsCommand, { TargetGroupArn: IP_GROUP });
  });

  it('records the failed lookup and a note, and fails the response so it is retried', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = withFailingEc2(event);

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    const written = finishedRecord(aws);
    expect(written).toMatchObject({
      outcome: 'failed',
      status: 'FAILED',
      reason: 'lookup DescribeInstances: An internal error has occurred',
      notes: ['DescribeInstances failed; IP targets were not verified and were left alone'],
      detached: true,
      deregisteredFrom: [ADMIN, HTTP, HTTPS],
    });
    expect(written.actions).toContainEqual({
      action: 'lookup',
      target: 'DescribeInstances',
      result: 'failed',
      latencyMs: 0,
      error: { name: 'InternalError', message: 'An internal error has occurred', retryable: true },
    });
    expect(failure.record.outcome).toBe('failed');
  });
});

describe('the target index', () => {
  it('that never completed a refresh leaves a note, and the ASG\'s groups are still covered', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.dynamo.on(BatchGetCommand).resolves(indexReply([], null));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(deregistrationsSent(aws)).toEqual([
      { TargetGroupArn: HTTP, Targets: [{ Id: ID }] },
      { TargetGroupArn: HTTPS, Targets: [{ Id: ID }] },
    ]);
    expect(finishedRecord(aws)).toMatchObject({
      outcome: 'handled',
      indexRefreshedAt: null,
      notes: ['target index has not completed a refresh yet; registrations outside the Auto Scaling group it has not seen may have been missed'],
    });
    expect(record.outcome).toBe('handled');
  });

  it('that cannot be read leaves a note, covers the ASG\'s groups and fails the response', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.dynamo.on(BatchGetCommand).rejects(
      Object.assign(new Error('Throughput exceeds the current capacity of your table or index'), {
        name: 'ProvisionedThroughputExceededException',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    expect(deregistrationsSent(aws).map((input) => input.TargetGroupArn)).toEqual([HTTP, HTTPS]);
    expect(failure.record).toMatchObject({
      outcome: 'failed',
      notes: ['target index lookup failed; only the Auto Scaling group\'s own target groups were covered'],
    });
    expect(failure.record.actions).toContainEqual(
      expect.objectContaining({ action: 'lookup', target: 'TargetIndex', result: 'failed', error: expect.objectContaining({ retryable: true }) }),
    );
  });
});

describe('when Auto Scaling cannot be read', () => {
  it('deregisters what the index knows, does not detach, and fails the response', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling
      .on(DescribeAutoScalingInstancesCommand)
      .rejects(serviceError(AutoScalingServiceException, 'Throttling', 400, 'Rate exceeded'));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess
    expect(deregistrationsSent(aws)).toEqual([{ TargetGroupArn: ADMIN, Targets: [{ Id: ID, Port: FLEET.indexedPort }] }]);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(failure).toBeInstanceOf(ResponseFailedError);
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'failed', status: 'FAILED', autoScalingGroup: null });
    expect(failure.record.actions).toContainEqual({
      action: 'detach',
      target: '-',
      result: 'skipped',
      latencyMs: 0,
      reason: 'Auto Scaling membership unknown (lookup failed)',
    });
  });

  it("does nothing and fails when the group cannot be described: its opt-out tag is unknown", async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .rejects(serviceError(AutoScalingServiceException, 'InternalFailure', 500, 'Internal failure'));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess: no mutation at all; the failed claim lets Lambda's retry decide
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(deregistrationsSent(aws)).toEqual([]);
    expect(failure.record).toMatchObject({
      outcome: 'failed',
      detached: false,
      reason: 'lookup DescribeAutoScalingGroups: Internal failure',
      notes: ["the group's spot-responder tag could not be read; nothing was done"],
    });
    expect(aws.dynamo).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it("still acts when the group cannot be described but the instance's own tag decides", async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: { 'spot-responder': 'on' } }));
    aws.autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .rejects(serviceError(AutoScalingServiceException, 'InternalFailure', 500, 'Internal failure'));

    // Act
    const failure = await responseFailure(aws.handler()(event));

    // Assess: detached and drained from the indexed group; the ASG's own groups are unknown
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(deregistrationsSent(aws).map((input) => input.TargetGroupArn)).toEqual([ADMIN]);
    expect(failure.record).toMatchObject({ outcome: 'failed', detached: true });
  });

});
