// EcsAdapter against moto: container instances registered for real EC2 instances, found
// across clusters and set to DRAINING. Where moto (5.2.5) differs from AWS:
//   - RegisterContainerInstance takes the instanceIdentityDocument's instanceId on trust: no
//     signature check (AWS verifies instanceIdentityDocumentSignature), though it does look
//     the id up in moto's EC2 (an unknown id fails with InvalidInstanceID.NotFound).
//   - ListContainerInstances ignores `filter` (cluster query language is not implemented; even
//     a malformed filter is accepted) and lists the whole cluster. The adapter's own
//     ec2InstanceId comparison after Describe is what keeps the wrong instance out here.
//   - ListContainerInstances on a cluster that does not exist returns an empty list; AWS
//     answers ClusterNotFoundException (Describe and Update do throw it in moto too).
//   - DRAINING is only a status: moto runs no scheduler, so no task moves anywhere.
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  RegisterContainerInstanceCommand,
} from '@aws-sdk/client-ecs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { emulatorClientConfig } from '../../dev/emulator';
import { first, only } from '../support/items';
import { EcsAdapter } from '../../lambda/aws/ecs';
import { resetEmulator, testClients, testEndpoint, useEmulator } from '../support/emulator-env';

useEmulator();
const clients = testClients();
// testClients() has no ECS client yet; this one is configured the same way.
const ecs = new ECSClient({
  ...emulatorClientConfig(testEndpoint()),
  requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 15_000 }),
});
afterAll(() => [...Object.values(clients), ecs].forEach((client) => client.destroy()));

const AMI = 'ami-12c6146b';

interface World {
  /** Registered in cluster batch, next to `neighbour`. */
  target: string;
  targetArn: string;
  neighbour: string;
  /** Registered in cluster web. */
  elsewhere: string;
  /** A running EC2 instance that is no container instance. */
  plain: string;
}

async function registerIn(cluster: string, instanceId: string): Promise<string> {
  const out = await ecs.send(
    new RegisterContainerInstanceCommand({ cluster, instanceIdentityDocument: JSON.stringify({ instanceId }) }),
  );
  return out.containerInstance?.containerInstanceArn as string;
}

async function buildWorld(): Promise<World> {
  const run = await clients.ec2.send(
    new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 4, MaxCount: 4 }),
  );
  const [target, neighbour, elsewhere, plain] = (run.Instances ?? []).map((i) => i.InstanceId as string);
  if (!target || !neighbour || !elsewhere || !plain) throw new Error('RunInstances did not start 4 instances');
  await ecs.send(new CreateClusterCommand({ clusterName: 'web' }));
  await ecs.send(new CreateClusterCommand({ clusterName: 'batch' }));
  await registerIn('batch', neighbour);
  const targetArn = await registerIn('batch', target);
  await registerIn('web', elsewhere);
  return { target, targetArn, neighbour, elsewhere, plain };
}

const statusOf = async (cluster: string, arn: string) =>
  (await ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: [arn] }))).containerInstances?.[0]
    ?.status;

describe('EcsAdapter on the emulator', () => {
  let world: World;
  // 'gone' does not exist: moto lists nothing for it, AWS would answer ClusterNotFoundException.
  const adapter = () => new EcsAdapter(ecs, ['gone', 'web', 'batch']);

  beforeEach(async () => {
    await resetEmulator();
    world = await buildWorld();
  }, 30_000);

  it('finds the container instance of an EC2 instance among the clusters, ACTIVE', async () => {
    // Act
    const found = await only(adapter().findContainerInstances([world.target]), world.target);

    // Assess: the right one, although moto ignores the filter and lists its neighbour too
    const listed = await ecs.send(
      new ListContainerInstancesCommand({ cluster: 'batch', filter: `ec2InstanceId == ${world.target}` }),
    );
    expect(listed.containerInstanceArns).toHaveLength(2);
    expect(found).toEqual({ cluster: 'batch', containerInstanceArn: world.targetArn, status: 'ACTIVE' });
    await expect(only(adapter().findContainerInstances([world.elsewhere]), world.elsewhere)).resolves.toMatchObject({ cluster: 'web' });
  });

  it('returns null for an EC2 instance that is no container instance', async () => {
    await expect(only(adapter().findContainerInstances([world.plain]), world.plain)).resolves.toBeNull();
  });

  it('drains the container instance it found, and only that one', async () => {
    // Prepare
    const found = await only(adapter().findContainerInstances([world.target]), world.target);
    if (!found) throw new Error('container instance not found');

    // Act
    const result = await first(adapter().drain(found.cluster, [found.containerInstanceArn]));

    // Assess
    expect(result).toBe('ok');
    expect(await statusOf('batch', world.targetArn)).toBe('DRAINING');
    const neighbour = await only(adapter().findContainerInstances([world.neighbour]), world.neighbour);
    expect(neighbour?.status).toBe('ACTIVE');
    // A second warning for the same instance finds it DRAINING and leaves it so.
    const again = await only(adapter().findContainerInstances([world.target]), world.target);
    expect(again).toEqual({ cluster: 'batch', containerInstanceArn: world.targetArn, status: 'DRAINING' });
    if (again) await expect(first(adapter().drain(again.cluster, [again.containerInstanceArn]))).resolves.toBe('ok');
  });

  it('reports not-found for a container instance ECS does not know (failure MISSING)', async () => {
    // Prepare
    const ref = {
      cluster: 'batch',
      containerInstanceArn: 'arn:aws:ecs:us-east-1:123456789012:container-instance/batch/00000000000000000000000000000000',
      status: 'ACTIVE',
    };

    // Act / Assess
    await expect(first(adapter().drain(ref.cluster, [ref.containerInstanceArn]))).resolves.toBe('not-found');
  });

  it('reports not-found when the cluster no longer exists', async () => {
    // Prepare
    const ref = { cluster: 'gone', containerInstanceArn: world.targetArn, status: 'ACTIVE' };

    // Act / Assess
    await expect(first(adapter().drain(ref.cluster, [ref.containerInstanceArn]))).resolves.toBe('not-found');
  });
});
