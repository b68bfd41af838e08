// The wave simulator's buckets throttle as AWS documents them, with AWS's error codes, seen
// through the real SDK clients; and the semantics the benchmark relies on hold.
import { DetachInstancesCommand, AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ControlPlane } from '../../../bench/simulator/control-plane';

let clock = 0;
const now = () => clock;
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/** A plane with no latency on a hand-driven clock, and single-attempt clients so throttles show. */
function setup() {
  clock = 1_000_000;
  const plane = new ControlPlane({ now, latency: () => 0 });
  const elbv2 = new ElasticLoadBalancingV2Client({ region: 'eu-west-1', credentials, maxAttempts: 1 });
  elbv2.middlewareStack.use(plane.plugin('elbv2'));
  const ec2 = new EC2Client({ region: 'eu-west-1', credentials, maxAttempts: 1 });
  ec2.middlewareStack.use(plane.plugin('ec2'));
  const autoScaling = new AutoScalingClient({ region: 'eu-west-1', credentials, maxAttempts: 1 });
  autoScaling.middlewareStack.use(plane.plugin('autoscaling'));
  plane.targetGroups.set('arn:tg/web', { arn: 'arn:tg/web', name: 'web', targetType: 'instance', port: 80 });
  return { plane, elbv2, ec2, autoScaling };
}

const settle = <T>(promises: Promise<T>[]) => Promise.allSettled(promises);
const rejectedNames = (results: PromiseSettledResult<unknown>[]) =>
  results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).name);

describe('documented buckets', () => {
  test('ELBv2 DeregisterTargets: 20 at once, then Throttling "Rate exceeded" until 4 per second refill', async () => {
    const { elbv2 } = setup();
    const deregister = () =>
      elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: 'arn:tg/web', Targets: [{ Id: 'i-1' }] }));
    const first = await settle(Array.from({ length: 25 }, deregister));
    expect(first.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
    expect(rejectedNames(first)).toEqual(Array(5).fill('Throttling'));
    const throttle = (first.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
    expect(throttle).toMatchObject({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    clock += 500; // two tokens
    const second = await settle(Array.from({ length: 3 }, deregister));
    expect(second.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  });

  test('ELBv2 Describe* has its own bucket of 40 / 10 per second', async () => {
    const { elbv2 } = setup();
    const describe = () => elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: 'arn:tg/web' }));
    const results = await settle(Array.from({ length: 41 }, describe));
    expect(rejectedNames(results)).toEqual(['Throttling']);
    clock += 100;
    expect((await settle([describe(), describe()])).map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  });

  test('EC2 DescribeInstances: 100 at once, then RequestLimitExceeded (HTTP 503)', async () => {
    const { ec2 } = setup();
    const results = await settle(Array.from({ length: 101 }, () => ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }))));
    expect(rejectedNames(results)).toEqual(['RequestLimitExceeded']);
    expect((results[100] as PromiseRejectedResult).reason.$metadata.httpStatusCode).toBe(503);
  });

  test('the SDK classifies the simulated throttles as throttling and retries them', async () => {
    const { plane } = setup();
    const elbv2 = new ElasticLoadBalancingV2Client({ region: 'eu-west-1', credentials, maxAttempts: 3 });
    elbv2.middlewareStack.use(plane.plugin('elbv2'));
    for (let i = 0; i < 20; i++) plane.throttler.admit('elbv2-targets');
    const call = elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: 'arn:tg/web', Targets: [{ Id: 'i-1' }] }));
    // the first attempt is throttled; the retry, after the SDK's backoff, finds a refilled token
    while (plane.throttler.throttled['elbv2-targets'] === undefined) await new Promise((r) => setImmediate(r));
    clock += 1_000;
    await expect(call).resolves.toBeDefined();
    expect(plane.throttler.throttled['elbv2-targets']).toBe(1);
    expect(plane.calls['elbv2:DeregisterTargets']).toBe(2);
  });
});

describe('semantics', () => {
  test('a deregistered target is gone', async () => {
    const { plane, elbv2 } = setup();
    plane.targets.set('arn:tg/web|i-1|80', { targetGroupArn: 'arn:tg/web', id: 'i-1', port: 80 });
    plane.targets.set('arn:tg/web|i-1|8080', { targetGroupArn: 'arn:tg/web', id: 'i-1', port: 8080 });
    await elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: 'arn:tg/web', Targets: [{ Id: 'i-1' }] }));
    const health = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: 'arn:tg/web' }));
    expect(health.TargetHealthDescriptions).toEqual([{ Target: { Id: 'i-1', Port: 8080 }, TargetHealth: { State: 'healthy' } }]);
  });

  test('DetachInstances takes at most 20 ids, and a replacement launches after the delay', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { plane, autoScaling } = setup();
      plane.groups.set('g', { name: 'g', targetGroupArns: [], tags: [], terminatingHook: false, desiredCapacity: 21 });
      const ids = Array.from({ length: 21 }, (_, i) => `i-${i}`);
      for (const id of ids) {
        plane.instances.set(id, { instanceId: id, privateIp: '10.0.0.1', autoScalingGroupName: 'g', state: 'running', lifecycleState: 'InService' });
      }
      const detach = (instanceIds: string[]) =>
        autoScaling.send(new DetachInstancesCommand({ AutoScalingGroupName: 'g', InstanceIds: instanceIds, ShouldDecrementDesiredCapacity: false }));
      const tooMany = detach(ids);
      await jest.advanceTimersByTimeAsync(1);
      await expect(tooMany).rejects.toMatchObject({ name: 'ValidationError' });
      const ok = detach(ids.slice(0, 20));
      await jest.advanceTimersByTimeAsync(1);
      await ok;
      expect(plane.events.filter((e) => e.action === 'detached')).toHaveLength(20);
      expect(plane.events.filter((e) => e.action === 'replacement-launched')).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(5_000);
      expect(plane.events.filter((e) => e.action === 'replacement-launched')).toHaveLength(20);
    } finally {
      jest.useRealTimers();
    }
  });
});
