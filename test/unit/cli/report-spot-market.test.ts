// `report --spot-prices` (cli/report/spot-market.ts) through a mocked EC2 client: what is asked
// of EC2, how prices and placement scores land beside each pool, and the suggestion rule.
// moto has DescribeSpotPriceHistory with made-up prices and no GetSpotPlacementScores, so the
// market's figures and every refusal are shown here, with the real SDK paginators.
import 'aws-sdk-client-mock-jest';
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypesCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  EC2ServiceException,
  GetSpotPlacementScoresCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { buildReport } from '../../../cli/report/aggregate';
import { poolPrices, readSpotMarket, suggestPools, SUGGESTION_RULE } from '../../../cli/report/spot-market';
import type { ResponseRecord } from '../../../lambda/core/model';
import { SPOT_INTERRUPTION_WARNING } from '../../../lambda/events/detail-types';

const ec2Mock = mockClient(EC2Client);
const SINCE = '2026-11-01T00:00:00.000Z';
const UNTIL = '2026-11-08T00:00:00.000Z';

function warning(eventId: string, instanceType: string, availabilityZone: string): ResponseRecord {
  return {
    eventId,
    eventTime: '2026-11-03T10:00:00Z',
    detailType: SPOT_INTERRUPTION_WARNING,
    instanceId: `i-${eventId}`,
    instanceAction: 'terminate',
    account: '111122223333',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: 'web',
    instanceType,
    availabilityZone,
    targetGroups: [],
    deregisteredFrom: [],
    detached: true,
    actions: [],
    deadline: null,
    msLeftAtFinish: 100_000,
    receivedAt: '2026-11-03T10:00:01.000Z',
    finishedAt: '2026-11-03T10:00:02.000Z',
  };
}

const m5 = { InstanceType: 'm5.large' as const, VCpuInfo: { DefaultVCpus: 2 }, MemoryInfo: { SizeInMiB: 8192 }, ProcessorInfo: { SupportedArchitectures: ['x86_64' as const] } };
const price = (type: string, zone: string, value: string, at: string) => ({
  InstanceType: type as 'm5.large',
  AvailabilityZone: zone,
  SpotPrice: value,
  Timestamp: new Date(at),
  ProductDescription: 'Linux/UNIX' as const,
});

function marketWorld() {
  // The types in use are asked for by name; the same-shape listing (by filters) comes in two pages.
  ec2Mock.on(DescribeInstanceTypesCommand).callsFake((input: { InstanceTypes?: string[]; NextToken?: string }) => {
    if (input.InstanceTypes) return { InstanceTypes: [m5] };
    return input.NextToken === 'page-2'
      ? { InstanceTypes: [{ InstanceType: 'm6i.large' }, { InstanceType: 'm4.large' }] }
      : { InstanceTypes: [m5, { InstanceType: 'm5a.large' }], NextToken: 'page-2' };
  });
  ec2Mock.on(DescribeSpotPriceHistoryCommand).resolves({
    SpotPriceHistory: [
      price('m5.large', 'eu-west-1a', '0.040', '2026-11-07T00:00:00Z'),
      price('m5.large', 'eu-west-1a', '0.036', '2026-11-02T00:00:00Z'),
      price('m5a.large', 'eu-west-1a', '0.035', '2026-11-07T00:00:00Z'),
      price('m5a.large', 'eu-west-1a', '0.034', '2026-11-02T00:00:00Z'),
      // cheap but swinging: capacity others fight over
      price('m6i.large', 'eu-west-1a', '0.030', '2026-11-07T00:00:00Z'),
      price('m6i.large', 'eu-west-1a', '0.060', '2026-11-02T00:00:00Z'),
      // too dear
      price('m4.large', 'eu-west-1a', '0.090', '2026-11-07T00:00:00Z'),
    ],
  });
  ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
    AvailabilityZones: [
      { ZoneName: 'eu-west-1a', ZoneId: 'euw1-az1' },
      { ZoneName: 'eu-west-1b', ZoneId: 'euw1-az2' },
    ],
  });
  ec2Mock.on(GetSpotPlacementScoresCommand, { InstanceTypes: ['m5.large'] }).resolves({
    SpotPlacementScores: [{ AvailabilityZoneId: 'euw1-az1', Score: 3, Region: 'eu-west-1' }],
  });
  ec2Mock.on(GetSpotPlacementScoresCommand, { InstanceTypes: ['m5.large', 'm4.large', 'm5a.large', 'm6i.large'] }).resolves({
    SpotPlacementScores: [{ AvailabilityZoneId: 'euw1-az1', Score: 8, Region: 'eu-west-1' }],
  });
}

describe('readSpotMarket', () => {
  beforeEach(() => ec2Mock.reset());

  it('reads prices and scores for the pools in use and same-shape candidates, and suggests the cheap, steady ones', async () => {
    // Prepare
    marketWorld();
    const report = buildReport([warning('a', 'm5.large', 'eu-west-1a'), warning('b', 'm5.large', 'eu-west-1a')], SINCE, UNTIL);

    // Act
    const market = await readSpotMarket(new EC2Client({ region: 'eu-west-1' }), { region: 'eu-west-1', pools: report.pools, since: SINCE, until: UNTIL });

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstanceTypesCommand, {
      Filters: expect.arrayContaining([
        { Name: 'vcpu-info.default-vcpus', Values: ['2'] },
        { Name: 'memory-info.size-in-mib', Values: ['8192'] },
        { Name: 'processor-info.supported-architecture', Values: ['x86_64'] },
        { Name: 'current-generation', Values: ['true'] },
      ]),
    });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeSpotPriceHistoryCommand, {
      ProductDescriptions: ['Linux/UNIX'],
      StartTime: new Date(SINCE),
      EndTime: new Date(UNTIL),
      InstanceTypes: ['m5.large', 'm4.large', 'm5a.large', 'm6i.large'],
    });
    expect(ec2Mock).toHaveReceivedCommandWith(GetSpotPlacementScoresCommand, {
      SingleAvailabilityZone: true,
      RegionNames: ['eu-west-1'],
      TargetCapacity: 10,
      TargetCapacityUnitType: 'units',
    });
    expect(ec2Mock).toHaveReceivedCommandTimes(GetSpotPlacementScoresCommand, 2);
    expect(market.pools).toEqual([
      expect.objectContaining({ pool: 'm5.large eu-west-1a', interruptions: 2, zoneScore: 3, prices: expect.objectContaining({ latest: 0.04, min: 0.036, max: 0.04 }) }),
    ]);
    expect(market.suggestions).toEqual([
      expect.objectContaining({ instanceType: 'm5a.large', availabilityZone: 'eu-west-1a', referencePrice: 0.04, zoneScoreNow: 3, zoneScoreWithCandidates: 8 }),
    ]);
    expect(market.suggestions[0]?.why).toMatch(/eu-west-1a scores 3 -> 8/);
    expect(market.problems).toEqual([]);
    expect(market.calls).toBe(7);
  });

  it('lists a refused read as a problem and still shows what it could read', async () => {
    // Prepare
    marketWorld();
    ec2Mock.on(GetSpotPlacementScoresCommand).rejects(
      new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', message: 'not authorized to perform ec2:GetSpotPlacementScores', $metadata: {} }),
    );
    const report = buildReport([warning('a', 'm5.large', 'eu-west-1a')], SINCE, UNTIL);

    // Act
    const market = await readSpotMarket(new EC2Client({ region: 'eu-west-1' }), { region: 'eu-west-1', pools: report.pools, since: SINCE, until: UNTIL });

    // Assess
    expect(market.problems).toEqual([expect.stringMatching(/^GetSpotPlacementScores \(m5.large\): UnauthorizedOperation/), expect.stringMatching(/^GetSpotPlacementScores/)]);
    expect(market.pools[0]).toMatchObject({ zoneScore: null, prices: expect.objectContaining({ latest: 0.04 }) });
    expect(market.suggestions.map((s) => s.instanceType)).toEqual(['m5a.large']);
  });

  it('asks EC2 nothing when no record names a pool', async () => {
    const report = buildReport([], SINCE, UNTIL);
    const market = await readSpotMarket(new EC2Client({ region: 'eu-west-1' }), { region: 'eu-west-1', pools: report.pools, since: SINCE, until: UNTIL });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(market).toMatchObject({ pools: [], suggestions: [], calls: 0 });
  });

  it('reads at most the 90 days of price history AWS keeps', async () => {
    marketWorld();
    const report = buildReport([warning('a', 'm5.large', 'eu-west-1a')], '2026-01-01T00:00:00.000Z', UNTIL);
    await readSpotMarket(new EC2Client({ region: 'eu-west-1' }), { region: 'eu-west-1', pools: report.pools, since: '2026-01-01T00:00:00.000Z', until: UNTIL });
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeSpotPriceHistoryCommand, { StartTime: new Date(Date.parse(UNTIL) - 90 * 86_400_000) });
  });
});

describe('suggestPools', () => {
  const shapeOf = new Map([
    ['m5.large', '2/8192/x86_64'],
    ['m5a.large', '2/8192/x86_64'],
    ['c5.large', '2/4096/x86_64'],
  ]);
  const p = (instanceType: string, availabilityZone: string, latest: number, swing = 0) => ({
    instanceType,
    availabilityZone,
    latest,
    mean: latest,
    min: latest,
    max: latest,
    swing,
    points: 1,
  });

  it('compares a candidate only with pools of its own shape, and never suggests a pool in use', () => {
    const suggestions = suggestPools({
      inUse: [
        { instanceType: 'm5.large', availabilityZone: 'a' },
        { instanceType: 'c5.large', availabilityZone: 'a' },
        { instanceType: 'm5a.large', availabilityZone: 'b' },
      ],
      candidates: ['m5a.large'],
      shapeOf,
      prices: [p('m5.large', 'a', 0.1), p('c5.large', 'a', 0.01), p('m5a.large', 'a', 0.08), p('m5a.large', 'b', 0.05)],
      scoresNow: null,
      scoresWithCandidates: null,
    });
    expect(suggestions.map((s) => `${s.instanceType} ${s.availabilityZone}`)).toEqual(['m5a.large a']);
    // the median of m5.large in a (0.1) and m5a.large in b (0.05); c5.large's 0.01 is another shape
    expect(suggestions[0]?.referencePrice).toBe(0.075);
    expect(0.08).toBeLessThanOrEqual(0.075 * SUGGESTION_RULE.maxPriceRatio);
  });

  it('drops a candidate above the price ceiling or with a price swing above the limit', () => {
    const base = { inUse: [{ instanceType: 'm5.large', availabilityZone: 'a' }], candidates: ['m5a.large'], shapeOf, scoresNow: null, scoresWithCandidates: null };
    expect(suggestPools({ ...base, prices: [p('m5.large', 'a', 0.1), p('m5a.large', 'a', 0.121)] })).toEqual([]);
    expect(suggestPools({ ...base, prices: [p('m5.large', 'a', 0.1), p('m5a.large', 'a', 0.05, 0.26)] })).toEqual([]);
    expect(suggestPools({ ...base, prices: [p('m5.large', 'a', 0.1), p('m5a.large', 'a', 0.05, 0.25)] })).toHaveLength(1);
  });
});

describe('poolPrices', () => {
  it('takes the latest price by time, not by order, and the swing over the mean', () => {
    const [summary] = poolPrices([
      { instanceType: 't', availabilityZone: 'z', price: 0.2, at: 2 },
      { instanceType: 't', availabilityZone: 'z', price: 0.1, at: 3 },
      { instanceType: 't', availabilityZone: 'z', price: 0.3, at: 1 },
    ]);
    expect(summary).toEqual({ instanceType: 't', availabilityZone: 'z', latest: 0.1, mean: 0.2, min: 0.1, max: 0.3, swing: 1, points: 3 });
  });
});
