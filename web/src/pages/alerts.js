// Alerts: what fires now (GET /v1/alerts, Prometheus' /api/v1/alerts shape) and the recent
// state changes (GET /v1/alerts/history). 404 from either: alerting is not configured.
import { h } from '../dom.js';
import { Panel, Tiles, badge, labelChips, table } from '../components.js';
import { HttpError, getJson, sampleValue } from '../api.js';
import { fmtAgo, fmtNumber, fmtTime, toUnixSeconds } from '../format.js';
import { grid, guarded, settleAll } from './common.js';

const STATE_TONE = { firing: 'alert', pending: 'warn', inactive: 'ok', resolved: 'ok' };
const SEVERITY_RANK = { critical: 0, page: 0, error: 1, warning: 2, info: 3 };

function notConfigured(panel, err) {
  if (err instanceof HttpError && (err.status === 404 || err.status === 503)) {
    panel.showEmpty('Alerting not configured', 'Start the server with alert rules to evaluate them here.');
    return true;
  }
  return false;
}

function create() {
  const tiles = new Tiles([
    { key: 'firing', label: 'Firing' },
    { key: 'pending', label: 'Pending' },
    { key: 'changes', label: 'State changes', sub: 'last 100 kept' },
  ]);
  const active = new Panel({ id: 'alerts.active', title: 'Active alerts', wide: true });
  const history = new Panel({ id: 'alerts.history', title: 'History', hint: 'newest first', wide: true });
  const el = h('div', { class: 'page' }, tiles.el, grid(active.el, history.el));

  async function refreshActive(ctx) {
    let answer;
    try {
      answer = await getJson('/v1/alerts', ctx.signal);
    } catch (err) {
      if (notConfigured(active, err)) {
        tiles.set('firing', '–');
        tiles.set('pending', '–');
        return;
      }
      throw err;
    }
    const alerts = ((answer && answer.data && answer.data.alerts) || []).slice();
    const firing = alerts.filter((a) => a.state === 'firing').length;
    const pending = alerts.filter((a) => a.state === 'pending').length;
    tiles.set('firing', String(firing), { tone: firing ? 'alert' : 'ok' });
    tiles.set('pending', String(pending), { tone: pending ? 'warn' : '' });
    const sev = (a) => SEVERITY_RANK[(a.labels || {}).severity] ?? 5;
    alerts.sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) || sev(a) - sev(b)
      || toUnixSeconds(a.activeAt) - toUnixSeconds(b.activeAt));
    active.show(table('alerts.active', [
      { label: 'State', value: (a) => badge(a.state, STATE_TONE[a.state]) },
      { label: 'Alert', value: (a) => h('strong', {}, (a.labels || {}).alertname || '?') },
      { label: 'Severity', value: (a) => (a.labels || {}).severity || '' },
      { label: 'Summary', class: 'wrap', value: (a) => {
        const ann = a.annotations || {};
        return h('span', {}, ann.summary || ann.description || '', ann.summary && ann.description ? h('div', { class: 'muted' }, ann.description) : null);
      } },
      { label: 'Labels', class: 'wrap', value: (a) => labelChips(a.labels, ['alertname', 'severity']) },
      { label: 'Active since', value: (a) => h('span', { title: fmtTime(toUnixSeconds(a.activeAt)) }, fmtAgo(toUnixSeconds(a.activeAt))) },
      { label: 'Value', align: 'right', value: (a) => fmtNumber(sampleValue(a.value)) },
    ], alerts, 'No alerts firing or pending. All quiet.'));
  }

  async function refreshHistory(ctx) {
    let answer;
    try {
      answer = await getJson('/v1/alerts/history?limit=100', ctx.signal);
    } catch (err) {
      if (notConfigured(history, err)) {
        tiles.set('changes', '–');
        return;
      }
      throw err;
    }
    const rows = ((answer && answer.transitions) || []).slice().sort((a, b) => toUnixSeconds(b.time) - toUnixSeconds(a.time));
    tiles.set('changes', String(rows.length));
    history.show(table('alerts.history', [
      { label: 'Time', value: (t) => h('span', { title: fmtAgo(toUnixSeconds(t.time)) }, fmtTime(toUnixSeconds(t.time))) },
      { label: 'Alert', value: (t) => h('strong', {}, t.alertname || (t.labels || {}).alertname || '?') },
      { label: 'Change', value: (t) => h('span', { class: 'transition' }, badge(t.from, STATE_TONE[t.from]), ' → ', badge(t.to, STATE_TONE[t.to])) },
      { label: 'Labels', class: 'wrap', value: (t) => labelChips(t.labels, ['alertname']) },
      { label: 'Value', align: 'right', value: (t) => fmtNumber(typeof t.value === 'string' ? sampleValue(t.value) : t.value) },
    ], rows, 'No alert has changed state yet'));
  }

  return {
    el,
    refresh(ctx) {
      return settleAll([guarded(active, () => refreshActive(ctx)), guarded(history, () => refreshHistory(ctx))]);
    },
    destroy() {},
  };
}

export default { id: 'alerts', title: 'Alerts', create };
