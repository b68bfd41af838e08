// `report --spot-prices`: the Spot market beside the interruptions. For the pools the records
// name, and for candidate pools of the same shape, it reads the price history and the placement
// scores, then suggests pools to add by a rule stated in SUGGESTION_RULE (pure: suggestPools).
// Read-only: DescribeAvailabilityZones, DescribeInstanceTypes, DescribeSpotPriceHistory,
// GetSpotPlacementScores, all through the SDK's paginators on one EC2 client.
import {
  DescribeAvailabilityZonesCommand,
  paginateDescribeInstanceTypes,
  paginateDescribeSpotPriceHistory,
  paginateGetSpotPlacementScores,
  type EC2Client,
  type InstanceTypeInfo,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { errorInfo } from '../../lambda/aws/clients';
import type { PoolSummary } from './aggregate';

/** The product whose prices are read: the common case, and the one AWS quotes in the Spot price history console. */
export const PRODUCT_DESCRIPTION = 'Linux/UNIX';
/** AWS keeps 90 days of Spot price history (DescribeSpotPriceHistory). */
export const PRICE_HISTORY_LIMIT_MS = 90 * 86_400_000;
/** Candidate instance types considered per shape: the cheapest by latest price are kept after the price read. */
export const CANDIDATES_PER_SHAPE = 12;
/** Suggestions printed at most. */
export const MAX_SUGGESTIONS = 5;

/**
 * The heuristic, as the report prints it. Thresholds: a candidate may cost up to 20 % more than
 * the median latest price of the pools in use of its shape (diversifying is worth a little), and
 * its price may have moved by at most 25 % of its mean over the window (a price that swings is
 * capacity others are fighting over, which is what interrupts Spot instances).
 */
export const SUGGESTION_RULE = {
  maxPriceRatio: 1.2,
  maxPriceSwing: 0.25,
  text:
    'A pool is suggested when it is an instance type of the same shape as one you run (same vCPUs, memory and ' +
    'architecture, current generation) in an Availability Zone you already use, that you do not run yet, with Spot ' +
    'prices in the window, a latest price at most 1.2 x the median latest price of your pools of that shape, and a ' +
    'price swing ((max - min) / mean over the window) of at most 0.25. Ranked by latest price, then swing. The ' +
    "placement score beside it is the Availability Zone's score for your types plus the candidates " +
    '(GetSpotPlacementScores scores a set of types per zone, not one pool).',
} as const;

/** One pool's Spot prices over the window (USD per hour, as DescribeSpotPriceHistory gives them). */
export interface PoolPrices {
  instanceType: string;
  availabilityZone: string;
  latest: number;
  mean: number;
  min: number;
  max: number;
  /** (max - min) / mean: 0 for a flat price. */
  swing: number;
  points: number;
}

/** A placement score (1..10) per Availability Zone, for a set of instance types. */
export interface ZoneScores {
  instanceTypes: string[];
  /** By zone name; zones EC2 did not score are absent. */
  byZone: Record<string, number>;
}

export interface Suggestion {
  instanceType: string;
  availabilityZone: string;
  latest: number;
  swing: number;
  /** The shape's in-use pools' median latest price, the reference for maxPriceRatio. */
  referencePrice: number;
  /** The zone's score with the candidates added, and without; null when not scored. */
  zoneScoreWithCandidates: number | null;
  zoneScoreNow: number | null;
  why: string;
}

/** What `--spot-prices` adds to the report (`spotMarket` in --json). */
export interface SpotMarket {
  region: string;
  since: string;
  until: string;
  productDescription: string;
  /** Each pool of the report (known type and zone) with its prices and its zone's score. */
  pools: (Pick<PoolSummary, 'pool' | 'instanceType' | 'availabilityZone' | 'interruptions' | 'perDay'> & {
    prices: PoolPrices | null;
    zoneScore: number | null;
  })[];
  candidateTypes: string[];
  scoresNow: ZoneScores | null;
  scoresWithCandidates: ZoneScores | null;
  suggestions: Suggestion[];
  rule: string;
  /** Reads that failed (AccessDenied, not supported by an emulator ...): the rest is still shown. */
  problems: string[];
  calls: number;
}

export interface SpotMarketOptions {
  region: string;
  pools: readonly PoolSummary[];
  /** The window, ISO; the price history is read over it, at most the last 90 days. */
  since: string;
  until: string;
  /** More instance types to consider, besides the same-shape ones EC2 lists. */
  candidateTypes?: readonly string[];
  /** GetSpotPlacementScores TargetCapacity, in instances. @default 10 */
  targetCapacity?: number;
}

/**
 * Reads the market for the report's pools. Never throws for an AWS refusal: each failed read
 * is listed in `problems` (its error name and message) and what depends on it is left null.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetSpotPlacementScores.html
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypes.html
 */
export async function readSpotMarket(ec2: EC2Client, opts: SpotMarketOptions): Promise<SpotMarket> {
  const problems: string[] = [];
  let calls = 0;
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | null> => {
    try {
      return await read();
    } catch (err) {
      const info = errorInfo(err);
      problems.push(`${what}: ${info.name}: ${info.message}`);
      return null;
    }
  };
  const known = opts.pools.filter((p): p is PoolSummary & { instanceType: string; availabilityZone: string } =>
    Boolean(p.instanceType && p.availabilityZone),
  );
  const typesInUse = [...new Set(known.map((p) => p.instanceType))].sort();
  const zonesInUse = [...new Set(known.map((p) => p.availabilityZone))].sort();
  const until = new Date(opts.until);
  const since = new Date(Math.max(Date.parse(opts.since), until.getTime() - PRICE_HISTORY_LIMIT_MS));

  const shapes = typesInUse.length === 0 ? null : await attempt('DescribeInstanceTypes (types in use)', async () => {
    const infos: InstanceTypeInfo[] = [];
    for await (const page of paginateDescribeInstanceTypes({ client: ec2 }, { InstanceTypes: typesInUse as _InstanceType[] })) {
      calls++;
      infos.push(...(page.InstanceTypes ?? []));
    }
    return infos;
  });
  const shapeOf = new Map<string, string>();
  const sameShape = new Map<string, string[]>();
  for (const info of shapes ?? []) {
    const shape = shapeKey(info);
    if (!info.InstanceType || !shape) continue;
    shapeOf.set(info.InstanceType, shape);
    if (sameShape.has(shape)) continue;
    const listed = await attempt(`DescribeInstanceTypes (same shape as ${info.InstanceType})`, async () => {
      const names: string[] = [];
      for await (const page of paginateDescribeInstanceTypes({ client: ec2 }, { Filters: shapeFilters(info) })) {
        calls++;
        for (const t of page.InstanceTypes ?? []) if (t.InstanceType) names.push(t.InstanceType);
      }
      return names;
    });
    sameShape.set(shape, (listed ?? []).filter((t) => !typesInUse.includes(t)).sort());
  }
  const explicit = (opts.candidateTypes ?? []).filter((t) => !typesInUse.includes(t));
  const candidatePool = [...new Set([...[...sameShape.values()].flat(), ...explicit])].sort();

  const prices = typesInUse.length === 0 ? null : await attempt('DescribeSpotPriceHistory', async () => {
    const points: { instanceType: string; availabilityZone: string; price: number; at: number }[] = [];
    for await (const page of paginateDescribeSpotPriceHistory(
      { client: ec2, pageSize: 1000 },
      {
        InstanceTypes: [...typesInUse, ...candidatePool] as _InstanceType[],
        ProductDescriptions: [PRODUCT_DESCRIPTION],
        StartTime: since,
        EndTime: until,
      },
    )) {
      calls++;
      for (const p of page.SpotPriceHistory ?? []) {
        const price = Number(p.SpotPrice);
        if (!p.InstanceType || !p.AvailabilityZone || !Number.isFinite(price)) continue;
        points.push({ instanceType: p.InstanceType, availabilityZone: p.AvailabilityZone, price, at: p.Timestamp?.getTime() ?? 0 });
      }
    }
    return poolPrices(points);
  });
  const priceOf = (type: string, zone: string) => prices?.find((p) => p.instanceType === type && p.availabilityZone === zone) ?? null;

  // Keep the candidates that have prices in the zones in use, the cheapest first, per shape.
  const candidateTypes = candidatePool.filter((type) => zonesInUse.some((zone) => priceOf(type, zone)));
  const trimmed = trimPerShape(candidateTypes, sameShape, (type) =>
    Math.min(...zonesInUse.map((zone) => priceOf(type, zone)?.latest ?? Number.POSITIVE_INFINITY)),
  ).concat(explicit.filter((t) => candidateTypes.includes(t)));
  const candidates = [...new Set(trimmed)].sort();

  const zoneNames = zonesInUse.length === 0 ? null : await attempt('DescribeAvailabilityZones', async () => {
    calls++;
    const out = await ec2.send(new DescribeAvailabilityZonesCommand({ AllAvailabilityZones: false }));
    return new Map((out.AvailabilityZones ?? []).flatMap((z) => (z.ZoneId && z.ZoneName ? [[z.ZoneId, z.ZoneName] as const] : [])));
  });
  const scores = async (types: string[]): Promise<ZoneScores | null> => {
    if (types.length === 0 || !zoneNames) return null;
    return attempt(`GetSpotPlacementScores (${types.join(', ')})`, async () => {
      const byZone: Record<string, number> = {};
      for await (const page of paginateGetSpotPlacementScores(
        { client: ec2 },
        {
          InstanceTypes: types,
          TargetCapacity: opts.targetCapacity ?? 10,
          TargetCapacityUnitType: 'units',
          SingleAvailabilityZone: true,
          RegionNames: [opts.region],
        },
      )) {
        calls++;
        for (const s of page.SpotPlacementScores ?? []) {
          const zone = s.AvailabilityZoneId ? zoneNames.get(s.AvailabilityZoneId) : undefined;
          if (zone && typeof s.Score === 'number') byZone[zone] = s.Score;
        }
      }
      return { instanceTypes: types, byZone };
    });
  };
  // Two configurations, not one per pool: the score is for a set of types, and AWS limits how
  // many configurations an account may score in a day.
  const scoresNow = await scores(typesInUse);
  const scoresWithCandidates = candidates.length > 0 ? await scores([...typesInUse, ...candidates]) : null;

  return {
    region: opts.region,
    since: since.toISOString(),
    until: until.toISOString(),
    productDescription: PRODUCT_DESCRIPTION,
    pools: known.map((p) => ({
      pool: p.pool,
      instanceType: p.instanceType,
      availabilityZone: p.availabilityZone,
      interruptions: p.interruptions,
      perDay: p.perDay,
      prices: priceOf(p.instanceType, p.availabilityZone),
      zoneScore: scoresNow?.byZone[p.availabilityZone] ?? null,
    })),
    candidateTypes: candidates,
    scoresNow,
    scoresWithCandidates,
    suggestions: suggestPools({
      inUse: known.map((p) => ({ instanceType: p.instanceType, availabilityZone: p.availabilityZone })),
      candidates,
      shapeOf,
      prices: prices ?? [],
      scoresNow,
      scoresWithCandidates,
    }),
    rule: SUGGESTION_RULE.text,
    problems,
    calls,
  };
}

/** A type's shape: default vCPUs, memory (MiB) and architectures; null when EC2 did not say. */
function shapeKey(info: InstanceTypeInfo): string | null {
  const vcpus = info.VCpuInfo?.DefaultVCpus;
  const memory = info.MemoryInfo?.SizeInMiB;
  const arch = [...(info.ProcessorInfo?.SupportedArchitectures ?? [])].sort().join('+');
  return vcpus && memory && arch ? `${vcpus}vcpu/${memory}MiB/${arch}` : null;
}

function shapeFilters(info: InstanceTypeInfo) {
  return [
    { Name: 'vcpu-info.default-vcpus', Values: [String(info.VCpuInfo?.DefaultVCpus)] },
    { Name: 'memory-info.size-in-mib', Values: [String(info.MemoryInfo?.SizeInMiB)] },
    { Name: 'processor-info.supported-architecture', Values: [...(info.ProcessorInfo?.SupportedArchitectures ?? [])] },
    { Name: 'current-generation', Values: ['true'] },
    { Name: 'supported-usage-class', Values: ['spot'] },
  ];
}

/** Per shape, the CANDIDATES_PER_SHAPE cheapest candidates. */
function trimPerShape(
  types: string[],
  sameShape: Map<string, string[]>,
  cost: (type: string) => number,
): string[] {
  const kept: string[] = [];
  for (const members of sameShape.values()) {
    kept.push(...types.filter((t) => members.includes(t)).sort((a, b) => cost(a) - cost(b) || a.localeCompare(b)).slice(0, CANDIDATES_PER_SHAPE));
  }
  return kept;
}

/**
 * Price points to one summary per pool (latest by timestamp; mean, min, max over the points;
 * swing = (max - min) / mean). Pure.
 */
export function poolPrices(points: readonly { instanceType: string; availabilityZone: string; price: number; at: number }[]): PoolPrices[] {
  const byPool = new Map<string, typeof points[number][]>();
  for (const p of points) {
    const key = `${p.instanceType} ${p.availabilityZone}`;
    byPool.set(key, [...(byPool.get(key) ?? []), p]);
  }
  return [...byPool.values()].map((ps) => {
    const prices = ps.map((p) => p.price);
    const mean = prices.reduce((a, b) => a + b, 0) / prices.length;
    const min = Math.min(...prices);
    const max = Math.max(...prices);
    const latest = ps.reduce((a, b) => (b.at > a.at ? b : a));
    const first = ps[0] as (typeof ps)[number];
    return {
      instanceType: first.instanceType,
      availabilityZone: first.availabilityZone,
      latest: latest.price,
      mean: roundPrice(mean),
      min,
      max,
      swing: mean > 0 ? Math.round(((max - min) / mean) * 1000) / 1000 : 0,
      points: ps.length,
    };
  });
}

export interface SuggestionInput {
  inUse: { instanceType: string; availabilityZone: string }[];
  candidates: readonly string[];
  /** Instance type to shape (shapeKey); a candidate named by the user may have none. */
  shapeOf: ReadonlyMap<string, string>;
  prices: readonly PoolPrices[];
  scoresNow: ZoneScores | null;
  scoresWithCandidates: ZoneScores | null;
}

/**
 * SUGGESTION_RULE applied: pure, so the rule is tested on its own. A candidate without a known
 * shape (named with --candidate-types and not described) is compared with every pool in use.
 */
export function suggestPools(input: SuggestionInput): Suggestion[] {
  const zones = [...new Set(input.inUse.map((p) => p.availabilityZone))].sort();
  const inUse = new Set(input.inUse.map((p) => `${p.instanceType} ${p.availabilityZone}`));
  const price = (type: string, zone: string) => input.prices.find((p) => p.instanceType === type && p.availabilityZone === zone);
  const suggestions: Suggestion[] = [];
  for (const type of input.candidates) {
    const shape = input.shapeOf.get(type);
    const peers = input.inUse.filter((p) => !shape || input.shapeOf.get(p.instanceType) === shape);
    const reference = median(peers.flatMap((p) => price(p.instanceType, p.availabilityZone)?.latest ?? []));
    if (reference === null) continue;
    for (const zone of zones) {
      if (inUse.has(`${type} ${zone}`)) continue;
      const p = price(type, zone);
      if (!p) continue;
      if (p.latest > reference * SUGGESTION_RULE.maxPriceRatio || p.swing > SUGGESTION_RULE.maxPriceSwing) continue;
      const withCandidates = input.scoresWithCandidates?.byZone[zone] ?? null;
      const now = input.scoresNow?.byZone[zone] ?? null;
      suggestions.push({
        instanceType: type,
        availabilityZone: zone,
        latest: p.latest,
        swing: p.swing,
        referencePrice: reference,
        zoneScoreWithCandidates: withCandidates,
        zoneScoreNow: now,
        why:
          `$${p.latest}/h (your pools of this shape: $${reference}/h), price swing ${(p.swing * 100).toFixed(0)} %` +
          (withCandidates !== null && now !== null ? `; ${zone} scores ${now} -> ${withCandidates} with the candidates` : ''),
      });
    }
  }
  return suggestions
    .sort((a, b) => a.latest - b.latest || a.swing - b.swing || `${a.instanceType} ${a.availabilityZone}`.localeCompare(`${b.instanceType} ${b.availabilityZone}`))
    .slice(0, MAX_SUGGESTIONS);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return roundPrice(sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

function roundPrice(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
