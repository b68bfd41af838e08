// `report --html FILE`: one self-contained page (no network: Chart.js is read from node_modules
// and inlined, the data is embedded as JSON), so it can be mailed, archived or opened offline.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InterruptionReport } from './aggregate';
import type { SpotMarket } from './spot-market';

/** What the page is drawn from: the report, and the market when --spot-prices read it. */
export interface PageData {
  report: InterruptionReport;
  spotMarket?: SpotMarket | null;
  generatedAt: string;
}

/** The ids of the page's charts: the browser test checks each one drew. */
export const CHART_IDS = ['chart-daily', 'chart-pools', 'chart-groups', 'chart-timings'] as const;
export const MARKET_CHART_ID = 'chart-market';

/**
 * The Chart.js UMD build (one file defining the global `Chart`), from the installed package:
 * `chart.js` resolves to dist/chart.cjs, and the UMD build sits beside it (the package's
 * exports do not name it). Throws when chart.js is not installed.
 */
export function chartJsSource(): string {
  const dist = dirname(require.resolve('chart.js'));
  return readFileSync(join(dist, 'chart.umd.min.js'), 'utf8');
}

/** JSON safe inside a <script> element: no `<` can close it or open a comment. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Text safe inside HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const seconds = (ms: number | null): string => (ms === null ? '–' : (ms / 1000).toFixed(1));

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="empty">none</p>';
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/**
 * The page: totals, four charts (interruptions per day with failures, per pool, per group, and
 * the median notice / traffic stopped / replacement lag per pool), the tables behind them, and
 * with a market a fifth chart (interruptions per day against the latest Spot price per pool)
 * and the suggestions. `library` is the charting code to inline (chartJsSource by default).
 */
export function renderPage(data: PageData, library: string = chartJsSource()): string {
  const { report, spotMarket } = data;
  const t = report.totals;
  const poolRows = report.pools.map((p) => [
    p.pool,
    String(p.interruptions),
    p.perDay.toFixed(2),
    `${(p.share * 100).toFixed(0)} %`,
    String(p.rebalanceRecommendations),
    seconds(p.notice.median),
    seconds(p.trafficStopped.median),
    seconds(p.replacementLag.median),
    String(p.failures),
  ]);
  const groupRows = report.groups.map((g) => [
    g.group,
    String(g.interruptions),
    g.perDay.toFixed(2),
    g.pools.join(', '),
    seconds(g.notice.median),
    seconds(g.trafficStopped.median),
    seconds(g.replacementLag.median),
    String(g.failures),
  ]);
  const failureRows = report.interruptions
    .filter((r) => r.failure)
    .map((r) => [r.warnedAt, r.instanceId ?? '?', r.pool, r.autoScalingGroup ?? '', r.failure ?? '']);
  const interruptionRows = report.interruptions.map((r) => [
    r.warnedAt,
    r.instanceId ?? '?',
    r.pool,
    r.autoScalingGroup ?? '',
    r.outcome,
    seconds(r.noticeMs),
    seconds(r.trafficStoppedMs),
    seconds(r.replacementLagMs),
  ]);
  const market = spotMarket
    ? `<h2>Spot market (${escapeHtml(spotMarket.region)}, ${escapeHtml(spotMarket.productDescription)})</h2>
<div class="chart"><canvas id="${MARKET_CHART_ID}"></canvas></div>
${table(
  ['pool', 'interruptions / day', 'latest $/h', 'mean $/h', 'swing', 'zone score'],
  spotMarket.pools.map((p) => [
    p.pool,
    p.perDay.toFixed(2),
    p.prices ? String(p.prices.latest) : '–',
    p.prices ? String(p.prices.mean) : '–',
    p.prices ? `${(p.prices.swing * 100).toFixed(0)} %` : '–',
    p.zoneScore === null ? '–' : String(p.zoneScore),
  ]),
)}
<h3>Pools to add</h3>
<p class="rule">${escapeHtml(spotMarket.rule)}</p>
${table(['pool', 'why'], spotMarket.suggestions.map((s) => [`${s.instanceType} ${s.availabilityZone}`, s.why]))}
${spotMarket.problems.length > 0 ? `<p class="problems">Not read: ${spotMarket.problems.map(escapeHtml).join('<br>')}</p>` : ''}`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spot-responder report ${escapeHtml(report.since.slice(0, 10))} to ${escapeHtml(report.until.slice(0, 10))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.totals { display: flex; gap: 2rem; flex-wrap: wrap; }
.totals div { background: #f4f6f8; padding: .6rem 1rem; border-radius: 6px; }
.totals b { display: block; font-size: 1.3rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1.5rem; }
.chart { position: relative; height: 300px; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f4f6f8; } .empty, .rule, .problems { color: #555; } .problems { color: #a33; }
</style>
</head>
<body>
<h1>Spot interruptions, ${escapeHtml(report.since)} to ${escapeHtml(report.until)}</h1>
<p>From ${report.recordsRead} records of the spot-responder table; generated ${escapeHtml(data.generatedAt)}. Times in seconds from the signal (notice: from the warning).</p>
<div class="totals">
<div><b>${t.interruptions}</b>interruptions</div>
<div><b>${t.perDay.toFixed(2)}</b>per day</div>
<div><b>${t.failures}</b>failures</div>
<div><b>${seconds(t.notice.median)} s</b>median real notice</div>
<div><b>${seconds(t.trafficStopped.median)} s</b>median to traffic stopped</div>
<div><b>${seconds(t.replacementLag.median)} s</b>median replacement lag</div>
<div><b>${t.rebalanceRecommendations}</b>rebalance recommendations without a warning</div>
</div>
<div class="charts">
${CHART_IDS.map((id) => `<div class="chart"><canvas id="${id}"></canvas></div>`).join('\n')}
</div>
<h2>Per pool (instance type × Availability Zone)</h2>
${table(['pool', 'interruptions', 'per day', 'share', 'rebalance', 'notice s (median)', 'traffic stopped s', 'replacement s', 'failures'], poolRows)}
<h2>Per Auto Scaling group</h2>
${table(['group', 'interruptions', 'per day', 'pools', 'notice s (median)', 'traffic stopped s', 'replacement s', 'failures'], groupRows)}
<h2>Failures</h2>
${table(['warned at', 'instance', 'pool', 'group', 'why'], failureRows)}
${market}
<h2>Interruptions</h2>
${table(['warned at', 'instance', 'pool', 'group', 'outcome', 'notice s', 'traffic stopped s', 'replacement s'], interruptionRows)}
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${library.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** Draws the charts from the embedded data; sets data-charts on <body> to the number drawn. */
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var r = data.report;
  var s = function (ms) { return ms === null ? null : ms / 1000; };
  var base = { animation: false, responsive: true, maintainAspectRatio: false };
  var drawn = 0;
  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({}, base, config.options || {});
    new Chart(canvas, config);
    drawn++;
  }
  chart('chart-daily', {
    type: 'bar',
    data: { labels: r.daily.map(function (d) { return d.day; }), datasets: [
      { label: 'interruptions', data: r.daily.map(function (d) { return d.interruptions - d.failures; }), backgroundColor: '#4e79a7', stack: 'a' },
      { label: 'failures', data: r.daily.map(function (d) { return d.failures; }), backgroundColor: '#e15759', stack: 'a' } ] },
    options: { plugins: { title: { display: true, text: 'Interruptions per day' } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
  chart('chart-pools', {
    type: 'bar',
    data: { labels: r.pools.map(function (p) { return p.pool; }), datasets: [
      { label: 'interruptions', data: r.pools.map(function (p) { return p.interruptions; }), backgroundColor: '#4e79a7' },
      { label: 'rebalance recommendations', data: r.pools.map(function (p) { return p.rebalanceRecommendations; }), backgroundColor: '#f28e2b' } ] },
    options: { indexAxis: 'y', plugins: { title: { display: true, text: 'Per pool (instance type × zone)' } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  chart('chart-groups', {
    type: 'bar',
    data: { labels: r.groups.map(function (g) { return g.group; }), datasets: [
      { label: 'interruptions', data: r.groups.map(function (g) { return g.interruptions; }), backgroundColor: '#59a14f' },
      { label: 'failures', data: r.groups.map(function (g) { return g.failures; }), backgroundColor: '#e15759' } ] },
    options: { plugins: { title: { display: true, text: 'Per Auto Scaling group' } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  chart('chart-timings', {
    type: 'bar',
    data: { labels: r.pools.map(function (p) { return p.pool; }), datasets: [
      { label: 'real notice (median s)', data: r.pools.map(function (p) { return s(p.notice.median); }), backgroundColor: '#76b7b2' },
      { label: 'to traffic stopped (median s)', data: r.pools.map(function (p) { return s(p.trafficStopped.median); }), backgroundColor: '#edc948' },
      { label: 'replacement lag (median s)', data: r.pools.map(function (p) { return s(p.replacementLag.median); }), backgroundColor: '#b07aa1' } ] },
    options: { plugins: { title: { display: true, text: 'Timings per pool (seconds)' } }, scales: { y: { beginAtZero: true } } }
  });
  if (data.spotMarket) {
    var m = data.spotMarket.pools.filter(function (p) { return p.prices; });
    chart('chart-market', {
      type: 'scatter',
      data: { datasets: [{ label: 'pools in use', backgroundColor: '#4e79a7', pointRadius: 6,
        data: m.map(function (p) { return { x: p.prices.latest, y: p.perDay, pool: p.pool }; }) }] },
      options: { plugins: { title: { display: true, text: 'Interruptions per day against the latest Spot price' },
        tooltip: { callbacks: { label: function (c) { return c.raw.pool + ': $' + c.raw.x + '/h, ' + c.raw.y + '/day'; } } } },
        scales: { x: { title: { display: true, text: 'latest $/h' } }, y: { beginAtZero: true, title: { display: true, text: 'interruptions / day' } } } }
    });
  }
  document.body.setAttribute('data-charts', String(drawn));
})();
`;
