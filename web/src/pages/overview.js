// Overview: traffic, latency, errors and where a search spends its time (RED metrics).
import { h } from '../dom.js';
import { Panel, Tiles, badge, table } from '../components.js';
import { getJson, queryInstant, queryScalar } from '../api.js';
import { fmtBytes, fmtDuration, fmtInteger, fmtPercent, fmtTime, toUnixSeconds, units } from '../format.js';
import { ChartPanel, grid, guarded, settleAll } from './common.js';

// The routes that serve shoppers and clients; the dashboard's own polling, scrapes and probes
// are left out so that watching the service does not change what it shows.
export const API_ROUTES = 'route!~"/metrics|/healthz|/readyz|/|/assets/.*|/v1/monitor/.*|/v1/alerts.*|/v1/admin/.*"';
const REQUESTS = `shelfwatch_http_requests_total{${API_ROUTES}}`;
const DURATION_BUCKETS = `shelfwatch_http_request_duration_seconds_bucket{${API_ROUTES}}`;

// Pipeline order, so the breakdown reads like the request travels.
const STAGE_ORDER = ['analyze', 'retrieve', 'vector', 'fusion', 'features', 'rank', 'serialize'];

function errorRatio(codes, w) {
  // `or vector(0)`: no 5xx series at all means a ratio of 0, not "no data".
  return `(sum(rate(shelfwatch_http_requests_total{${API_ROUTES},code=~"${codes}"}[${w}])) or vector(0)) / sum(rate(${REQUESTS}[${w}]))`;
}

function latency(q, w) {
  return `histogram_quantile(${q}, sum by (le) (rate(${DURATION_BUCKETS}[${w}])))`;
}

function create() {
  const tiles = new Tiles([
    { key: 'rps', label: 'Requests / s', help: 'API requests per second (searches, events, catalog reads), last rate window' },
    { key: 'p95', label: 'Latency p95', help: '95th percentile of API request latency, last rate window' },
    { key: 'errors', label: '5xx error rate', help: 'Share of API requests answered 5xx, last rate window' },
    { key: 'searches', label: 'Served / s', help: 'Search and recommend requests served per second' },
    { key: 'ready', label: 'Catalogs ready' },
    { key: 'memory', label: 'Resident memory' },
  ]);

  const charts = [
    new ChartPanel({
      id: 'overview.qps', title: 'Requests / s by route', unit: 'rps',
      queries: (c) => [{ query: `sum by (route) (rate(${REQUESTS}[${c.range.window}]))`, label: (m) => m.route || 'all' }],
    }),
    new ChartPanel({
      id: 'overview.latency', title: 'Latency', hint: 'API routes, p50 / p95 / p99', unit: 'seconds',
      queries: (c) => [
        { query: latency(0.5, c.range.window), label: () => 'p50' },
        { query: latency(0.95, c.range.window), label: () => 'p95' },
        { query: latency(0.99, c.range.window), label: () => 'p99' },
      ],
    }),
    new ChartPanel({
      id: 'overview.errors', title: 'Error rate', hint: 'share of API requests', unit: 'ratio',
      queries: (c) => [
        { query: errorRatio('5..', c.range.window), label: () => '5xx', color: '#d6453d' },
        { query: errorRatio('4..', c.range.window), label: () => '4xx', color: '#d4a514' },
      ],
    }),
    new ChartPanel({
      id: 'overview.stages', title: 'Search stage latency p95', hint: 'per pipeline stage', unit: 'seconds',
      queries: (c) => [{
        query: `histogram_quantile(0.95, sum by (stage, le) (rate(shelfwatch_search_stage_duration_seconds_bucket[${c.range.window}])))`,
        label: (m) => m.stage || 'all',
      }],
    }),
    new ChartPanel({
      id: 'overview.cpu', title: 'CPU', hint: 'cores used by the process', unit: 'cores',
      queries: (c) => [{ query: `rate(process_cpu_seconds_total[${c.range.window}])`, label: () => 'cpu' }],
    }),
    new ChartPanel({
      id: 'overview.memory', title: 'Resident memory', unit: 'bytes',
      queries: () => [{ query: 'process_resident_memory_bytes', label: () => 'rss' }],
    }),
  ];

  const breakdown = new Panel({ id: 'overview.breakdown', title: 'Where a search spends its time', hint: 'mean and p95 per stage over the range', wide: true });
  const catalogs = new Panel({ id: 'overview.catalogs', title: 'Catalogs', wide: true });

  const el = h('div', { class: 'page' }, tiles.el, grid(...charts.map((c) => c.el), breakdown.el, catalogs.el));

  async function refreshTiles(ctx) {
    const w = ctx.range.window;
    const t = ctx.range.end;
    const [rps, p95, errors, served, memory] = await Promise.all([
      queryScalar(`sum(rate(${REQUESTS}[${w}]))`, t, ctx.signal),
      queryScalar(latency(0.95, w), t, ctx.signal),
      queryScalar(errorRatio('5..', w), t, ctx.signal),
      queryScalar(`sum(rate(shelfwatch_served_requests_total[${w}]))`, t, ctx.signal),
      queryScalar('process_resident_memory_bytes', t, ctx.signal),
    ]);
    const sub = `last ${w}`;
    tiles.set('rps', units.rps(rps), { sub });
    tiles.set('p95', fmtDuration(p95), { sub });
    tiles.set('errors', fmtPercent(errors), { sub, tone: errors > 0.01 ? 'alert' : errors > 0 ? 'warn' : '' });
    tiles.set('searches', units.rps(served), { sub });
    tiles.set('memory', fmtBytes(memory), { sub: '' });
  }

  async function refreshBreakdown(ctx) {
    const r = `${ctx.range.seconds}s`;
    const t = ctx.range.end;
    const [means, p95s] = await Promise.all([
      queryInstant(`sum by (stage) (increase(shelfwatch_search_stage_duration_seconds_sum[${r}])) / sum by (stage) (increase(shelfwatch_search_stage_duration_seconds_count[${r}]))`, t, ctx.signal),
      queryInstant(`histogram_quantile(0.95, sum by (stage, le) (increase(shelfwatch_search_stage_duration_seconds_bucket[${r}])))`, t, ctx.signal),
    ]);
    const p95 = new Map(p95s.map((row) => [row.metric.stage, row.value]));
    const rows = means
      .filter((row) => Number.isFinite(row.value))
      .map((row) => ({ stage: row.metric.stage || '?', mean: row.value, p95: p95.get(row.metric.stage) }));
    const rank = (s) => (STAGE_ORDER.includes(s) ? STAGE_ORDER.indexOf(s) : STAGE_ORDER.length);
    rows.sort((a, b) => rank(a.stage) - rank(b.stage) || (a.stage < b.stage ? -1 : 1));
    const total = rows.reduce((s, r2) => s + r2.mean, 0);
    if (!rows.length) {
      breakdown.showEmpty('No searches in this time range', 'Stage timings appear once the server answers searches.');
      return;
    }
    const bar = h('div', { class: 'stack-bar', role: 'img', 'aria-label': 'share of mean search time per stage' },
      rows.map((row, i) => h('div', {
        class: `stack-seg c${i % 10}`,
        style: { flexGrow: String(Math.max(row.mean / total, 0.002)) },
        title: `${row.stage}: ${fmtDuration(row.mean)} (${fmtPercent(row.mean / total)})`,
      }, row.mean / total > 0.08 ? row.stage : '')));
    breakdown.show(bar, table('overview.breakdown', [
      { label: 'Stage', value: (row) => h('span', {}, h('span', { class: `swatch c${rows.indexOf(row) % 10}` }), row.stage) },
      { label: 'Mean', align: 'right', value: (row) => fmtDuration(row.mean) },
      { label: 'p95', align: 'right', value: (row) => fmtDuration(row.p95) },
      { label: 'Share of mean', align: 'right', value: (row) => fmtPercent(row.mean / total) },
    ], rows));
  }

  async function refreshCatalogs(ctx) {
    const body = await getJson('/v1/catalogs', ctx.signal);
    const list = (body && body.catalogs) || [];
    const ready = list.filter((c) => c.state === 'ready').length;
    tiles.set('ready', list.length ? `${ready} / ${list.length}` : '–', { tone: list.length && ready < list.length ? 'warn' : '' });
    const tone = (s) => (s === 'ready' ? 'ok' : s === 'failed' || s === 'error' ? 'alert' : 'warn');
    catalogs.show(table('overview.catalogs', [
      { label: 'Catalog', value: (c) => h('a', { href: `#/business?catalog=${encodeURIComponent(c.name)}` }, c.name) },
      { label: 'State', value: (c) => badge(c.state || 'unknown', tone(c.state)) },
      { label: 'Products', align: 'right', value: (c) => fmtInteger(c.products) },
      { label: 'Rejected rows', align: 'right', value: (c) => fmtInteger(c.rows_rejected) },
      { label: 'Terms', align: 'right', value: (c) => (c.index ? fmtInteger(c.index.terms) : '–') },
      { label: 'Index memory', align: 'right', value: (c) => (c.index ? fmtBytes(c.index.memory_bytes) : '–') },
      { label: 'Load + index', align: 'right', value: (c) => fmtDuration((c.load_seconds || 0) + (c.index_seconds || 0)) },
      { label: 'Loaded', align: 'right', value: (c) => fmtTime(toUnixSeconds(c.loaded_at)) },
    ], list, 'No catalogs configured (start the server with --catalog NAME=PATH)'));
  }

  return {
    el,
    refresh(ctx) {
      const tilePanel = { showError: (err) => { for (const k of ['rps', 'p95', 'errors', 'searches', 'memory']) tiles.set(k, '!', { sub: err.message }); } };
      return settleAll([
        guarded(tilePanel, () => refreshTiles(ctx)),
        ...charts.map((c) => c.refresh(ctx)),
        guarded(breakdown, () => refreshBreakdown(ctx)),
        guarded(catalogs, () => refreshCatalogs(ctx)),
      ]);
    },
    destroy() {
      charts.forEach((c) => c.destroy());
    },
  };
}

export default { id: 'overview', title: 'Overview', create };
