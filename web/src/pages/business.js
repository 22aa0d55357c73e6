// Business: what shoppers do with the results, per catalog, endpoint and variant.
// Definitions are those of GET /v1/monitor/business (search analytics practice, e.g. Algolia):
// click-through rate = searches with at least one click / searches; item click rate = clicks /
// impressions; add-to-cart rate and conversion = add-to-carts and purchases per search;
// revenue per search = purchase value / searches; MRR = mean reciprocal rank of the first click.
import { h, replaceChildren } from '../dom.js';
import { Panel, table } from '../components.js';
import { HttpError, getJson, promString } from '../api.js';
import { fmtInteger, fmtMoney, fmtNumber, fmtPercent, isFiniteNumber } from '../format.js';
import { ChartPanel, grid, guarded, seriesLabel, settleAll } from './common.js';

const BY = 'endpoint, variant';

function create(params, { navigate }) {
  let catalog = params.get('catalog') || '';
  const sel = (metric, extra = '') => `${metric}{catalog=${promString(catalog)}${extra}}`;
  const served = (w) => `sum by (${BY}) (rate(${sel('shelfwatch_served_requests_total')}[${w}]))`;
  // A variant that served searches but saw no event of a type has a rate of 0, not "no data":
  // `or 0 * served` fills those in.
  const perSearch = (numerator, w) => `(sum by (${BY}) (rate(${numerator}[${w}])) or 0 * ${served(w)}) / ${served(w)}`;
  const label = (m) => seriesLabel(m, ['endpoint', 'variant']);

  const charts = [
    new ChartPanel({
      id: 'business.ctr', title: 'Click-through rate', hint: 'searches with a click / searches', unit: 'ratio',
      queries: (c) => [{ query: perSearch(sel('shelfwatch_first_click_reciprocal_rank_count'), c.range.window), label }],
    }),
    new ChartPanel({
      id: 'business.add_to_cart', title: 'Add-to-cart rate', hint: 'add-to-carts / searches', unit: 'ratio',
      queries: (c) => [{ query: perSearch(sel('shelfwatch_feedback_events_total', ',type="add_to_cart"'), c.range.window), label }],
    }),
    new ChartPanel({
      id: 'business.conversion', title: 'Conversion rate', hint: 'purchases / searches', unit: 'ratio',
      queries: (c) => [{ query: perSearch(sel('shelfwatch_feedback_events_total', ',type="purchase"'), c.range.window), label }],
    }),
    new ChartPanel({
      id: 'business.revenue', title: 'Revenue per search', hint: 'purchase value / searches, per currency', unit: 'money',
      queries: (c) => [{
        query: `sum by (${BY}, currency) (rate(${sel('shelfwatch_purchase_value_sum')}[${c.range.window}])) / on (${BY}) group_left ${served(c.range.window)}`,
        label: (m) => seriesLabel(m, ['endpoint', 'variant', 'currency']),
      }],
      emptyDetail: 'Revenue comes from purchase events (POST /v1/events with type "purchase", value and currency).',
    }),
    new ChartPanel({
      id: 'business.zero_result', title: 'Zero-result rate', hint: 'searches that found nothing', unit: 'ratio',
      queries: (c) => [{ query: perSearch(sel('shelfwatch_zero_result_requests_total'), c.range.window), label }],
    }),
    new ChartPanel({
      id: 'business.mrr', title: 'MRR of the first click', hint: '1 = first result clicked', unit: 'score',
      queries: (c) => [{
        query: `sum by (${BY}) (rate(${sel('shelfwatch_first_click_reciprocal_rank_sum')}[${c.range.window}])) / sum by (${BY}) (rate(${sel('shelfwatch_first_click_reciprocal_rank_count')}[${c.range.window}]))`,
        label,
      }],
      emptyDetail: 'MRR needs click events with a position.',
    }),
  ];

  const none = new Panel({ id: 'business.none', title: 'Business metrics', wide: true });
  const kpis = new Panel({ id: 'business.kpis', title: 'Per variant over the range', wide: true });
  const top = new Panel({ id: 'business.top', title: 'Top queries' });
  const zero = new Panel({ id: 'business.zero', title: 'Top zero-result queries', hint: 'what shoppers want and the catalog lacks' });

  const picker = h('select', { id: 'catalog-select', onchange: (e) => navigate('business', new URLSearchParams({ catalog: e.target.value })) });
  const header = h('div', { class: 'page-head' }, h('label', { class: 'control' }, 'Catalog', picker));
  const body = h('div', {});
  const el = h('div', { class: 'page' }, header, body);
  const content = grid(kpis.el, ...charts.map((c) => c.el), top.el, zero.el);

  async function refreshCatalogs(ctx) {
    const list = ((await getJson('/v1/catalogs', ctx.signal)) || {}).catalogs || [];
    const names = list.map((c) => c.name);
    if (!names.length) {
      replaceChildren(picker);
      none.showEmpty('No catalogs configured', 'Start the server with --catalog NAME=PATH.');
      replaceChildren(body, grid(none.el));
      return false;
    }
    if (!names.includes(catalog)) catalog = names[0];
    if (picker.options.length !== names.length || picker.value !== catalog) {
      replaceChildren(picker, names.map((n) => h('option', { value: n, selected: n === catalog }, n)));
      picker.value = catalog;
    }
    if (body.firstChild !== content) replaceChildren(body, content);
    return true;
  }

  async function refreshKpis(ctx) {
    const q = new URLSearchParams({ window: `${ctx.range.seconds}s`, catalog });
    let answer;
    try {
      answer = await getJson(`/v1/monitor/business?${q}`, ctx.signal);
    } catch (err) {
      if (err instanceof HttpError && (err.status === 404 || err.status === 503)) {
        kpis.showEmpty('Business metrics are not available on this server', err.message);
        return;
      }
      throw err;
    }
    const rows = (answer.series || []).filter((s) => s.catalog === catalog);
    const ratio = (key) => (row) => fmtPercent(row[key]);
    const money = (row) => {
      const entries = Object.entries(row.revenue_per_search || {}).filter(([, v]) => isFiniteNumber(v));
      return entries.length ? entries.map(([cur, v]) => `${fmtMoney(v)} ${cur}`).join(', ') : '–';
    };
    kpis.show(table('business.kpis', [
      { label: 'Endpoint', value: (r) => r.endpoint },
      { label: 'Variant', value: (r) => h('strong', {}, r.variant) },
      { label: 'Searches', align: 'right', value: (r) => fmtInteger(r.searches) },
      { label: 'CTR', align: 'right', help: 'searches with a click / searches', value: ratio('click_through_rate') },
      { label: 'Item CTR', align: 'right', help: 'clicks / impressions', value: ratio('item_click_rate') },
      { label: 'Add-to-cart', align: 'right', help: 'add-to-carts / searches', value: ratio('add_to_cart_rate') },
      { label: 'Conversion', align: 'right', help: 'purchases / searches', value: ratio('conversion_rate') },
      { label: 'Revenue / search', align: 'right', value: money },
      { label: 'Zero-result', align: 'right', value: ratio('zero_result_rate') },
      { label: 'MRR', align: 'right', help: 'mean reciprocal rank of the first click', value: (r) => fmtNumber(r.mean_reciprocal_rank) },
    ], rows, 'No searches served for this catalog in the range'));
  }

  async function refreshQueries(panel, kind, ctx) {
    const q = new URLSearchParams({ catalog, kind, n: '20' });
    let answer;
    try {
      answer = await getJson(`/v1/monitor/queries?${q}`, ctx.signal);
    } catch (err) {
      if (err instanceof HttpError && (err.status === 404 || err.status === 503)) {
        panel.showEmpty('Query statistics are not available on this server', err.message);
        return;
      }
      throw err;
    }
    const rows = answer.queries || [];
    const max = Math.max(1, ...rows.map((r) => r.count));
    panel.show(table(`business.${kind}`, [
      { label: 'Query', class: 'query', value: (r) => r.query },
      { label: 'Count', align: 'right', value: (r) => h('span', { class: 'count-cell' },
        h('span', { class: 'count-bar', style: { width: `${(r.count / max) * 100}%` } }),
        h('span', { class: 'count-text' }, fmtInteger(r.count),
          r.max_error ? h('span', { class: 'muted', title: 'the count may be too high by at most this much' }, ` ±${fmtInteger(r.max_error)}`) : null)) },
    ], rows, kind === 'top' ? 'No searches yet' : 'No zero-result searches: every query found something'));
  }

  return {
    el,
    async refresh(ctx) {
      const catalogsPanel = { showError: (err) => replaceChildren(body, h('div', { class: 'state error' }, `Could not load catalogs: ${err.message}`)) };
      let ready = false;
      const err = await guarded(catalogsPanel, async () => { ready = await refreshCatalogs(ctx); });
      if (err) return settleAll([Promise.resolve(err)]);
      if (!ready) return true;
      return settleAll([
        guarded(kpis, () => refreshKpis(ctx)),
        ...charts.map((c) => c.refresh(ctx)),
        guarded(top, () => refreshQueries(top, 'top', ctx)),
        guarded(zero, () => refreshQueries(zero, 'zero_result', ctx)),
      ]);
    },
    destroy() {
      charts.forEach((c) => c.destroy());
    },
  };
}

export default { id: 'business', title: 'Business', create };
