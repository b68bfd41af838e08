import 'aws-sdk-client-mock-jest';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Ec2Adapter } from '../../../lambda/aws/ec2';
import { only } from '../../support/items';

const ec2Mock = mockClient(EC2Client);
const INSTANCE_ID = 'i-0123456789abcdef0';

function ec2Error(name: string): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', message: `${name} for ${INSTANCE_ID}`, $metadata: { httpStatusCode: 400 } });
}

function withInstance(instance: Partial<Instance>) {
  return { Reservations: [{ Instances: [{ InstanceId: INSTANCE_ID, ...instance }] }] };
}

describe('Ec2Adapter.describeInstances, one instance', () => {
  beforeEach(() => ec2Mock.reset());

  it('asks for exactly the one instance and returns its facts', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(
      withInstance({
        State: { Name: 'running', Code: 16 },
        PrivateIpAddress: '10.0.1.10',
        Tags: [{ Key: 'Name', Value: 'web-1' }, { Key: 'team', Value: 'payments' }],
      }),
    );
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act
    const facts = await only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(facts).toEqual({
      instanceId: INSTANCE_ID,
      state: 'running',
      privateIpAddresses: ['10.0.1.10'],
      tags: { Name: 'web-1', team: 'payments' },
    });
  });

  it('returns the Spot pool the instance runs in: instance type and Availability Zone', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(
      withInstance({ State: { Name: 'running' }, InstanceType: 'c6g.xlarge', Placement: { AvailabilityZone: 'eu-west-1b' } }),
    );

    // Act
    const facts = await only(new Ec2Adapter(new EC2Client({})).describeInstances([INSTANCE_ID]), INSTANCE_ID);

    // Assess
    expect(facts).toMatchObject({ instanceType: 'c6g.xlarge', availabilityZone: 'eu-west-1b' });
  });

  it('collects every private IP of every interface, primary first, without repeats', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(
      withInstance({
        State: { Name: 'running' },
        PrivateIpAddress: '10.0.1.10',
        NetworkInterfaces: [
          {
            Attachment: { DeviceIndex: 1 },
            PrivateIpAddress: '10.0.2.20',
            PrivateIpAddresses: [
              { PrivateIpAddress: '10.0.2.20', Primary: true },
              { PrivateIpAddress: '10.0.2.21', Primary: false },
            ],
          },
          {
            Attachment: { DeviceIndex: 0 },
            PrivateIpAddress: '10.0.1.10',
            PrivateIpAddresses: [
              { PrivateIpAddress: '10.0.1.10', Primary: true },
              { PrivateIpAddress: '10.0.1.11', Primary: false },
            ],
          },
        ],
      }),
    );
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act
    const facts = await only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID);

    // Assess
    expect(facts?.privateIpAddresses).toEqual(['10.0.1.10', '10.0.1.11', '10.0.2.20', '10.0.2.21']);
  });

  it('falls back to PrivateIpAddress when no interfaces are listed, and tolerates missing tags', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(withInstance({ State: { Name: 'stopping' }, PrivateIpAddress: '10.0.3.3' }));
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act
    const facts = await only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID);

    // Assess
    expect(facts).toEqual({ instanceId: INSTANCE_ID, state: 'stopping', privateIpAddresses: ['10.0.3.3'], tags: {} });
  });

  it.each(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed'])('returns null on %s', async (name) => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error(name));
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act
    const facts = await only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID);

    // Assess
    expect(facts).toBeNull();
  });

  it('returns null when the answer holds no such instance', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act / Assess
    await expect(only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID)).resolves.toBeNull();
  });

  it('rethrows anything else', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('UnauthorizedOperation'));
    const adapter = new Ec2Adapter(new EC2Client({}));

    // Act / Assess
    await expect(only(adapter.describeInstances([INSTANCE_ID]), INSTANCE_ID)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  });

  it('passes the caller\'s abort signal to the SDK', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(withInstance({ State: { Name: 'running' } }));
    const adapter = new Ec2Adapter(new EC2Client({}));
    const abortSignal = new AbortController().signal;

    // Act
    await only(adapter.describeInstances([INSTANCE_ID], { abortSignal }), INSTANCE_ID);

    // Assess
    expect((ec2Mock.send.getCall(0).args as unknown[])[1]).toEqual({ abortSignal });
  });
});
