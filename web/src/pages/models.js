// Models: the versions the server holds and their load state (GET /v1/admin/models), and
// per-version inference latency, throughput and batch size from shelfwatch_model_* metrics.
import { h } from '../dom.js';
import { Panel, badge, table } from '../components.js';
import { HttpError, getJson, queryInstant } from '../api.js';
import { fmtInteger } from '../format.js';
import { ChartPanel, grid, guarded, seriesLabel, settleAll } from './common.js';

const STATE_TONES = { ready: 'ok', serving: 'ok', available: 'ok', loading: 'info', unloading: 'muted', unloaded: 'muted', failed: 'alert', error: 'alert' };

function create() {
  const label = (m) => seriesLabel(m, ['model', 'version']);
  const charts = [
    new ChartPanel({
      id: 'models.latency', title: 'Inference latency p95', hint: 'per model version', unit: 'seconds',
      queries: (c) => [{
        query: `histogram_quantile(0.95, sum by (model, version, le) (rate(shelfwatch_model_compute_duration_seconds_bucket[${c.range.window}])))`,
        label,
      }],
      emptyMessage: 'No inferences in this time range',
    }),
    new ChartPanel({
      id: 'models.throughput', title: 'Inferences / s', hint: 'per model version', unit: 'rps',
      queries: (c) => [{ query: `sum by (model, version) (rate(shelfwatch_model_compute_duration_seconds_count[${c.range.window}]))`, label }],
      emptyMessage: 'No inferences in this time range',
    }),
    new ChartPanel({
      id: 'models.batch', title: 'Mean batch size', hint: 'items per inference call', unit: 'count',
      queries: (c) => [{
        query: `sum by (model, version) (rate(shelfwatch_model_batch_size_sum[${c.range.window}])) / sum by (model, version) (rate(shelfwatch_model_batch_size_count[${c.range.window}]))`,
        label,
      }],
      emptyMessage: 'No batches in this time range',
    }),
  ];
  const versions = new Panel({ id: 'models.versions', title: 'Model versions', wide: true });
  const failures = new Panel({ id: 'models.failures', title: 'Load failures', hint: 'over the range' });
  const el = h('div', { class: 'page' }, grid(versions.el, ...charts.map((c) => c.el), failures.el));

  async function refreshVersions(ctx) {
    let answer;
    try {
      answer = await getJson('/v1/admin/models', ctx.signal);
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) {
        versions.showEmpty('Model serving not enabled', 'This server answers with lexical retrieval only; no model repository is configured.');
        return;
      }
      throw err;
    }
    const ready = await queryInstant('shelfwatch_model_ready', ctx.range.end, ctx.signal).catch(() => []);
    const readyOf = new Map(ready.map((r) => [`${r.metric.model}\u0000${r.metric.version}`, r.value]));
    const rows = [];
    for (const model of (answer && answer.models) || []) {
      for (const v of model.versions || []) rows.push({ model: model.name, ...v });
    }
    versions.show(table('models.versions', [
      { label: 'Model', value: (r) => h('strong', {}, r.model) },
      { label: 'Version', value: (r) => String(r.version) },
      { label: 'State', value: (r) => badge(r.state || 'unknown', STATE_TONES[r.state] || 'muted') },
      { label: 'Ready', value: (r) => {
        const v = readyOf.get(`${r.model}\u0000${r.version}`);
        return v === undefined ? '–' : v >= 1 ? badge('yes', 'ok') : badge('no', 'warn');
      } },
      { label: 'Reason', class: 'wrap', value: (r) => r.reason || '' },
    ], rows, 'No models configured'));
  }

  async function refreshFailures(ctx) {
    const rows = await queryInstant(`sum by (model, reason) (increase(shelfwatch_model_load_failures_total[${ctx.range.seconds}s])) > 0`, ctx.range.end, ctx.signal);
    failures.show(table('models.failures', [
      { label: 'Model', value: (r) => r.metric.model || '' },
      { label: 'Reason', value: (r) => r.metric.reason || '' },
      { label: 'Failures', align: 'right', value: (r) => fmtInteger(r.value) },
    ], rows, 'No load failures'));
  }

  return {
    el,
    refresh(ctx) {
      return settleAll([
        guarded(versions, () => refreshVersions(ctx)),
        ...charts.map((c) => c.refresh(ctx)),
        guarded(failures, () => refreshFailures(ctx)),
      ]);
    },
    destroy() {
      charts.forEach((c) => c.destroy());
    },
  };
}

export default { id: 'models', title: 'Models', create };
