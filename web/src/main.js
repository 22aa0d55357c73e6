// The dashboard shell: hash routes (#/overview, #/business?catalog=...), the time-range and
// refresh controls, and the refresh loop, which pauses while the tab is hidden.
import './style.css';

import { h, replaceChildren } from './dom.js';
import { registry, resetPage } from './state.js';
import { fmtTime } from './format.js';
import overview from './pages/overview.js';
import models from './pages/models.js';
import business from './pages/business.js';
import drift from './pages/drift.js';
import alerts from './pages/alerts.js';

const pages = [overview, models, business, drift, alerts];

const ranges = [
  ['5m', 300], ['15m', 900], ['1h', 3600], ['6h', 6 * 3600], ['24h', 86400], ['7d', 7 * 86400],
];
const refreshes = [['2s', 2], ['5s', 5], ['15s', 15], ['30s', 30], ['off', 0]];

const settings = {
  range: readSetting('range', '15m', ranges),
  refresh: readSetting('refresh', '5s', refreshes),
};

function readSetting(key, fallback, options) {
  try {
    const v = localStorage.getItem(`shelfwatch.${key}`);
    if (options.some(([name]) => name === v)) return v;
  } catch {
    // storage may be disabled; the default does
  }
  return fallback;
}

function saveSetting(key, value) {
  settings[key] = value;
  try {
    localStorage.setItem(`shelfwatch.${key}`, value);
  } catch {
    // not kept across reloads then
  }
}

// Steps a chart of ~240 points can use; a round step keeps timestamps readable.
const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

export function timeRange(seconds, nowMs = Date.now()) {
  const wanted = seconds / 240;
  const step = steps.find((s) => s >= wanted) || steps[steps.length - 1];
  const end = Math.floor(nowMs / 1000);
  // rate() needs at least two samples in its window: four steps, and never under a minute
  // (Grafana's $__rate_interval rule of thumb for scrapes up to 15 s).
  const windowSeconds = Math.max(60, 4 * step);
  return { start: end - seconds, end, step, seconds, window: `${windowSeconds}s` };
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name, query] = raw.split('?');
  const page = pages.find((p) => p.id === name) || null;
  return { page, params: new URLSearchParams(query || '') };
}

export function navigate(pageId, params) {
  const query = params && [...params].length ? `?${params}` : '';
  location.hash = `#/${pageId}${query}`;
}

const status = h('span', { class: 'refresh-status', id: 'refresh-status' }, '');
let current = null;  // {page, view, params}
let timer = null;
let inflight = null;

function setStatus(text, tone = '') {
  status.textContent = text;
  status.className = `refresh-status${tone ? ` tone-${tone}` : ''}`;
}

function renderNav(activeId) {
  replaceChildren(document.getElementById('nav'),
    pages.map((p) => h('a', { href: `#/${p.id}`, class: p.id === activeId ? 'active' : null, 'aria-current': p.id === activeId ? 'page' : null }, p.title)));
}

function select(id, label, options, value, onChange) {
  return h('label', { class: 'control' }, label,
    h('select', { id, onchange: (e) => onChange(e.target.value) },
      options.map(([name]) => h('option', { value: name, selected: name === value }, name))));
}

function renderControls() {
  replaceChildren(document.getElementById('controls'),
    select('range-select', 'Range', ranges, settings.range, (v) => {
      saveSetting('range', v);
      refresh();
    }),
    select('refresh-select', 'Refresh', refreshes, settings.refresh, (v) => {
      saveSetting('refresh', v);
      refresh();
    }),
    status);
}

function route() {
  const { page, params } = parseHash();
  if (!page) {
    navigate('overview');
    return;
  }
  if (current) {
    current.view.destroy();
    if (inflight) inflight.abort();
  }
  resetPage(page.id);
  renderNav(page.id);
  document.title = `${page.title} · shelfwatch`;
  const view = page.create(params, { navigate });
  current = { page, view, params };
  replaceChildren(document.getElementById('page'), view.el);
  refresh();
}

async function refresh() {
  clearTimeout(timer);
  if (!current) return;
  if (document.hidden) {
    registry.paused = true;
    setStatus('paused (tab hidden)');
    return;
  }
  registry.paused = false;
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const seconds = ranges.find(([name]) => name === settings.range)[1];
  const ctx = { range: timeRange(seconds), signal: controller.signal, params: current.params, navigate };
  const view = current.view;
  setStatus('updating…');
  let failed = false;
  try {
    failed = (await view.refresh(ctx)) === false;
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    failed = true;
  }
  if (controller !== inflight || view !== current.view) return;
  inflight = null;
  registry.refreshes += 1;
  registry.lastRefresh = Date.now();
  if (failed) setStatus(`server unreachable · ${fmtTime(Date.now() / 1000)}`, 'alert');
  else setStatus(`updated ${fmtTime(Date.now() / 1000)}`);
  schedule();
}

function schedule() {
  clearTimeout(timer);
  const every = refreshes.find(([name]) => name === settings.refresh)[1];
  if (every > 0 && !document.hidden) timer = setTimeout(refresh, every * 1000);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    inflight = null;
    registry.paused = true;
    setStatus('paused (tab hidden)');
  } else {
    refresh();
  }
});
window.addEventListener('hashchange', route);

renderControls();
route();
