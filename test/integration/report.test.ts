/// <reference lib="dom" />
// `spot-responder report` end to end: records written by a real replay against the emulator
// (warnings, a rebalance recommendation, state changes), then the real CLI reads them back as
// a table, as JSON and as an HTML page, and the page is opened in a real headless Chromium.
//
// What moto cannot show: it sends no state changes (they are replayed here, as EC2 would send
// them), has no GetSpotPlacementScores (the market reports it as not read; the scores are
// unit-tested with a mocked client in test/unit/cli/report-spot-market.test.ts), and answers
// DescribeSpotPriceHistory with prices of its own making.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import puppeteer from 'puppeteer-core';
import { buildDemoFleet, type DemoFleet } from '../../dev/fleet';
import { createReplayer, type Replayer } from '../../cli/replay';
import { CHART_IDS, MARKET_CHART_ID } from '../../cli/report/html';
import type { ReportOutput } from '../../cli/report';
import { rebalanceRecommendationEvent, secondsAfter, spotWarningEvent, stateChangeEvent } from '../../cli/sample-events';
import { chromiumPath, NO_CHROMIUM_MESSAGE } from '../support/browser';
import { testEndpoint, useEmulator } from '../support/emulator-env';
import { destroyClients, eventTime, runCli, uniqueName } from '../support/integration';

useEmulator();
jest.setTimeout(180_000);

// Skipped, and saying so, where no Chromium is installed; .ci/run installs it, so CI runs it.
const inBrowser = chromiumPath() ? it : it.skip;
if (!chromiumPath()) console.warn(NO_CHROMIUM_MESSAGE);

const table = uniqueName('report');
let scratch: string;
let replayer: Replayer;
let fleet: DemoFleet;
let interrupted: string[];

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-report-'));
  replayer = await createReplayer({ endpointUrl: testEndpoint(), table, clock: 'event', refreshIndex: false });
  fleet = await buildDemoFleet(replayer.clients, { prefix: uniqueName('rp'), asgSize: 3 });
  interrupted = fleet.asgInstanceIds.slice(0, 2);
  const [first, second] = interrupted as [string, string];
  const warnedAt = eventTime(-10_000);
  // Two warnings; the first instance then shuts down 118 s into its notice (a real notice).
  for (const event of [
    spotWarningEvent(first, { time: warnedAt }),
    spotWarningEvent(second, { time: warnedAt }),
    stateChangeEvent(first, 'shutting-down', { time: secondsAfter(warnedAt, 118) }),
    rebalanceRecommendationEvent(fleet.asgInstanceIds[2] as string, { time: warnedAt }),
  ]) {
    const record = await replayer.replay(event);
    expect(['handled', 'skipped']).toContain(record.outcome);
  }
  // No replacement's state change is replayed: the index refresh names both replacements.
  expect(await replayer.refreshIndex()).toMatchObject({ replacementsNamed: 2 });
}, 180_000);

afterAll(() => {
  destroyClients(replayer.clients);
  fs.rmSync(scratch, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(['report', '--endpoint-url', testEndpoint(), '--table', table, '--since', '1h', ...args], 120_000);

describe('report against records of a replay', () => {
  let json: ReportOutput;
  const page = () => path.join(scratch, 'report.html');

  beforeAll(async () => {
    const run = await cli('--json', '--html', page());
    expect(run).toMatchObject({ code: 0, stderr: '' });
    json = JSON.parse(run.stdout) as ReportOutput;
  });

  it('counts each interruption in its pool (instance type x zone) and its group, with the real notice and timings', () => {
    expect(json.totals).toMatchObject({ interruptions: 2, failures: 0, rebalanceRecommendations: 1 });
    const pools = json.pools.filter((p) => p.interruptions > 0);
    // The pool comes from DescribeInstances on the hot path: the demo fleet launches t3.micro.
    expect(pools.every((p) => p.instanceType === 't3.micro' && fleet.availabilityZones.includes(p.availabilityZone ?? ''))).toBe(true);
    expect(pools.reduce((n, p) => n + p.interruptions, 0)).toBe(2);
    // A rebalance recommendation under rebalanceAction 'record' is recorded before any lookup:
    // it counts, with no group and no pool.
    expect(json.groups.map((g) => [g.group, g.interruptions, g.rebalanceRecommendations])).toEqual([
      [fleet.autoScalingGroupName, 2, 0],
      ['(no group)', 0, 1],
    ]);
    expect(json.pools.find((p) => p.pool === 'unknown')).toMatchObject({ interruptions: 0, rebalanceRecommendations: 1 });
    const rows = new Map(json.interruptions.map((r) => [r.instanceId, r]));
    expect(rows.get(interrupted[0] as string)).toMatchObject({ noticeMs: 118_000, failure: null });
    expect(rows.get(interrupted[1] as string)).toMatchObject({ noticeMs: null });
    for (const row of rows.values()) {
      expect(row.trafficStoppedMs).toEqual(expect.any(Number));
      expect(row.replacementLagMs).toEqual(expect.any(Number));
    }
    expect(json.totals.notice).toMatchObject({ count: 1, median: 118_000 });
    expect(json.spotMarket).toBeNull();
  });

  it('prints the same figures as a table', async () => {
    const run = await cli();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^2 interruptions from /);
    expect(run.stdout).toMatch(/PER POOL \(instance type x Availability Zone\)\n\s+pool\s+interruptions/);
    expect(run.stdout).toContain(fleet.autoScalingGroupName);
    expect(run.stdout).toMatch(/t3\.micro us-east-1[ab]/);
  });

  it('reads the Spot market with --spot-prices, and says what the emulator could not answer', async () => {
    const run = await cli('--json', '--spot-prices');
    expect(run.code).toBe(0);
    const market = (JSON.parse(run.stdout) as ReportOutput).spotMarket;
    expect(market).toMatchObject({ region: 'us-east-1', productDescription: 'Linux/UNIX' });
    expect(market?.pools.map((p) => p.instanceType)).toEqual(market?.pools.map(() => 't3.micro'));
    expect(market?.problems.some((p) => p.startsWith('GetSpotPlacementScores'))).toBe(true);
  });

  inBrowser('writes a self-contained page whose charts draw in a real Chromium, offline, without console errors', async () => {
    const executablePath = chromiumPath() as string;
    const html = fs.readFileSync(page(), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    const browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const tab = await browser.newPage();
      const problems: string[] = [];
      tab.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      tab.on('pageerror', (e) => problems.push(String(e)));
      // Offline: a page that fetched anything would fail here.
      await tab.setRequestInterception(true);
      tab.on('request', (r) => (r.url().startsWith('file:') ? void r.continue() : void r.abort()));
      await tab.goto(`file://${page()}`, { waitUntil: 'load' });
      await tab.waitForSelector('body[data-charts]');
      const drawn = await tab.$eval('body', (b) => Number(b.getAttribute('data-charts')));
      const inked = await tab.evaluate((ids: string[]) => {
        return ids.map((id) => {
          const canvas = document.getElementById(id) as HTMLCanvasElement | null;
          if (!canvas || canvas.width === 0 || canvas.height === 0) return 0;
          const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
          let count = 0;
          for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] ?? 0) > 0) count++;
          return count;
        });
      }, [...CHART_IDS]);
      expect(problems).toEqual([]);
      expect(drawn).toBe(CHART_IDS.length);
      expect(inked.every((n) => n > 500)).toBe(true);
      expect(await tab.$(`#${MARKET_CHART_ID}`)).toBeNull();
      await tab.screenshot({ path: path.join(scratch, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
