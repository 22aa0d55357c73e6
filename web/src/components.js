// Building blocks shared by the pages: panels, stat tiles, tables, badges, empty states.
import { h, replaceChildren } from './dom.js';
import { registry } from './state.js';

// A titled box. `body` holds the content; show*() replace it with a state message.
export class Panel {
  constructor({ id, title, hint, wide = false, actions = null }) {
    this.id = id;
    this.body = h('div', { class: 'panel-body' });
    this.el = h('section', { class: `panel${wide ? ' wide' : ''}`, id: `panel-${id}` },
      h('header', { class: 'panel-head' },
        h('h2', {}, title),
        hint ? h('span', { class: 'hint', title: hint }, hint) : null,
        actions),
      this.body);
  }

  show(...children) {
    delete registry.empty[this.id];
    delete registry.errors[this.id];
    replaceChildren(this.body, ...children);
  }

  showEmpty(message, detail) {
    registry.empty[this.id] = message;
    delete registry.errors[this.id];
    replaceChildren(this.body, emptyState(message, detail));
  }

  showError(err) {
    const message = err && err.message ? err.message : String(err);
    registry.errors[this.id] = message;
    replaceChildren(this.body, h('div', { class: 'state error' }, h('strong', {}, 'Could not load: '), message));
  }
}

export function emptyState(message, detail) {
  return h('div', { class: 'state empty' }, h('div', { class: 'state-title' }, message), detail ? h('div', { class: 'state-detail' }, detail) : null);
}

// A row of headline numbers. set(key, value text, tone) updates one.
export class Tiles {
  constructor(specs) {
    this.cells = new Map();
    this.el = h('div', { class: 'tiles' },
      specs.map((s) => {
        const value = h('div', { class: 'tile-value' }, '…');
        const sub = h('div', { class: 'tile-sub' }, s.sub || '');
        this.cells.set(s.key, { value, sub, tile: null });
        const tile = h('div', { class: 'tile', title: s.help || '' }, h('div', { class: 'tile-label' }, s.label), value, sub);
        this.cells.get(s.key).tile = tile;
        return tile;
      }));
  }

  set(key, text, { tone = '', sub } = {}) {
    const cell = this.cells.get(key);
    cell.value.textContent = text;
    cell.tile.className = `tile${tone ? ` tone-${tone}` : ''}`;
    if (sub !== undefined) cell.sub.textContent = sub;
  }
}

// A table: columns [{label, value(row) -> text|Node, class, align}], rows; an empty state
// when there are no rows. Counts rows into the registry under `id`.
export function table(id, columns, rows, emptyMessage = 'Nothing to show') {
  registry.tables[id] = rows.length;
  if (!rows.length) return emptyState(emptyMessage);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data', id: `table-${id}` },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.align === 'right' ? 'num' : '' , title: c.help || null }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', {},
        columns.map((c) => h('td', { class: [c.align === 'right' ? 'num' : '', c.class || ''].join(' ').trim() || null }, c.value(row))))))));
}

// A coloured word for a state: tone ok | warn | alert | muted | info.
export function badge(text, tone) {
  return h('span', { class: `badge tone-${tone || 'muted'}` }, text);
}

export function labelChips(labels, skip = []) {
  return h('span', { class: 'chips' },
    Object.entries(labels || {})
      .filter(([k]) => !skip.includes(k))
      .map(([k, v]) => h('span', { class: 'chip' }, h('span', { class: 'chip-k' }, k), '=', v)));
}
