// Issue 9, case 8: with no target index (the stack is not deployed), a dry run finds the
// instance's registrations by reading ELBv2 for that one instance: read-only, counted.
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { LiveTargetLookup, liveLookupNote } from '../../../lambda/dry-run/live-targets';

const ID = 'i-1234567890abcdef0';
const tg = (name: string, type: string, vpc = 'vpc-1') => ({
  TargetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/1`,
  TargetType: type as 'instance',
  VpcId: vpc,
});

function world() {
  const elbv2 = mockClient(ElasticLoadBalancingV2Client);
  const ec2 = mockClient(EC2Client);
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          {
            InstanceId: ID,
            VpcId: 'vpc-1',
            PrivateIpAddress: '10.0.1.25',
            NetworkInterfaces: [{ PrivateIpAddresses: [{ PrivateIpAddress: '10.0.2.9' }] }],
          },
        ],
      },
    ],
  });
  const lookup = new LiveTargetLookup({
    elbv2: new ElasticLoadBalancingV2Client({ region: 'us-east-1' }),
    ec2: new EC2Client({ region: 'us-east-1' }),
    describeCallsPerSecond: 1000,
  });
  return { elbv2, ec2, lookup };
}

afterEach(() => {
  mockClient(ElasticLoadBalancingV2Client).restore();
  mockClient(EC2Client).restore();
});

describe('issue 9.8: LiveTargetLookup: registrations read from ELBv2 for one instance', () => {
  it('finds instance and IP registrations in every group, leaves out others, draining, lambda groups and other VPCs', async () => {
    // Prepare
    const { elbv2, lookup } = world();
    const [web, ip, lambda, otherVpc, gone] = [
      tg('web', 'instance'),
      tg('ip', 'ip'),
      tg('fn', 'lambda'),
      tg('far', 'ip', 'vpc-2'),
      tg('gone', 'instance'),
    ];
    elbv2
      .on(DescribeTargetGroupsCommand)
      .resolvesOnce({ TargetGroups: [web, ip], NextMarker: 'm' })
      .resolvesOnce({ TargetGroups: [lambda, otherVpc, gone] });
    elbv2.on(DescribeTargetHealthCommand, { TargetGroupArn: web.TargetGroupArn }).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: ID, Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: ID, Port: 8080 }, TargetHealth: { State: 'draining' } },
        { Target: { Id: 'i-0ther000000000000', Port: 80 } },
      ],
    });
    elbv2.on(DescribeTargetHealthCommand, { TargetGroupArn: ip.TargetGroupArn }).resolves({
      TargetHealthDescriptions: [{ Target: { Id: '10.0.2.9', Port: 443 } }, { Target: { Id: '10.0.9.9', Port: 443 } }],
    });
    elbv2.on(DescribeTargetHealthCommand, { TargetGroupArn: otherVpc.TargetGroupArn }).resolves({
      TargetHealthDescriptions: [{ Target: { Id: '10.0.1.25', Port: 443 } }],
    });
    elbv2
      .on(DescribeTargetHealthCommand, { TargetGroupArn: gone.TargetGroupArn })
      .rejects(new TargetGroupNotFoundException({ message: 'gone', $metadata: {} }));

    // Act
    const found = await lookup.lookup(ID);

    // Assess
    expect(found.targets).toEqual([
      { targetGroupArn: web.TargetGroupArn, targetId: ID, targetType: 'instance', port: 80 },
      { targetGroupArn: ip.TargetGroupArn, targetId: '10.0.2.9', targetType: 'ip', port: 443 },
    ]);
    expect(found.refreshedAt).toEqual(expect.any(String));
    expect(lookup.stats).toEqual({
      describeTargetGroupsCalls: 2,
      describeTargetHealthCalls: 4,
      describeInstancesCalls: 1,
      skippedTargetGroups: 1,
    });
    expect(liveLookupNote(lookup.stats)).toContain('6 describe calls (2 DescribeTargetGroups, 4 DescribeTargetHealth)');
  });

  it('raises an AWS error it cannot answer for (the responder notes the failed lookup)', async () => {
    // Prepare
    const { elbv2, lookup } = world();
    elbv2.on(DescribeTargetGroupsCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDenied' }));

    // Act / Assess
    await expect(lookup.lookup(ID)).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});
