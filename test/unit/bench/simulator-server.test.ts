// The simulator behind a loopback port (bench/simulator/server.ts, remote.ts), as the wave's
// memory benchmark uses it: a control-plane call answers as in process, a throttle arrives as
// the SDK's own error, and DynamoDB speaks its wire protocol through the SDK's HTTP handler.
import { DynamoDBClient, PutItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeregisterTargetsCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ControlPlane } from '../../../bench/simulator/control-plane';
import { remotePlugin } from '../../../bench/simulator/remote';
import { serveSimulator } from '../../../bench/simulator/server';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

describe('the simulator over HTTP', () => {
  const plane = new ControlPlane({ now: () => 1_000_000, latency: () => 0 });
  plane.instances.set('i-1', { instanceId: 'i-1', privateIp: '10.0.0.1', state: 'running' });
  plane.targetGroups.set('arn:tg/web', { arn: 'arn:tg/web', name: 'web', targetType: 'instance', port: 80 });
  plane.dynamo.createTable({ name: 't', partitionKey: 'pk' });
  let server: Awaited<ReturnType<typeof serveSimulator>>;
  beforeAll(async () => (server = await serveSimulator(plane)));
  afterAll(async () => server.close());

  it('answers a control-plane command as the in-process plugin does', async () => {
    const ec2 = new EC2Client({ region: 'eu-west-1', credentials, endpoint: server.url, maxAttempts: 1 });
    ec2.middlewareStack.use(remotePlugin(server.url, 'ec2'));
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }));
    expect(out.Reservations?.[0]?.Instances?.[0]).toMatchObject({ InstanceId: 'i-1', PrivateIpAddress: '10.0.0.1' });
  });

  it("raises a throttle as the SDK's deserializer would: AWS's code, message and HTTP status", async () => {
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'eu-west-1', credentials, endpoint: server.url, maxAttempts: 1 });
    elbv2.middlewareStack.use(remotePlugin(server.url, 'elbv2'));
    const deregister = () => elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: 'arn:tg/web', Targets: [{ Id: 'i-1' }] }));
    const results = await Promise.allSettled(Array.from({ length: 21 }, deregister));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error & { $metadata: { httpStatusCode: number } });
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ name: 'Throttling', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
  });

  it('serves DynamoDB on the wire, through the SDK\'s own HTTP handler', async () => {
    const dynamo = new DynamoDBClient({ region: 'eu-west-1', credentials, endpoint: server.url, maxAttempts: 1 });
    await dynamo.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' }, n: { N: '1' } } }));
    const out = await dynamo.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }));
    expect(out.Item).toEqual({ pk: { S: 'a' }, n: { N: '1' } });
    await expect(
      dynamo.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' } }, ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    dynamo.destroy();
  });
});
