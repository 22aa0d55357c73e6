// What the pages share: charts fed by PromQL range queries, and error handling per panel so
// that one failing query never blanks a whole page.
import { h } from '../dom.js';
import { Panel } from '../components.js';
import { TimeChart } from '../charts.js';
import { queryRange } from '../api.js';

export function isAbort(err) {
  return err && err.name === 'AbortError';
}

// Runs fn for a panel; an error (other than an abort) is shown in the panel. Resolves to the
// error, or null.
export async function guarded(panel, fn) {
  try {
    await fn();
    return null;
  } catch (err) {
    if (isAbort(err)) throw err;
    panel.showError(err);
    return err;
  }
}

// Runs the refresh tasks of a page side by side. Resolves to false when every task failed
// because the server could not be reached (the shell says so), true otherwise.
export async function settleAll(tasks) {
  const results = await Promise.allSettled(tasks);
  const aborted = results.find((r) => r.status === 'rejected' && isAbort(r.reason));
  if (aborted) throw aborted.reason;
  const errors = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)).filter(Boolean);
  return !(errors.length && errors.length === results.length && errors.every((e) => e.status === 0));
}

export function seriesLabel(metric, keys, fallback = 'value') {
  const parts = keys.map((k) => metric[k]).filter((v) => v !== undefined && v !== '');
  return parts.length ? parts.join(' · ') : fallback;
}

// A panel with one time chart drawn from one or more range queries.
// queries(ctx) -> [{query, label: (metric) -> string}]
export class ChartPanel {
  constructor({ id, title, hint, unit, queries, wide = false, height, emptyMessage, emptyDetail }) {
    this.panel = new Panel({ id, title, hint, wide });
    this.chart = new TimeChart({ id, unit, height, emptyMessage, emptyDetail });
    this.queries = queries;
    this.panel.show(this.chart.el);
    this.el = this.panel.el;
  }

  refresh(ctx) {
    return guarded(this.panel, async () => {
      const specs = this.queries(ctx);
      const results = await Promise.all(specs.map((s) => queryRange(s.query, ctx.range, ctx.signal)));
      const series = [];
      results.forEach((result, i) => {
        for (const s of result) series.push({ label: specs[i].label(s.metric), values: s.values, color: specs[i].color });
      });
      series.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
      if (this.panel.body.firstChild !== this.chart.el) this.panel.show(this.chart.el);
      this.chart.setData(ctx.range, series);
    });
  }

  destroy() {
    this.chart.destroy();
  }
}

export function grid(...children) {
  return h('div', { class: 'grid' }, ...children);
}

export function section(title, ...children) {
  return h('div', { class: 'section' }, title ? h('h3', { class: 'section-title' }, title) : null, ...children);
}
