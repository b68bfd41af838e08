// `spot-responder report`: the recorded history as interruption analytics. Reads the records
// through the same reader as `history` (DynamoHistoryReader: the history index, day by day),
// aggregates them (aggregate.ts), optionally reads the Spot market (spot-market.ts), and prints
// a table, one JSON object, and/or writes a self-contained HTML page (html.ts).
import { writeFileSync } from 'node:fs';
import { DynamoHistoryReader } from '../../lambda/aws/store/history-reader';
import { clientsFor, regionOf, type AwsTarget } from '../aws-target';
import { formatTable } from '../format';
import { parseDuration } from '../history';
import { buildReport, type InterruptionReport, type Spread } from './aggregate';
import { renderPage } from './html';
import { readSpotMarket, type SpotMarket } from './spot-market';

export interface ReportOptions extends AwsTarget {
  table: string;
  /** How far back by event time, as `history` takes it: 30m, 6h, 7d, 2w. */
  since: string;
  json: boolean;
  /** Write the page here as well. */
  html?: string;
  spotPrices: boolean;
  candidateTypes?: string[];
  targetCapacity?: number;
}

/** What `--json` prints. */
export interface ReportOutput extends InterruptionReport {
  spotMarket: SpotMarket | null;
}

/**
 * Reads, aggregates, prints (and writes the page). Returns the output. AWS errors reading the
 * table propagate (the CLI exits 2); the market's failed reads are listed in its `problems`.
 * An unwritable --html path throws the file system's error, after the table or JSON was printed.
 */
export async function runReport(opts: ReportOptions, print: (line: string) => void, now: number = Date.now()): Promise<ReportOutput> {
  const since = new Date(now - parseDuration(opts.since)).toISOString();
  const until = new Date(now).toISOString();
  const clients = clientsFor(opts);
  try {
    const reader = new DynamoHistoryReader({ client: clients.dynamo, tableName: opts.table, now: () => new Date(now) });
    const report = buildReport(await reader.history({ since }), since, until);
    const spotMarket = opts.spotPrices
      ? await readSpotMarket(clients.ec2, {
          region: regionOf(opts),
          pools: report.pools,
          since,
          until,
          ...(opts.candidateTypes ? { candidateTypes: opts.candidateTypes } : {}),
          ...(opts.targetCapacity ? { targetCapacity: opts.targetCapacity } : {}),
        })
      : null;
    const output: ReportOutput = { ...report, spotMarket };
    if (opts.json) print(JSON.stringify(output));
    else formatReport(output).forEach((line) => print(line));
    if (opts.html) {
      writeFileSync(opts.html, renderPage({ report, spotMarket, generatedAt: until }));
      if (!opts.json) print(`\nwrote ${opts.html}`);
    }
    return output;
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

const s = (ms: number | null): string => (ms === null ? '–' : (ms / 1000).toFixed(1));
const spreadText = (x: Spread): string => (x.count === 0 ? '–' : `${s(x.median)} / ${s(x.p90)}`);

/** The report as terminal lines: totals, pools, groups, failures, then the market. */
export function formatReport(out: ReportOutput): string[] {
  const t = out.totals;
  const lines = [
    `${t.interruptions} interruption${t.interruptions === 1 ? '' : 's'} from ${out.since} to ${out.until} ` +
      `(${t.perDay.toFixed(2)} per day, ${t.failures} failed, ${t.rebalanceRecommendations} rebalance recommendation(s) without a warning; ${out.recordsRead} records read)`,
  ];
  if (out.recordsRead === 0) lines.push('no recorded events in that window');
  lines.push('', 'seconds as median / p90: notice from the warning, the others from the signal', '', 'PER POOL (instance type x Availability Zone)');
  lines.push(
    formatTable(
      ['pool', 'interruptions', 'per day', 'share', 'rebalance', 'notice s', 'traffic stopped s', 'replacement s', 'failures'],
      out.pools.map((p) => [
        p.pool,
        String(p.interruptions),
        p.perDay.toFixed(2),
        `${(p.share * 100).toFixed(0)}%`,
        String(p.rebalanceRecommendations),
        spreadText(p.notice),
        spreadText(p.trafficStopped),
        spreadText(p.replacementLag),
        String(p.failures),
      ]),
    ),
  );
  lines.push('', 'PER AUTO SCALING GROUP');
  lines.push(
    formatTable(
      ['group', 'interruptions', 'per day', 'pools', 'notice s', 'traffic stopped s', 'replacement s', 'failures'],
      out.groups.map((g) => [
        g.group,
        String(g.interruptions),
        g.perDay.toFixed(2),
        String(g.pools.length),
        spreadText(g.notice),
        spreadText(g.trafficStopped),
        spreadText(g.replacementLag),
        String(g.failures),
      ]),
    ),
  );
  const failures = out.interruptions.filter((r) => r.failure);
  if (failures.length > 0) {
    lines.push('', 'FAILURES');
    lines.push(formatTable(['warned at', 'instance', 'pool', 'why'], failures.map((r) => [r.warnedAt, r.instanceId ?? '?', r.pool, r.failure ?? ''])));
  }
  if (out.spotMarket) lines.push('', ...formatMarket(out.spotMarket));
  return lines;
}

function formatMarket(m: SpotMarket): string[] {
  const lines = [`SPOT MARKET (${m.region}, ${m.productDescription}, ${m.since} to ${m.until}, ${m.calls} EC2 calls)`];
  lines.push(
    formatTable(
      ['pool', 'interruptions/day', 'latest $/h', 'mean $/h', 'swing', 'zone score'],
      m.pools.map((p) => [
        p.pool,
        p.perDay.toFixed(2),
        p.prices ? String(p.prices.latest) : '–',
        p.prices ? String(p.prices.mean) : '–',
        p.prices ? `${(p.prices.swing * 100).toFixed(0)}%` : '–',
        p.zoneScore === null ? '–' : String(p.zoneScore),
      ]),
    ),
  );
  lines.push('', 'POOLS TO ADD');
  if (m.suggestions.length === 0) lines.push('  none meets the rule');
  else lines.push(formatTable(['pool', 'why'], m.suggestions.map((x) => [`${x.instanceType} ${x.availabilityZone}`, x.why])));
  lines.push(`  rule: ${m.rule}`);
  for (const p of m.problems) lines.push(`  not read: ${p}`);
  return lines;
}
