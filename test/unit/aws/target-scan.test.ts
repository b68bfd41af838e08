import 'aws-sdk-client-mock-jest';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  TargetGroupNotFoundException,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { createRateLimiter, scanTargetRegistrations } from '../../../lambda/aws/target-scan';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const ec2Mock = mockClient(EC2Client);

const arn = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/${name}/0123456789abcdef`;
const group = (name: string, TargetType: TargetGroup['TargetType'], VpcId = 'vpc-1'): TargetGroup => ({
  TargetGroupArn: arn(name),
  TargetGroupName: name,
  TargetType,
  VpcId,
});

/** A clock that only moves when the limiter sleeps: every wait is counted, none is real. */
function fakeClock() {
  let t = 1_000_000;
  const sleep = jest.fn(async (ms: number) => {
    t += ms;
  });
  return { now: () => t, sleep };
}

function scanDeps(callsPerSecond = 4) {
  const clock = fakeClock();
  return {
    deps: {
      elbv2: new ElasticLoadBalancingV2Client({}),
      ec2: new EC2Client({}),
      callsPerSecond,
      now: clock.now,
      sleep: clock.sleep,
    },
    sleep: clock.sleep,
  };
}

describe('scanTargetRegistrations', () => {
  beforeEach(() => {
    elbMock.reset();
    ec2Mock.reset();
  });

  it('pages through target groups and indexes instance and ip targets by instance', async () => {
    // Prepare
    elbMock
      .on(DescribeTargetGroupsCommand)
      .resolvesOnce({ TargetGroups: [group('web', 'instance'), group('fn', 'lambda')], NextMarker: 'page-2' })
      .resolves({ TargetGroups: [group('api', 'ip'), group('chain', 'alb')] });
    elbMock.on(DescribeTargetHealthCommand, { TargetGroupArn: arn('web') }).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-a', Port: 80, AvailabilityZone: 'eu-west-1a' }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: 'i-b', Port: 80 }, TargetHealth: { State: 'draining' } },
        { Target: { Id: 'i-c', Port: 8080 }, TargetHealth: { State: 'unhealthy' } },
      ],
    });
    elbMock.on(DescribeTargetHealthCommand, { TargetGroupArn: arn('api') }).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: '10.0.1.10', Port: 443, AvailabilityZone: 'eu-west-1a' }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: '10.0.1.11', Port: 443, AvailabilityZone: 'eu-west-1a' }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: '192.168.0.5', Port: 443, AvailabilityZone: 'all' }, TargetHealth: { State: 'healthy' } },
      ],
    });
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        {
          VpcId: 'vpc-1',
          Attachment: { InstanceId: 'i-a' },
          PrivateIpAddress: '10.0.1.9',
          PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.9' }, { PrivateIpAddress: '10.0.1.10' }],
        },
        // A Fargate task's interface: no instance behind the IP.
        { VpcId: 'vpc-1', PrivateIpAddress: '10.0.1.11', PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.11' }] },
      ],
    });
    const { deps } = scanDeps();

    // Act
    const { byInstance, stats } = await scanTargetRegistrations(deps);

    // Assess
    expect(elbMock).toHaveReceivedNthSpecificCommandWith(1, DescribeTargetGroupsCommand, { PageSize: 400 });
    expect(elbMock).toHaveReceivedNthSpecificCommandWith(2, DescribeTargetGroupsCommand, { PageSize: 400, Marker: 'page-2' });
    expect(elbMock).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 2);
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeNetworkInterfacesCommand, {
      Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.0.1.10', '10.0.1.11', '192.168.0.5'] }],
    });
    expect(Object.fromEntries(byInstance)).toEqual({
      'i-a': [
        { targetGroupArn: arn('web'), targetId: 'i-a', targetType: 'instance', port: 80, availabilityZone: 'eu-west-1a', state: 'healthy' },
        { targetGroupArn: arn('api'), targetId: '10.0.1.10', targetType: 'ip', port: 443, availabilityZone: 'eu-west-1a', state: 'healthy' },
      ],
      'i-c': [{ targetGroupArn: arn('web'), targetId: 'i-c', targetType: 'instance', port: 8080, state: 'unhealthy' }],
    });
    expect(stats).toMatchObject({
      targetGroups: 4,
      skippedTargetGroups: 2,
      instanceTargets: 2,
      ipTargets: 1,
      unresolvedIpTargets: 2,
      drainingTargets: 1,
      instances: 2,
      elbv2Calls: 4,
      ec2Calls: 1,
    });
  });

  it("keeps each registration's health state as ELBv2 reported it, and none when it reported none", async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('web', 'instance')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: 'i-new', Port: 80 }, TargetHealth: { State: 'initial', Reason: 'Elb.RegistrationInProgress' } },
        { Target: { Id: 'i-idle', Port: 80 }, TargetHealth: { State: 'unused', Reason: 'Target.NotInUse' } },
        { Target: { Id: 'i-bare', Port: 80 } },
      ],
    });
    const { deps } = scanDeps();

    // Act
    const { byInstance, stats } = await scanTargetRegistrations(deps);

    // Assess
    expect(Object.fromEntries([...byInstance].map(([id, targets]) => [id, targets.map((t) => t.state)]))).toEqual({
      'i-new': ['initial'],
      'i-idle': ['unused'],
      'i-bare': [undefined],
    });
    expect(byInstance.get('i-bare')?.[0]).not.toHaveProperty('state');
    expect(stats.elbv2Calls).toBe(2);
  });

  it('resolves an ip within its target group\'s VPC when the same IP exists in two VPCs', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('api', 'ip', 'vpc-2')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [{ Target: { Id: '10.0.1.10', Port: 443 }, TargetHealth: { State: 'healthy' } }],
    });
    ec2Mock.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        { VpcId: 'vpc-1', Attachment: { InstanceId: 'i-wrong' }, PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10' }] },
        { VpcId: 'vpc-2', Attachment: { InstanceId: 'i-right' }, PrivateIpAddresses: [{ PrivateIpAddress: '10.0.1.10' }] },
      ],
    });
    const { deps } = scanDeps();

    // Act
    const { byInstance } = await scanTargetRegistrations(deps);

    // Assess
    expect([...byInstance.keys()]).toEqual(['i-right']);
  });

  it('asks EC2 about at most 200 IPs per call and follows NextToken', async () => {
    // Prepare
    const ips = Array.from({ length: 250 }, (_, i) => `10.0.${Math.floor(i / 200)}.${i % 200}`);
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('api', 'ip')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: ips.map((Id) => ({ Target: { Id, Port: 80 }, TargetHealth: { State: 'healthy' } })),
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [], NextToken: 'more' })
      .resolves({ NetworkInterfaces: [] });
    const { deps } = scanDeps();

    // Act
    const { stats } = await scanTargetRegistrations(deps);

    // Assess
    const calls = ec2Mock.commandCalls(DescribeNetworkInterfacesCommand).map((c) => c.args[0].input);
    expect(calls.map((input) => input.Filters?.[0]?.Values?.length)).toEqual([200, 200, 50]);
    expect(calls[1]?.NextToken).toBe('more');
    expect(stats.unresolvedIpTargets).toBe(250);
  });

  it('skips a target group deleted during the scan', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('gone', 'instance'), group('web', 'instance')] });
    elbMock
      .on(DescribeTargetHealthCommand, { TargetGroupArn: arn('gone') })
      .rejects(new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: {} }));
    elbMock.on(DescribeTargetHealthCommand, { TargetGroupArn: arn('web') }).resolves({
      TargetHealthDescriptions: [{ Target: { Id: 'i-a', Port: 80 }, TargetHealth: { State: 'healthy' } }],
    });
    const { deps } = scanDeps();

    // Act
    const { byInstance, stats } = await scanTargetRegistrations(deps);

    // Assess
    expect([...byInstance.keys()]).toEqual(['i-a']);
    expect(stats.vanishedTargetGroups).toBe(1);
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeNetworkInterfacesCommand);
  });

  it('rethrows any other ELBv2 error', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('web', 'instance')] });
    elbMock.on(DescribeTargetHealthCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const { deps } = scanDeps();

    // Act / Assess
    await expect(scanTargetRegistrations(deps)).rejects.toMatchObject({ name: 'Throttling' });
  });

  it('spaces every ELBv2 describe call by the rate limit', async () => {
    // Prepare
    elbMock
      .on(DescribeTargetGroupsCommand)
      .resolvesOnce({ TargetGroups: [group('a', 'instance'), group('b', 'instance')], NextMarker: 'm' })
      .resolves({ TargetGroups: [group('c', 'instance')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    const { deps, sleep } = scanDeps(4);

    // Act
    const { stats } = await scanTargetRegistrations(deps);

    // Assess: 2 pages + 3 groups = 5 calls on a clock that never moves by itself: 4 waits.
    expect(stats.elbv2Calls).toBe(5);
    expect(sleep).toHaveBeenCalledTimes(4);
    expect(stats.rateLimitWaits).toBe(4);
  });
});

describe('scanTargetRegistrations, IPv6 and resuming', () => {
  beforeEach(() => {
    elbMock.reset();
    ec2Mock.reset();
  });

  it('issue 9.11: resolves IPv6 ip targets to their instance, whatever their spelling, and counts the ones on no instance', async () => {
    // Prepare
    elbMock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [group('v6', 'ip')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: '2001:DB8:0:0:0:0:0:10', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: '2001:db8::99', Port: 80 }, TargetHealth: { State: 'healthy' } },
        { Target: { Id: '10.0.1.10', Port: 80 }, TargetHealth: { State: 'healthy' } },
      ],
    });
    ec2Mock
      .on(DescribeNetworkInterfacesCommand, { Filters: [{ Name: 'ipv6-addresses.ipv6-address', Values: ['2001:db8::10', '2001:db8::99'] }] })
      .resolves({
        NetworkInterfaces: [
          { VpcId: 'vpc-1', Attachment: { InstanceId: 'i-six' }, Ipv6Addresses: [{ Ipv6Address: '2001:db8::10' }] },
          // A Fargate task's interface: the IPv6 is carried, but by no instance.
          { VpcId: 'vpc-1', Ipv6Addresses: [{ Ipv6Address: '2001:db8::99' }] },
        ],
      })
      .on(DescribeNetworkInterfacesCommand, { Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.0.1.10'] }] })
      .resolves({ NetworkInterfaces: [] });
    const { deps } = scanDeps();

    // Act
    const { byInstance, stats } = await scanTargetRegistrations(deps);

    // Assess
    expect(byInstance.get('i-six')).toEqual([
      { targetGroupArn: arn('v6'), targetId: '2001:DB8:0:0:0:0:0:10', targetType: 'ip', port: 80, state: 'healthy' },
    ]);
    expect(stats).toMatchObject({ ipTargets: 1, unresolvedIpTargets: 2, ec2Calls: 2 });
  });

  it('stops where it is told to and resumes from the page marker and offset it returned', async () => {
    // Prepare
    elbMock
      .on(DescribeTargetGroupsCommand, { PageSize: 400, Marker: undefined })
      .resolves({ TargetGroups: [group('a', 'instance'), group('b', 'instance')], NextMarker: 'page-2' })
      .on(DescribeTargetGroupsCommand, { PageSize: 400, Marker: 'page-2' })
      .resolves({ TargetGroups: [group('c', 'instance')] });
    elbMock.on(DescribeTargetHealthCommand).callsFake((input: { TargetGroupArn: string }) => ({
      TargetHealthDescriptions: [{ Target: { Id: `i-${input.TargetGroupArn.split('/')[1]}` }, TargetHealth: { State: 'healthy' } }],
    }));
    const { deps } = scanDeps();
    let budget = 1;

    // Act
    const first = await scanTargetRegistrations(deps, { shouldStop: () => budget-- <= 0 });
    const second = await scanTargetRegistrations(deps, { from: first.next!, shouldStop: () => false });

    // Assess
    expect([...first.byInstance.keys()]).toEqual(['i-a']);
    expect(first.next).toEqual({ offset: 1 });
    expect([...second.byInstance.keys()]).toEqual(['i-b', 'i-c']);
    expect(second.next).toBeUndefined();
    expect(second.stats.targetGroups).toBe(2);
  });

  it('resumes on a later page from its marker', async () => {
    // Prepare
    elbMock
      .on(DescribeTargetGroupsCommand, { PageSize: 400, Marker: 'page-2' })
      .resolves({ TargetGroups: [group('c', 'instance'), group('d', 'instance')] });
    elbMock.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
    const { deps } = scanDeps();

    // Act
    const result = await scanTargetRegistrations(deps, { from: { marker: 'page-2', offset: 1 } });

    // Assess
    expect(elbMock).toHaveReceivedCommandTimes(DescribeTargetGroupsCommand, 1);
    expect(elbMock).toHaveReceivedCommandWith(DescribeTargetHealthCommand, { TargetGroupArn: arn('d') });
    expect(elbMock).toHaveReceivedCommandTimes(DescribeTargetHealthCommand, 1);
    expect(result.stats.targetGroups).toBe(1);
  });
});

describe('createRateLimiter', () => {
  it('lets the first call through and holds back the next ones', async () => {
    // Prepare
    const { now, sleep } = fakeClock();
    const limiter = createRateLimiter(10, now, sleep);

    // Act
    await limiter.acquire();
    await limiter.acquire();
    await limiter.acquire();

    // Assess
    expect(limiter.waits).toBe(2);
    expect(sleep).toHaveBeenCalledTimes(2);
  });

  it('does not wait when calls are already slower than the limit', async () => {
    // Prepare
    let t = 0;
    const sleep = jest.fn(async () => undefined);
    const limiter = createRateLimiter(2, () => t, sleep);

    // Act
    await limiter.acquire();
    t += 600;
    await limiter.acquire();
    t += 600;
    await limiter.acquire();

    // Assess
    expect(sleep).not.toHaveBeenCalled();
  });

  it('queues concurrent callers instead of letting them through together', async () => {
    // Prepare
    const { now, sleep } = fakeClock();
    const limiter = createRateLimiter(5, now, sleep);

    // Act
    await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);

    // Assess
    expect(limiter.waits).toBe(2);
  });

  it('refuses a non-positive rate', () => {
    expect(() => createRateLimiter(0)).toThrow(RangeError);
  });
});
