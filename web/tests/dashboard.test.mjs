// The dashboard in a real browser against the real server: starts `shelfwatch serve` on a
// random loopback port, sends searches and feedback events so that every chart has data,
// then loads each page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and checks what an engineer on call would see: no script errors, charts
// drawn from the server's own history, tables with rows, clear empty states where a feature
// is off. Saves a screenshot of each page (paths printed).
//
// Environment (ctest sets these from CMake): SHELFWATCH_BINARY, SHELFWATCH_DATA_DIR,
// SHELFWATCH_NODE_MODULES (where playwright-core is), SHELFWATCH_SCREENSHOT_DIR,
// SHELFWATCH_CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  binary: process.env.SHELFWATCH_BINARY || path.join(webDir, '..', 'build', 'shelfwatch'),
  data: process.env.SHELFWATCH_DATA_DIR || path.join(webDir, '..', '..', 'shared', 'data'),
  nodeModules: process.env.SHELFWATCH_NODE_MODULES || path.join(webDir, 'node_modules'),
  screenshots: process.env.SHELFWATCH_SCREENSHOT_DIR || path.join(os.tmpdir(), 'shelfwatch-dashboard'),
  chromium: process.env.SHELFWATCH_CHROMIUM || '/usr/bin/chromium',
};

// Endpoints that may answer 404 on a server built without that feature; the page shows an
// empty state for them, and Chromium logs the 404 as a console error, which is expected.
const OPTIONAL_ENDPOINTS = /\/v1\/(admin\/models|alerts(\/history)?|monitor\/drift)(\?|$)/;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server && server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}:\n${serverLog}`);
    const value = await fn().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let server = null;   // child process
let serverLog = '';
let tmp = null;
let base = null;
let browser = null;
let browserReady = null;
let page = null;
const consoleErrors = [];
const foreignRequests = [];
let induced5xx = false;

function startServer() {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'shelfwatch-dashboard-'));
  const portFile = path.join(tmp, 'port');
  const products = path.join(env.data, 'homedepot', 'products.csv');
  assert.ok(existsSync(env.binary), `no binary at ${env.binary} (build the shelfwatch target)`);
  assert.ok(existsSync(products), `no data at ${products} (set SHELFWATCH_DATA_DIR)`);
  server = spawn(env.binary, [
    'serve', '--port', '0', '--port-file', portFile, '--data-dir', path.join(tmp, 'data'),
    '--catalog', `homedepot=${products}`,
    // Sample the metric history every second so charts have points within seconds.
    '--history-interval', '1s',
    // Freeze the drift reference from the first searches and evaluate often, so the drift page
    // has a report with both sides.
    '--drift-reference-rows', '30', '--drift-interval', '1s', '--drift-bucket', '1s',
    '--enable-test-hooks',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => {
    serverLog = (serverLog + chunk).slice(-20000);
  };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  return portFile;
}

async function stopServer() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const timeout = sleep(10000).then(() => 'timeout');
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    server.kill('SIGKILL');
    await exited;
  }
}

async function api(method, urlPath, body) {
  const response = await fetch(`${base}${urlPath}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function customerQueries(n) {
  const lines = readFileSync(path.join(env.data, 'homedepot', 'queries.csv'), 'utf8').split('\n').slice(1);
  return lines.filter((l) => l && !l.includes('"')).slice(0, n).map((l) => l.slice(l.indexOf(',') + 1));
}

// Searches and the feedback a shopper would send about them: impressions of the first
// results, clicks, add-to-carts and purchases on some, a few queries that find nothing, and a
// few that fail (test hook) so the error rate has something to show.
async function sendTraffic(queries, round) {
  let events = [];
  for (const [i, q] of queries.entries()) {
    const search = await api('GET', `/v1/catalogs/homedepot/search?q=${encodeURIComponent(q)}&k=10`);
    assert.equal(search.status, 200, `search ${q}: ${JSON.stringify(search.body)}`);
    const { request_id: requestId, results } = search.body;
    const user = `u${(i % 7) + 1}`;
    results.slice(0, 5).forEach((r, k) => events.push({ type: 'impression', request_id: requestId, item_id: r.id, user_id: user, position: k + 1 }));
    if (results.length && i % 2 === 0) {
      const pos = (i % 3) + 1;
      const item = results[Math.min(pos, results.length) - 1].id;
      events.push({ type: 'click', request_id: requestId, item_id: item, user_id: user, position: pos });
      if (i % 4 === 0) events.push({ type: 'add_to_cart', request_id: requestId, item_id: item, user_id: user, position: pos });
      if (i % 8 === 0) {
        events.push({ type: 'purchase', request_id: requestId, item_id: item, user_id: user, position: pos, value: 19.99 + i, currency: 'USD' });
      }
    }
  }
  for (const q of [`qqzx${"ab"[round - 1]}vw`, 'zzyzx vorpal', 'xqjvbn']) {
    const s = await api('GET', `/v1/catalogs/homedepot/search?q=${encodeURIComponent(q)}&k=10`);
    assert.equal(s.status, 200);
    assert.equal(s.body.results.length, 0, `${q} should find nothing`);
  }
  // A failing search (test hook), so the error rate has something to show; a server whose
  // hooks lack _test_status answers 200, and the overview test then expects no 5xx.
  const failed = await api('GET', '/v1/catalogs/homedepot/search?q=drill&_test_status=500');
  induced5xx ||= failed.status === 500;
  const posted = await api('POST', '/v1/events', events);
  assert.ok(posted.status >= 200 && posted.status < 300, `POST /v1/events: ${posted.status} ${JSON.stringify(posted.body)}`);
  events = [];
}

// Loads a page and waits until it has refreshed from the server; returns window.__shelfwatch.
async function open(pageId) {
  consoleErrors.length = 0;
  await page.goto(`${base}/#/${pageId}`);
  await page.waitForFunction((id) => window.__shelfwatch && window.__shelfwatch.page === id && window.__shelfwatch.refreshes >= 1, pageId, { timeout: 15000 });
  return page.evaluate(() => JSON.parse(JSON.stringify(window.__shelfwatch)));
}

async function screenshot(pageId) {
  mkdirSync(env.screenshots, { recursive: true });
  const file = path.join(env.screenshots, `${pageId}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

function assertClean(state) {
  assert.deepEqual(consoleErrors, [], 'console errors');
  assert.deepEqual(state.errors, {}, 'panels showing an error');
}

function assertCharts(state, ids) {
  for (const id of ids) {
    assert.ok(id in state.charts, `chart ${id} exists (have: ${Object.keys(state.charts).join(', ')})`);
    assert.ok(state.charts[id] > 0, `chart ${id} drew points from the server (got ${state.charts[id]}); empty: ${JSON.stringify(state.empty)}`);
  }
}

async function launchBrowser() {
  const requireFrom = createRequire(path.join(env.nodeModules, 'package.json'));
  const { chromium } = requireFrom('playwright-core');
  browser = await chromium.launch({ executablePath: env.chromium, args: ['--no-sandbox'], headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = (msg.location() && msg.location().url) || '';
    if (/status of 404/.test(msg.text()) && OPTIONAL_ENDPOINTS.test(url)) return;
    consoleErrors.push(`${msg.text()} ${url}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`page error: ${err.message}`));
  page.on('request', (req) => {
    if (!req.url().startsWith(`${base}/`) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
  });
}

describe('dashboard', { timeout: 60000 }, () => {
  before(async () => {
    const portFile = startServer();
    const port = await waitFor('the port file', async () => existsSync(portFile) && readFileSync(portFile, 'utf8').trim(), 15000);
    base = `http://127.0.0.1:${port}`;
    // Chromium starts while the server loads its catalog and takes the traffic.
    browserReady = launchBrowser();
    browserReady.catch(() => {});  // awaited below
    await waitFor('/readyz', async () => (await fetch(`${base}/readyz`)).status === 200, 30000);
    const root = await fetch(`${base}/`);
    assert.match(root.headers.get('content-type') || '', /^text\/html/,
      'GET / does not answer the dashboard page: the server must serve web::FindAsset(path) (src/web/dashboard_assets.h)');

    // Two rounds a couple of history samples apart, so rates have two points to compare.
    const queries = customerQueries(80);
    await sendTraffic(queries.slice(0, 40), 1);
    await sleep(1500);
    await sendTraffic(queries.slice(40), 2);
    await sleep(2500);

    await browserReady;
  });

  after(async () => {
    if (browserReady) await browserReady.catch(() => {});
    if (browser) await browser.close();
    await stopServer();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the server answers / with the embedded page', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') || '', /^text\/html/);
    const html = await response.text();
    const script = html.match(/src="(\/assets\/app\.js\?v=\w+)"/);
    assert.ok(script, 'index.html names its script');
    const js = await fetch(`${base}${script[1]}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') || '', /javascript/);
  });

  test('overview: traffic, latency, errors and stages from the running server', async () => {
    const state = await open('overview');
    assertClean(state);
    assertCharts(state, ['overview.qps', 'overview.latency', 'overview.errors', 'overview.stages', 'overview.cpu', 'overview.memory']);
    assert.ok(state.tables['overview.catalogs'] >= 1, 'catalog table has the catalog');
    assert.ok(state.tables['overview.breakdown'] >= 3, 'stage breakdown lists analyze, retrieve, serialize');
    const tiles = await page.locator('.tile-value').allTextContents();
    assert.ok(tiles.every((t) => t !== '…'), `every tile has a value: ${tiles}`);
    assert.match(await page.locator('#table-overview\\.catalogs').innerText(), /homedepot[\s\S]*ready[\s\S]*54,667/);
    const errorRate = await page.locator('.tile', { hasText: '5xx error rate' }).locator('.tile-value').innerText();
    if (induced5xx) assert.notEqual(errorRate, '0 %', 'the induced 500s show in the error rate');
    else assert.equal(errorRate, '0 %');
    await screenshot('overview');
  });

  test('overview refreshes by itself and pauses while the tab is hidden', async () => {
    await page.selectOption('#refresh-select', '2s');
    const first = await page.evaluate(() => window.__shelfwatch.refreshes);
    await page.waitForFunction((n) => window.__shelfwatch.refreshes >= n + 1, first, { timeout: 8000 });
    // Hide the tab as a browser does when the user switches away.
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    const paused = await page.evaluate(() => [window.__shelfwatch.paused, window.__shelfwatch.refreshes]);
    assert.equal(paused[0], true);
    await sleep(2500);  // more than the 2 s refresh period
    assert.equal(await page.evaluate(() => window.__shelfwatch.refreshes), paused[1], 'no refresh while hidden');
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction((n) => window.__shelfwatch.refreshes > n && !window.__shelfwatch.paused, paused[1], { timeout: 5000 });
    assert.match(await page.locator('#refresh-status').innerText(), /updated/);
    await page.selectOption('#refresh-select', '5s');
  });

  test('business: KPIs per variant, charts and top queries', async () => {
    const state = await open('business');
    assertClean(state);
    assertCharts(state, ['business.ctr', 'business.add_to_cart', 'business.conversion', 'business.revenue', 'business.zero_result', 'business.mrr']);
    assert.ok(state.tables['business.kpis'] >= 1, `KPI table has the default variant; empty: ${JSON.stringify(state.empty)}`);
    assert.ok(state.tables['business.top'] >= 10, 'top queries');
    assert.ok(state.tables['business.zero_result'] >= 3, 'top zero-result queries');
    assert.match(await page.locator('#table-business\\.zero_result').innerText(), /zzyzx vorpal/);
    await screenshot('business');
  });

  test('models: versions or a clear "not enabled" state', async () => {
    const state = await open('models');
    assertClean(state);
    for (const id of ['models.latency', 'models.throughput', 'models.batch']) assert.ok(id in state.charts, id);
    if (state.empty['models.versions']) {
      assert.match(await page.locator('#panel-models\\.versions').innerText(), /Model serving not enabled/);
    } else {
      assert.ok('models.versions' in state.tables);
    }
    await screenshot('models');
  });

  test('drift: reports with scores and distributions, or a clear empty state', async () => {
    const state = await open('drift');
    assertClean(state);
    const monitors = state.tables['drift.monitors'];
    if (monitors) {
      const featureTables = Object.keys(state.tables).filter((k) => k.endsWith('.features'));
      assert.equal(featureTables.length, monitors, 'one input table per monitor');
      for (const t of featureTables) assert.ok(state.tables[t] >= 1, `${t} lists inputs`);
    } else {
      assert.ok(state.empty['drift.monitors'], 'empty state shown');
    }
    await screenshot('drift');
  });

  test('alerts: active alerts and history, or "alerting not configured"', async () => {
    const state = await open('alerts');
    assertClean(state);
    if (state.empty['alerts.active']) {
      assert.match(state.empty['alerts.active'], /Alerting not configured/);
    } else {
      assert.ok('alerts.active' in state.tables && 'alerts.history' in state.tables);
    }
    await screenshot('alerts');
  });

  test('the page loaded nothing from another origin', () => {
    assert.deepEqual(foreignRequests, []);
  });
});
