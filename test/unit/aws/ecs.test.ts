import 'aws-sdk-client-mock-jest';
import {
  ClusterNotFoundException,
  DescribeContainerInstancesCommand,
  ECSClient,
  ECSServiceException,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
  type ContainerInstance,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { first, only } from '../../support/items';
import { EcsAdapter, EcsDrainError } from '../../../lambda/aws/ecs';
import type { ContainerInstanceRef } from '../../../lambda/core/model';

const ecsMock = mockClient(ECSClient);
const INSTANCE_ID = 'i-0123456789abcdef0';
const OTHER_INSTANCE_ID = 'i-0fedcba9876543210';
const CLUSTERS = ['web', 'batch'];
const FILTER = `ec2InstanceId == ${INSTANCE_ID}`;
const ciArn = (cluster: string, id: string) => `arn:aws:ecs:eu-west-1:111122223333:container-instance/${cluster}/${id}`;
const CI_BATCH = ciArn('batch', '6f1c9b7aead34a2cae8935440dedfabf');
const CI_BATCH_OTHER = ciArn('batch', '0d3e2f1a9b8c4d5e6f7a8b9c0d1e2f3a');

function containerInstance(arn: string, ec2InstanceId: string, status = 'ACTIVE'): ContainerInstance {
  return { containerInstanceArn: arn, ec2InstanceId, status, agentConnected: true, runningTasksCount: 3 };
}

function ecsError(name: string, message: string, httpStatusCode = 400): ECSServiceException {
  return new ECSServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', message, $metadata: { httpStatusCode } });
}

const clusterNotFound = () =>
  new ClusterNotFoundException({ message: 'Cluster not found.', $metadata: { httpStatusCode: 400 } });

describe('EcsAdapter', () => {
  beforeEach(() => ecsMock.reset());

  describe('findContainerInstance', () => {
    it('finds the container instance in the second cluster, asking each cluster with the ec2InstanceId filter', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'web' }).resolves({ containerInstanceArns: [] });
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'batch' }).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock
        .on(DescribeContainerInstancesCommand)
        .resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID)], failures: [] });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act
      const found = await only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(found).toEqual({ cluster: 'batch', containerInstanceArn: CI_BATCH, status: 'ACTIVE' });
      expect(ecsMock).toHaveReceivedCommandWith(ListContainerInstancesCommand, { cluster: 'web', filter: FILTER });
      expect(ecsMock).toHaveReceivedCommandWith(ListContainerInstancesCommand, { cluster: 'batch', filter: FILTER });
      expect(ecsMock.commandCalls(ListContainerInstancesCommand)[0]?.args[0].input).not.toHaveProperty('status');
      // Describe only where List found something, and only on what it found.
      expect(ecsMock.commandCalls(DescribeContainerInstancesCommand).map((c) => c.args[0].input)).toEqual([
        { cluster: 'batch', containerInstances: [CI_BATCH] },
      ]);
    });

    it('returns a container instance that is already DRAINING with its status', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock
        .on(DescribeContainerInstancesCommand)
        .resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID, 'DRAINING')] });
      const adapter = new EcsAdapter(new ECSClient({}), ['batch']);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toEqual({
        cluster: 'batch',
        containerInstanceArn: CI_BATCH,
        status: 'DRAINING',
      });
    });

    it('returns null when no cluster holds the instance, without any Describe', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [] });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act
      const found = await only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(found).toBeNull();
      expect(ecsMock).toHaveReceivedCommandTimes(ListContainerInstancesCommand, 2);
      expect(ecsMock).not.toHaveReceivedCommand(DescribeContainerInstancesCommand);
    });

    it('makes no call when no cluster is configured', async () => {
      // Prepare
      const adapter = new EcsAdapter(new ECSClient({}), []);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
      expect(ecsMock.calls()).toHaveLength(0);
    });

    it('asks a cluster configured twice once', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [] });
      const adapter = new EcsAdapter(new ECSClient({}), ['web', 'web']);

      // Act
      await only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(ecsMock).toHaveReceivedCommandTimes(ListContainerInstancesCommand, 1);
    });

    it('keeps only the instance that really matches when the server ignores the filter', async () => {
      // Prepare: moto lists every container instance of the cluster, whatever the filter says.
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH_OTHER, CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).resolves({
        containerInstances: [containerInstance(CI_BATCH_OTHER, OTHER_INSTANCE_ID), containerInstance(CI_BATCH, INSTANCE_ID)],
      });
      const adapter = new EcsAdapter(new ECSClient({}), ['batch']);

      // Act
      const found = await only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID);

      // Assess
      expect(found).toEqual({ cluster: 'batch', containerInstanceArn: CI_BATCH, status: 'ACTIVE' });
      expect(ecsMock).toHaveReceivedCommandTimes(DescribeContainerInstancesCommand, 1);
      expect(ecsMock).toHaveReceivedCommandWith(DescribeContainerInstancesCommand, {
        cluster: 'batch',
        containerInstances: [CI_BATCH_OTHER, CI_BATCH],
      });
    });

    it('returns null when the listed instances all belong to other EC2 instances', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH_OTHER] });
      ecsMock
        .on(DescribeContainerInstancesCommand)
        .resolves({ containerInstances: [containerInstance(CI_BATCH_OTHER, OTHER_INSTANCE_ID)] });
      const adapter = new EcsAdapter(new ECSClient({}), ['batch']);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
    });

    it('returns null when the instance was deregistered between List and Describe', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock
        .on(DescribeContainerInstancesCommand)
        .resolves({ containerInstances: [], failures: [{ arn: CI_BATCH, reason: 'MISSING' }] });
      const adapter = new EcsAdapter(new ECSClient({}), ['batch']);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
    });

    it('skips a configured cluster that does not exist', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'web' }).rejects(clusterNotFound());
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'batch' }).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID)] });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toEqual({
        cluster: 'batch',
        containerInstanceArn: CI_BATCH,
        status: 'ACTIVE',
      });
    });

    it('returns null when the only cluster disappears between List and Describe', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).rejects(clusterNotFound());
      const adapter = new EcsAdapter(new ECSClient({}), ['batch']);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
    });

    it('rethrows any other error when no cluster found the instance', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'web' }).resolves({ containerInstanceArns: [] });
      ecsMock
        .on(ListContainerInstancesCommand, { cluster: 'batch' })
        .rejects(ecsError('AccessDeniedException', 'not authorized to perform: ecs:ListContainerInstances'));
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    });

    it('rethrows an error from Describe', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).rejects(ecsError('ServerException', 'internal error', 500));
      const adapter = new EcsAdapter(new ECSClient({ maxAttempts: 1 }), ['batch']);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).rejects.toMatchObject({ name: 'ServerException' });
    });

    it('returns the match even when another cluster failed: an instance is in one cluster at most', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'web' }).rejects(ecsError('ServerException', 'internal error', 500));
      ecsMock.on(ListContainerInstancesCommand, { cluster: 'batch' }).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID)] });
      const adapter = new EcsAdapter(new ECSClient({ maxAttempts: 1 }), CLUSTERS);

      // Act / Assess
      await expect(only(adapter.findContainerInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toMatchObject({ cluster: 'batch' });
    });

    it('passes the abort signal to every call', async () => {
      // Prepare
      ecsMock.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [CI_BATCH] });
      ecsMock.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID)] });
      const client = new ECSClient({});
      const send = jest.spyOn(client, 'send');
      const abortSignal = new AbortController().signal;
      const adapter = new EcsAdapter(client, ['batch']);

      // Act
      await only(adapter.findContainerInstances([INSTANCE_ID], { abortSignal }), INSTANCE_ID);

      // Assess
      expect(send).toHaveBeenCalledTimes(2);
      for (const call of send.mock.calls) expect(call[1]).toEqual({ abortSignal });
    });
  });

  describe('drain', () => {
    const ref: ContainerInstanceRef = { cluster: 'batch', containerInstanceArn: CI_BATCH, status: 'ACTIVE' };

    it('sets the container instance to DRAINING', async () => {
      // Prepare
      ecsMock
        .on(UpdateContainerInstancesStateCommand)
        .resolves({ containerInstances: [containerInstance(CI_BATCH, INSTANCE_ID, 'DRAINING')], failures: [] });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act
      const result = await first(adapter.drain(ref.cluster, [ref.containerInstanceArn]));

      // Assess
      expect(result).toBe('ok');
      expect(ecsMock).toHaveReceivedCommandWith(UpdateContainerInstancesStateCommand, {
        cluster: 'batch',
        containerInstances: [CI_BATCH],
        status: 'DRAINING',
      });
    });

    it('reports not-found when ECS no longer knows the container instance (MISSING)', async () => {
      // Prepare
      ecsMock
        .on(UpdateContainerInstancesStateCommand)
        .resolves({ containerInstances: [], failures: [{ arn: CI_BATCH, reason: 'MISSING' }] });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act / Assess
      await expect(first(adapter.drain(ref.cluster, [ref.containerInstanceArn]))).resolves.toBe('not-found');
    });

    it('reports not-found when the cluster was deleted since the instance was found', async () => {
      // Prepare
      ecsMock.on(UpdateContainerInstancesStateCommand).rejects(clusterNotFound());
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act / Assess
      await expect(first(adapter.drain(ref.cluster, [ref.containerInstanceArn]))).resolves.toBe('not-found');
    });

    it('throws an EcsDrainError carrying any other failure reason', async () => {
      // Prepare
      ecsMock.on(UpdateContainerInstancesStateCommand).resolves({
        containerInstances: [],
        failures: [{ arn: CI_BATCH, reason: 'INACTIVE', detail: 'container instance is deregistering' }],
      });
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act
      const drained = first(adapter.drain(ref.cluster, [ref.containerInstanceArn]));

      // Assess
      await expect(drained).rejects.toBeInstanceOf(EcsDrainError);
      await expect(drained).rejects.toMatchObject({
        name: 'EcsDrainError',
        reason: 'INACTIVE',
        containerInstanceArn: CI_BATCH,
        message: expect.stringContaining('INACTIVE'),
      });
    });

    it('rethrows errors from the call', async () => {
      // Prepare
      ecsMock
        .on(UpdateContainerInstancesStateCommand)
        .rejects(ecsError('AccessDeniedException', 'not authorized to perform: ecs:UpdateContainerInstancesState'));
      const adapter = new EcsAdapter(new ECSClient({}), CLUSTERS);

      // Act / Assess
      await expect(first(adapter.drain(ref.cluster, [ref.containerInstanceArn]))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    });
  });
});
