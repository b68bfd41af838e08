import 'aws-sdk-client-mock-jest';
import {
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  InvalidTargetException,
  TargetGroupNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { LoadBalancingAdapter } from '../../../lambda/aws/load-balancing';
import type { Deregistration } from '../../../lambda/core/model';
import { first } from '../../support/items';

const elbMock = mockClient(ElasticLoadBalancingV2Client);
const TG = 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef';
const INSTANCE_ID = 'i-0123456789abcdef0';

const deregistration = (extra: Partial<Deregistration> = {}): Deregistration => ({
  targetGroupArn: TG,
  targetId: INSTANCE_ID,
  source: 'target-index',
  ...extra,
});

describe('LoadBalancingAdapter.deregister', () => {
  beforeEach(() => elbMock.reset());

  it('deregisters the target with its port and availability zone', async () => {
    // Prepare
    elbMock.on(DeregisterTargetsCommand).resolves({});
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act
    const result = await first(adapter.deregister(TG, [deregistration({ targetId: '10.0.1.10', port: 8080, availabilityZone: 'all' })]));

    // Assess
    expect(result).toBe('ok');
    expect(elbMock).toHaveReceivedCommandWith(DeregisterTargetsCommand, {
      TargetGroupArn: TG,
      Targets: [{ Id: '10.0.1.10', Port: 8080, AvailabilityZone: 'all' }],
    });
  });

  it('sends only the id when there is no port or zone', async () => {
    // Prepare
    elbMock.on(DeregisterTargetsCommand).resolves({});
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act
    await first(adapter.deregister(TG, [deregistration()]));

    // Assess
    const [call] = elbMock.commandCalls(DeregisterTargetsCommand);
    expect(Object.keys(call?.args[0].input.Targets?.[0] ?? {})).toEqual(['Id']);
  });

  it.each([
    ['the target group is gone', new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: {} })],
    ['the target is gone', new InvalidTargetException({ message: `The following targets are not valid: ${INSTANCE_ID}`, $metadata: {} })],
  ])('reports not-registered when %s', async (_, error) => {
    // Prepare
    elbMock.on(DeregisterTargetsCommand).rejects(error);
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act
    const result = await first(adapter.deregister(TG, [deregistration()]));

    // Assess
    expect(result).toBe('not-registered');
  });

  it('issue 9 (the kind of 9.5): a retried DeregisterTargets that finds the target gone counts it deregistered: the lost attempt took effect', async () => {
    // Prepare: the first attempt's answer was lost (5xx, reset or timeout), the SDK's retry is
    // told the target is not there (what an emulator that drops deregistered targets answers).
    elbMock
      .on(DeregisterTargetsCommand)
      .rejects(new InvalidTargetException({ message: `The following targets are not valid: ${INSTANCE_ID}`, $metadata: { attempts: 2 } }));
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act
    const result = await first(adapter.deregister(TG, [deregistration()]));

    // Assess
    expect(result).toBe('ok');
  });

  it('issue 9: the targets of a retried chunk re-sent one by one after InvalidTarget count as deregistered when gone', async () => {
    // Prepare: the chunk of two was retried by the SDK, then refused; each target alone is refused at the first attempt.
    const other = 'i-0fedcba9876543210';
    elbMock
      .on(DeregisterTargetsCommand)
      .rejects(new InvalidTargetException({ message: 'The following targets are not valid', $metadata: { attempts: 1 } }))
      .on(DeregisterTargetsCommand, { Targets: [{ Id: INSTANCE_ID }, { Id: other }] })
      .rejects(new InvalidTargetException({ message: 'The following targets are not valid', $metadata: { attempts: 3 } }));
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act
    const results = await adapter.deregister(TG, [deregistration(), deregistration({ targetId: other })]);

    // Assess
    expect(results).toEqual([
      { ok: true, value: 'ok' },
      { ok: true, value: 'ok' },
    ]);
    expect(elbMock.commandCalls(DeregisterTargetsCommand)).toHaveLength(3);
  });

  it('a first-attempt InvalidTarget in a chunk still reports not-registered for the target that is gone', async () => {
    const other = 'i-0fedcba9876543210';
    elbMock
      .on(DeregisterTargetsCommand)
      .resolves({})
      .on(DeregisterTargetsCommand, { Targets: [{ Id: INSTANCE_ID }, { Id: other }] })
      .rejects(new InvalidTargetException({ message: 'The following targets are not valid', $metadata: { attempts: 1 } }))
      .on(DeregisterTargetsCommand, { Targets: [{ Id: other }] })
      .rejects(new InvalidTargetException({ message: 'The following targets are not valid', $metadata: { attempts: 1 } }));
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    const results = await adapter.deregister(TG, [deregistration(), deregistration({ targetId: other })]);

    expect(results).toEqual([
      { ok: true, value: 'ok' },
      { ok: true, value: 'not-registered' },
    ]);
  });

  it('rethrows other errors', async () => {
    // Prepare
    elbMock.on(DeregisterTargetsCommand).rejects(
      new ElasticLoadBalancingV2ServiceException({
        name: 'Throttling',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const adapter = new LoadBalancingAdapter(new ElasticLoadBalancingV2Client({}));

    // Act / Assess
    await expect(first(adapter.deregister(TG, [deregistration()]))).rejects.toMatchObject({ name: 'Throttling' });
  });
});
