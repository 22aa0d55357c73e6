// Drift: per monitored model, each input's drift score against its threshold and status, the
// reference vs current distributions, and the decision score over time. Reads
// GET /v1/monitor/drift ({"monitors":[report...]}, src/monitor/drift/drift_report.cpp).
import { h, replaceChildren } from '../dom.js';
import { Panel, badge, emptyState, table } from '../components.js';
import { TimeChart, pairedBars } from '../charts.js';
import { HttpError, getJson, promString, queryRange } from '../api.js';
import { fmtAgo, fmtInteger, fmtNumber, fmtTime, isFiniteNumber } from '../format.js';
import { guarded, isAbort, settleAll } from './common.js';
import { registry } from '../state.js';

const TONE = { ok: 'ok', warn: 'warn', alert: 'alert' };

// "0.12 ≥ 0.1" for distances, "p 0.003 < 0.05" for tests whose score is a p-value.
function scoreText(m) {
  if (!m) return '–';
  return m.threshold_kind === 'p_value_below' ? `p ${fmtNumber(m.score)}` : fmtNumber(m.score);
}

function thresholdText(m) {
  if (!m || !isFiniteNumber(m.threshold)) return '–';
  const op = m.threshold_kind === 'p_value_below' ? '<' : '≥';
  const warn = isFiniteNumber(m.warn_threshold) ? ` (warn ${op} ${fmtNumber(m.warn_threshold)})` : '';
  return `${op} ${fmtNumber(m.threshold)}${warn}`;
}

function qualityText(q) {
  if (!q) return '';
  const parts = [['missing', q.missing], ['NaN', q.nan], ['out of range', q.out_of_range], ['unseen', q.unseen_category]]
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${fmtInteger(n)} ${name}`);
  return parts.length ? parts.join(', ') : 'clean';
}

// The bars of one feature: numeric histograms over their PSI bins, or category shares.
function distribution(feature) {
  let bins = null;
  if (feature.histogram && feature.histogram.edges && feature.histogram.edges.length > 1) {
    const { edges, reference, current } = feature.histogram;
    const refTotal = reference.reduce((a, b) => a + b, 0) || 1;
    const curTotal = current.reduce((a, b) => a + b, 0) || 1;
    bins = reference.map((r, i) => ({ label: fmtNumber(edges[i], 2), reference: r / refTotal, current: (current[i] || 0) / curTotal }));
  } else if (feature.categories && feature.categories.length) {
    bins = feature.categories.map((c) => ({
      label: c.value === '__other__' ? 'other' : c.value.length > 9 ? `${c.value.slice(0, 8)}…` : c.value,
      reference: c.reference_share,
      current: c.current_share,
    }));
  }
  if (!bins) return null;
  const every = Math.max(1, Math.ceil(bins.length / 6));
  return h('figure', { class: 'dist' },
    h('figcaption', {}, h('strong', {}, feature.name), ' ', badge(feature.status, TONE[feature.status])),
    pairedBars(bins, { labelEvery: every }));
}

class MonitorView {
  constructor(model) {
    this.model = model;
    this.id = `drift.${model}`;
    this.panel = new Panel({ id: this.id, title: `Drift · ${model}`, wide: true });
    this.chart = new TimeChart({ id: `drift.${model}.scores`, unit: 'score', height: 150, emptyMessage: 'No drift scores recorded in this time range' });
    this.el = this.panel.el;
  }

  async refresh(report, ctx) {
    const features = report.features || [];
    const summary = h('div', { class: 'drift-summary' },
      report.dataset_drift ? badge('dataset drift', 'alert') : badge('no dataset drift', 'ok'),
      h('span', {}, `${fmtInteger(report.drifted_features)} of ${fmtInteger(features.filter((f) => f.evaluated).length)} evaluated inputs drifted (dataset drift at ≥ ${fmtNumber(report.drift_share * 100)} %)`),
      h('span', { class: 'muted' }, `evaluated ${fmtAgo(report.evaluated_at)}`),
      h('span', { class: 'muted' }, `window ${fmtTime(report.window && report.window.start)} – ${fmtTime(report.window && report.window.end)}, ${fmtInteger(report.current_rows)} rows`),
      h('span', { class: 'muted' }, report.reference && report.reference.available
        ? `reference: ${report.reference.source || 'set'}, ${fmtInteger(report.reference.rows)} rows`
        : 'no reference yet'),
      report.dropped_rows ? h('span', { class: 'tone-warn' }, `${fmtInteger(report.dropped_rows)} rows dropped`) : null);

    const rows = features;
    const featureTable = table(`${this.id}.features`, [
      { label: 'Input', value: (f) => h('strong', {}, f.name) },
      { label: 'Kind', value: (f) => (f.kind === 'vector' && f.dim ? `vector[${f.dim}]` : f.kind) },
      { label: 'Status', value: (f) => (f.evaluated ? badge(f.status, TONE[f.status]) : badge('not evaluated', 'muted')) },
      { label: 'Method', value: (f) => f.decision_method || '–' },
      { label: 'Score', align: 'right', value: (f) => scoreText(f.methods && f.methods[0]) },
      { label: 'Threshold', value: (f) => thresholdText(f.methods && f.methods[0]) },
      { label: 'Other methods', class: 'wrap', value: (f) => (f.methods || []).slice(1).map((m) => h('span', { class: `method tone-${TONE[m.status] || 'muted'}`, title: `threshold ${thresholdText(m)}` }, `${m.method} ${scoreText(m)}`)) },
      { label: 'Ref / cur', align: 'right', value: (f) => `${fmtInteger(f.reference_count)} / ${fmtInteger(f.current_count)}` },
      { label: 'Data quality', class: 'wrap', value: (f) => (f.note ? h('span', { class: 'muted' }, f.note) : qualityText(f.data_quality)) },
    ], rows, 'This monitor has no inputs');

    const dists = features.map(distribution).filter(Boolean);
    const distBlock = dists.length
      ? h('div', {}, h('div', { class: 'legend-inline' }, h('span', { class: 'swatch reference' }), 'reference ', h('span', { class: 'swatch current' }), 'current (share of values per bin)'), h('div', { class: 'dists' }, dists))
      : emptyState('No distributions yet', 'Histograms appear once the monitor has a reference and a current window.');

    this.panel.show(summary, featureTable, h('h3', { class: 'section-title' }, 'Decision score over time'), this.chart.el, h('h3', { class: 'section-title' }, 'Reference vs current'), distBlock);

    // The score history of each input's decision method.
    const decision = new Map(features.filter((f) => f.decision_method).map((f) => [f.name, f.decision_method]));
    const result = await queryRange(`shelfwatch_drift_score{model=${promString(this.model)}}`, ctx.range, ctx.signal);
    const series = result
      .filter((s) => decision.get(s.metric.feature) === s.metric.method)
      .map((s) => ({ label: `${s.metric.feature} (${s.metric.method})`, values: s.values }))
      .sort((a, b) => (a.label < b.label ? -1 : 1));
    this.chart.setData(ctx.range, series);
  }

  destroy() {
    this.chart.destroy();
  }
}

function create() {
  const status = new Panel({ id: 'drift.monitors', title: 'Drift monitors', wide: true });
  const container = h('div', { class: 'grid' });
  const el = h('div', { class: 'page' }, container);
  const views = new Map();

  function clearViews() {
    for (const [model, view] of views) {
      view.destroy();
      delete registry.charts[`drift.${model}.scores`];
    }
    views.clear();
  }

  async function refreshAll(ctx) {
    let answer;
    try {
      answer = await getJson('/v1/monitor/drift', ctx.signal);
    } catch (err) {
      if (err instanceof HttpError && (err.status === 404 || err.status === 503)) {
        clearViews();
        status.showEmpty('Drift monitoring not enabled', err.message);
        replaceChildren(container, status.el);
        return;
      }
      throw err;
    }
    const monitors = (answer && answer.monitors) || [];
    registry.tables['drift.monitors'] = monitors.length;
    if (!monitors.length) {
      clearViews();
      status.showEmpty('No drift monitors configured', 'Drift monitors watch model inputs once models are served.');
      replaceChildren(container, status.el);
      return;
    }
    const seen = new Set(monitors.map((m) => m.model));
    for (const [model, view] of views) {
      if (!seen.has(model)) {
        view.destroy();
        views.delete(model);
      }
    }
    for (const m of monitors) if (!views.has(m.model)) views.set(m.model, new MonitorView(m.model));
    replaceChildren(container, monitors.map((m) => views.get(m.model).el));
    await Promise.all(monitors.map((m) => {
      const view = views.get(m.model);
      return guarded(view.panel, () => view.refresh(m, ctx));
    }));
  }

  return {
    el,
    refresh(ctx) {
      return settleAll([guarded(status, async () => {
        try {
          await refreshAll(ctx);
        } catch (err) {
          if (!isAbort(err)) replaceChildren(container, status.el);
          throw err;
        }
      })]);
    },
    destroy: clearViews,
  };
}

export default { id: 'drift', title: 'Drift', create };
