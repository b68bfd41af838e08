// The client-side token buckets: burst, refill, arrival order, the deadline (fail fast or give
// the token back), and the middleware on a real SDK client. Fake timers drive every wait.
import { Readable } from 'node:stream';
import { DeregisterTargetsCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { createAwsClients } from '../../../lambda/aws/clients';
import {
  DEFAULT_PACING,
  Pacer,
  PacingDeadlineError,
  TokenBucket,
  deadlineSignal,
  familyOf,
  formatPacing,
  parsePacing,
} from '../../../lambda/aws/pacing';
import { DEFAULTS } from '../../../lambda/contract';

// setImmediate and nextTick stay real so the SDK's own promise chains can run between steps.
beforeEach(() => jest.useFakeTimers({ now: 1_700_000_000_000, doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));

/** Let the SDK's middleware chains run as far as they can without time passing. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Turns the event loop (real setImmediate, so file and other I/O go on) until `done()` holds.
 * A count of turns would race the SDK's first call in a process, which loads modules lazily and
 * takes longer on a loaded machine; a bound on turns keeps a real hang from passing.
 */
async function until(done: () => boolean, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}
afterEach(() => jest.useRealTimers());

/** Start `count` takes at once; resolves each one's settle time, ms after the start. */
function takeMany(bucket: TokenBucket, count: number, signal?: AbortSignal) {
  const start = Date.now();
  const settled: (number | Error)[] = [];
  const all = Array.from({ length: count }, (_, i) =>
    bucket.take(signal).then(
      () => (settled[i] = Date.now() - start),
      (err: Error) => (settled[i] = err),
    ),
  );
  return { settled, all: Promise.all(all) };
}

describe('TokenBucket', () => {
  test('the burst goes at once, then one token every 1/rate seconds, in arrival order', async () => {
    const bucket = new TokenBucket('elbv2-targets', { capacity: 20, refillPerSecond: 4 });
    const { settled, all } = takeMany(bucket, 24);
    await jest.advanceTimersByTimeAsync(1_000);
    await all;
    expect(settled.slice(0, 20)).toEqual(Array(20).fill(0));
    expect(settled.slice(20)).toEqual([250, 500, 750, 1000]);
  });

  test('refills at the rate while idle, never beyond the capacity', async () => {
    const bucket = new TokenBucket('elbv2-describe', { capacity: 40, refillPerSecond: 10 });
    await takeMany(bucket, 40).all;
    expect(bucket.available()).toBe(0);
    await jest.advanceTimersByTimeAsync(1_500);
    expect(bucket.available()).toBeCloseTo(15);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(bucket.available()).toBe(40);
  });

  test('a token that would come after the deadline is refused at once, and not taken', async () => {
    const bucket = new TokenBucket('elbv2-targets', { capacity: 1, refillPerSecond: 4 });
    await bucket.take();
    // the next token is 250 ms away; the deadline is in 100 ms
    const refused = bucket.take(deadlineSignal(Date.now() + 100));
    await expect(refused).rejects.toThrow(PacingDeadlineError);
    await expect(bucket.take(deadlineSignal(Date.now() + 100))).rejects.toMatchObject({
      name: 'PacingDeadlineError',
      family: 'elbv2-targets',
      waitMs: 250,
      remainingMs: 100,
    });
    // nothing was reserved by the refusals: a caller with time gets the very next token
    const { settled, all } = takeMany(bucket, 1, deadlineSignal(Date.now() + 1_000));
    await jest.advanceTimersByTimeAsync(250);
    await all;
    expect(settled).toEqual([250]);
  });

  test('a token that comes in time is waited for', async () => {
    const bucket = new TokenBucket('auto-scaling', { capacity: 1, refillPerSecond: 5 });
    await bucket.take();
    const { settled, all } = takeMany(bucket, 1, deadlineSignal(Date.now() + 200));
    await jest.advanceTimersByTimeAsync(200);
    await all;
    expect(settled).toEqual([200]);
  });

  test('a plain abort signal ends the wait when it aborts, and the token goes to the next caller', async () => {
    const bucket = new TokenBucket('elbv2-targets', { capacity: 1, refillPerSecond: 1 });
    await bucket.take();
    const controller = new AbortController();
    const first = takeMany(bucket, 1, controller.signal);
    await jest.advanceTimersByTimeAsync(300);
    controller.abort();
    await first.all;
    expect(first.settled[0]).toBeInstanceOf(PacingDeadlineError);
    const second = takeMany(bucket, 1);
    await jest.advanceTimersByTimeAsync(1_000);
    await second.all;
    // the aborted caller gave its token back: the next caller waits only for the rest of the second
    expect(second.settled).toEqual([700]);
  });

  test('an aborted signal is refused before any wait', async () => {
    const bucket = new TokenBucket('ec2-describe', { capacity: 100, refillPerSecond: 20 });
    await expect(bucket.take(AbortSignal.abort())).rejects.toThrow(PacingDeadlineError);
    expect(bucket.available()).toBe(100);
  });

  test('refuses a bucket that could never give a token', () => {
    expect(() => new TokenBucket('auto-scaling', { capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucket('auto-scaling', { capacity: 5, refillPerSecond: 0 })).toThrow(RangeError);
  });
});

describe('families', () => {
  test.each([
    ['elbv2', 'DeregisterTargetsCommand', 'elbv2-targets'],
    ['elbv2', 'RegisterTargetsCommand', 'elbv2-targets'],
    ['elbv2', 'DescribeTargetHealthCommand', 'elbv2-describe'],
    ['elbv2', 'ModifyListenerCommand', undefined],
    ['ec2', 'DescribeInstancesCommand', 'ec2-describe'],
    ['ec2', 'TerminateInstancesCommand', undefined],
    ['auto-scaling', 'DetachInstancesCommand', 'auto-scaling'],
    ['auto-scaling', 'DescribeAutoScalingGroupsCommand', 'auto-scaling'],
  ] as const)('%s %s -> %s', (service, command, family) => {
    expect(familyOf(service, command)).toBe(family);
  });
});

describe('API_PACING', () => {
  test('the contract default is DEFAULT_PACING, and it round-trips', () => {
    expect(parsePacing(DEFAULTS.apiPacing)).toEqual(DEFAULT_PACING);
    expect(formatPacing(DEFAULT_PACING)).toBe(DEFAULTS.apiPacing);
  });

  test('overrides some families, turns others off, keeps the rest', () => {
    expect(parsePacing('auto-scaling=40/10, ec2-describe=off')).toEqual({
      ...DEFAULT_PACING,
      'auto-scaling': { capacity: 40, refillPerSecond: 10 },
      'ec2-describe': 'off',
    });
  });

  test.each(['elbv2=20/4', 'auto-scaling=20', 'auto-scaling=0/1', 'auto-scaling=5/0', 'auto-scaling=-1/2'])(
    'refuses %j, naming it',
    (text) => {
      expect(() => parsePacing(text)).toThrow(JSON.stringify(text.trim()));
    },
  );
});

describe('on the SDK clients', () => {
  /** Clients whose HTTP handler answers every request at once, counting them. */
  function clients(pacer: Pacer) {
    const sent: string[] = [];
    const requestHandler = {
      handle: async (request: { body?: unknown }) => {
        sent.push(String(request.body));
        const body = String(request.body).includes('DetachInstances')
          ? '<DetachInstancesResponse><DetachInstancesResult><Activities/></DetachInstancesResult></DetachInstancesResponse>'
          : '<DeregisterTargetsResponse><DeregisterTargetsResult/></DeregisterTargetsResponse>';
        return { response: { statusCode: 200, headers: {}, body: Readable.from([body]) } };
      },
    };
    const built = createAwsClients({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      pacing: pacer,
      requestHandler: requestHandler as never,
    });
    return { ...built, sent };
  }

  test('DeregisterTargets beyond the burst waits for the refill; Describe draws from its own bucket', async () => {
    const pacer = new Pacer();
    const { elbv2, sent } = clients(pacer);
    const calls = Array.from({ length: 22 }, (_, i) =>
      elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: `arn:tg/${i}`, Targets: [{ Id: 'i-1' }] })),
    );
    await until(() => sent.length >= 20);
    await settle(); // and no more: the other two wait for the refill, which fake time has not given
    expect(sent).toHaveLength(20);
    await elbv2.send(new DescribeTargetGroupsCommand({})).catch(() => undefined);
    expect(sent).toHaveLength(21);
    await jest.advanceTimersByTimeAsync(500);
    await Promise.all(calls);
    expect(sent).toHaveLength(23);
    expect(pacer.stats()['elbv2-targets']).toEqual({ calls: 22, waited: 2, totalWaitMs: 750, refused: 0 });
  });

  test('a call whose token comes after its deadline fails fast with PacingDeadlineError, unsent', async () => {
    const pacer = new Pacer({ ...DEFAULT_PACING, 'auto-scaling': { capacity: 1, refillPerSecond: 1 } });
    const { autoScaling, sent } = clients(pacer);
    await autoScaling.send(
      new DetachInstancesCommand({ AutoScalingGroupName: 'g', InstanceIds: ['i-1'], ShouldDecrementDesiredCapacity: false }),
    );
    const late = autoScaling.send(
      new DetachInstancesCommand({ AutoScalingGroupName: 'g', InstanceIds: ['i-2'], ShouldDecrementDesiredCapacity: false }),
      { abortSignal: deadlineSignal(Date.now() + 500) },
    );
    await expect(late).rejects.toMatchObject({ name: 'PacingDeadlineError', family: 'auto-scaling' });
    expect(sent).toHaveLength(1);
    expect(pacer.stats()['auto-scaling']).toMatchObject({ calls: 2, refused: 1 });
  });
});
