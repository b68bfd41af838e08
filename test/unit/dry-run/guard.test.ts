// The dry run's guard on its own: commands sent straight to the guarded clients, past every
// adapter. Two layers: the `send` view (observed through aws-sdk-client-mock, which replaces
// `send` underneath) and the initialize-step middleware (observed on unmocked clients).
import 'aws-sdk-client-mock-jest';
import {
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { UpdateContainerInstancesStateCommand } from '@aws-sdk/client-ecs';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { createAwsClients, type AwsClients } from '../../../lambda/aws/clients';
import {
  DryRunViolationError,
  PlanJournal,
  guardClients,
  installGuard,
  isReadOperation,
  operationOf,
} from '../../../lambda/dry-run/guard';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Real clients with `send` mocked: every command that reaches one is recorded, none answered unless told. */
function mockedWorld() {
  const clients = createAwsClients({ region: 'us-east-1', credentials });
  const mocks = {
    ec2: mockClient(clients.ec2),
    autoScaling: mockClient(clients.autoScaling),
    elbv2: mockClient(clients.elbv2),
    ecs: mockClient(clients.ecs),
    ssm: mockClient(clients.ssm),
    dynamo: mockClient(clients.dynamo),
    dynamoRaw: mockClient(clients.dynamoRaw),
  };
  const journal = new PlanJournal();
  return { clients, mocks, journal, guarded: guardClients(clients, journal) };
}

describe('isReadOperation', () => {
  it.each([
    'DescribeInstances',
    'DescribeTargetHealth',
    'ListContainerInstances',
    'GetItem',
    'GetCallerIdentity',
    'BatchGetItem',
    'TransactGetItems',
    'Query',
    'Scan',
  ])('%s is a read', (operation) => {
    expect(isReadOperation(operation)).toBe(true);
  });

  it.each([
    'DeregisterTargets',
    'DetachInstances',
    'TerminateInstanceInAutoScalingGroup',
    'UpdateContainerInstancesState',
    'TransactWriteItems',
    'PutItem',
    'UpdateItem',
    'DeleteItem',
    'BatchWriteItem',
    'ExecuteStatement',
    'CreateTable',
    'QueryAndDelete',
    'Describe',
    'Getaway',
    '',
  ])('%s is not', (operation) => {
    expect(isReadOperation(operation)).toBe(false);
  });
});

describe('operationOf', () => {
  it('names SDK commands by their API operation, document client commands by the DynamoDB operation they wrap', () => {
    expect(operationOf(new DescribeInstancesCommand({}))).toBe('DescribeInstances');
    expect(operationOf(new GetCommand({ TableName: 't', Key: { pk: 'a' } }))).toBe('GetItem');
    expect(operationOf(new BatchGetCommand({ RequestItems: {} }))).toBe('BatchGetItem');
    expect(operationOf(new TransactWriteCommand({ TransactItems: [] }))).toBe('TransactWriteItems');
    expect(operationOf({})).toBe('Object');
    expect(operationOf(null)).toBe('');
  });
});

describe('the guarded clients', () => {
  const mutations: Array<[string, keyof AwsClients, () => object]> = [
    ['ELBv2 DeregisterTargets', 'elbv2', () => new DeregisterTargetsCommand({ TargetGroupArn: 'arn', Targets: [{ Id: 'i-1' }] })],
    ['Auto Scaling DetachInstances', 'autoScaling', () => new DetachInstancesCommand({ AutoScalingGroupName: 'g', InstanceIds: ['i-1'], ShouldDecrementDesiredCapacity: false })],
    ['Auto Scaling TerminateInstanceInAutoScalingGroup', 'autoScaling', () => new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: 'i-1', ShouldDecrementDesiredCapacity: false })],
    ['EC2 TerminateInstances', 'ec2', () => new TerminateInstancesCommand({ InstanceIds: ['i-1'] })],
    ['ECS UpdateContainerInstancesState', 'ecs', () => new UpdateContainerInstancesStateCommand({ cluster: 'c', containerInstances: ['a'], status: 'DRAINING' })],
    ['SSM SendCommand', 'ssm', () => new SendCommandCommand({ DocumentName: 'd', InstanceIds: ['i-1'] })],
    ['DynamoDB TransactWriteItems (document)', 'dynamo', () => new TransactWriteCommand({ TransactItems: [] })],
    ['DynamoDB PutItem (document)', 'dynamo', () => new PutCommand({ TableName: 't', Item: { pk: 'a' } })],
    ['DynamoDB UpdateItem (document)', 'dynamo', () => new UpdateCommand({ TableName: 't', Key: { pk: 'a' } })],
    ['DynamoDB DeleteItem (document)', 'dynamo', () => new DeleteCommand({ TableName: 't', Key: { pk: 'a' } })],
    ['DynamoDB PutItem (raw)', 'dynamoRaw', () => new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' } } })],
    ['DynamoDB CreateTable (raw)', 'dynamoRaw', () => new CreateTableCommand({ TableName: 't', KeySchema: [], AttributeDefinitions: [] })],
  ];

  it.each(mutations)('refuse %s: nothing reaches the client, nothing enters the plan', async (_name, key, command) => {
    // Prepare
    const { guarded, mocks, journal } = mockedWorld();
    const client = guarded[key] as unknown as { send(command: object): Promise<unknown> };

    // Act
    const error = await client.send(command()).catch((err: unknown) => err);

    // Assess
    expect(error).toBeInstanceOf(DryRunViolationError);
    expect(error).toMatchObject({ name: 'DryRunViolationError', command: operationOf(command()) });
    expect(mocks[key].calls()).toHaveLength(0);
    expect(journal.steps).toEqual([]);
  });

  it('let reads through and journal them in order with their inputs, failures marked', async () => {
    // Prepare
    const { guarded, mocks, journal } = mockedWorld();
    mocks.ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    mocks.dynamo.on(GetCommand).resolves({});
    mocks.dynamoRaw.on(DescribeTableCommand).rejects(new ResourceNotFoundException({ message: 'no table', $metadata: {} }));

    // Act
    await guarded.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }));
    await guarded.dynamo.send(new GetCommand({ TableName: 't', Key: { pk: 'EVENT#e' }, ConsistentRead: true }));
    await guarded.dynamoRaw.send(new DescribeTableCommand({ TableName: 't' })).catch(() => undefined);

    // Assess
    expect(journal.steps).toEqual([
      { step: 1, kind: 'read', service: 'ec2', command: 'DescribeInstances', input: { InstanceIds: ['i-1'] } },
      {
        step: 2,
        kind: 'read',
        service: 'dynamodb',
        command: 'GetItem',
        input: { TableName: 't', Key: { pk: 'EVENT#e' }, ConsistentRead: true },
      },
      {
        step: 3,
        kind: 'read',
        service: 'dynamodb',
        command: 'DescribeTable',
        input: { TableName: 't' },
        note: 'failed: ResourceNotFoundException',
      },
    ]);
    expect(mocks.ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: ['i-1'] });
  });
});

describe('the guard middleware (unmocked clients: a command that got past it would go to the network)', () => {
  /** Nothing listens on port 9 of the loopback: a request that is sent fails to connect. */
  const NOWHERE = 'http://127.0.0.1:9';

  it('refuses mutations at the initialize step of the client itself', async () => {
    // Prepare
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: NOWHERE, credentials, maxAttempts: 1 });
    installGuard(elbv2, 'elbv2');

    // Act
    const error = await elbv2
      .send(new DeregisterTargetsCommand({ TargetGroupArn: 'arn', Targets: [{ Id: 'i-1' }] }))
      .catch((err: unknown) => err);

    // Assess
    expect(error).toMatchObject({ name: 'DryRunViolationError', service: 'elbv2', command: 'DeregisterTargets' });
    elbv2.destroy();
  });

  it('lets reads go on to the network', async () => {
    // Prepare
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: NOWHERE, credentials, maxAttempts: 1 });
    installGuard(elbv2, 'elbv2');

    // Act
    const error = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: 'arn' })).catch((err: unknown) => err);

    // Assess: it got as far as connecting
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).not.toBe('DryRunViolationError');
    expect(String((error as NodeJS.ErrnoException).code ?? (error as Error).message)).toMatch(/ECONNREFUSED/);
    elbv2.destroy();
  });

  it('guards a document client made later from the guarded raw client: they share one middleware stack', async () => {
    // Prepare
    const raw = new DynamoDBClient({ region: 'us-east-1', endpoint: NOWHERE, credentials, maxAttempts: 1 });
    const clients = { ...createAwsClients({ region: 'us-east-1', credentials }), dynamoRaw: raw };
    guardClients(clients, new PlanJournal());
    const document = DynamoDBDocumentClient.from(raw);

    // Act
    const errors = await Promise.all([
      document.send(new PutCommand({ TableName: 't', Item: { pk: 'a' } })).catch((err: unknown) => err),
      document.send(new TransactWriteCommand({ TransactItems: [] })).catch((err: unknown) => err),
      raw.send(new PutItemCommand({ TableName: 't', Item: { pk: { S: 'a' } } })).catch((err: unknown) => err),
    ]);

    // Assess
    expect(errors.map((e) => (e as Error).name)).toEqual(['DryRunViolationError', 'DryRunViolationError', 'DryRunViolationError']);
    expect(errors.map((e) => (e as DryRunViolationError).command)).toEqual(['PutItem', 'TransactWriteItems', 'PutItem']);
    document.destroy();
    raw.destroy();
  });
});
