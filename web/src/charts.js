// Time-series charts (uPlot) fed by range queries, and the small bar charts of the drift page.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { h, replaceChildren } from './dom.js';
import { emptyState } from './components.js';
import { units } from './format.js';
import { registry } from './state.js';

export const palette = ['#2f6fdd', '#e5663a', '#2a9d6f', '#a356d6', '#d4a514', '#d6457b', '#3fa7c4', '#8a6d3b', '#5c6b80', '#7cb342'];

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

// Puts series from a range query on the grid start, start + step, ... end, so that all series
// (and all queries of one refresh) share one x array; a step with no sample is null, which
// uPlot draws as a gap.
export function alignSeries(range, series) {
  const n = Math.floor((range.end - range.start) / range.step) + 1;
  const xs = new Array(n);
  for (let i = 0; i < n; ++i) xs[i] = range.start + i * range.step;
  const ys = series.map((s) => {
    const y = new Array(n).fill(null);
    for (const [t, v] of s.values) {
      const i = Math.round((t - range.start) / range.step);
      if (i >= 0 && i < n && Number.isFinite(v)) y[i] = v;
    }
    return y;
  });
  return { xs, ys };
}

function lastValue(ys) {
  for (let i = ys.length - 1; i >= 0; --i) if (ys[i] !== null) return ys[i];
  return null;
}

// "14:05" on an axis spanning hours, "14:05:30" within minutes (and for one instant: span 0),
// "Nov 28 14:05" over days.
function clockLabel(t, span) {
  const d = new Date(t * 1000);
  const hm = d.toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit' });
  if (span > 2 * 86400) return `${d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })} ${hm}`;
  if (span <= 600) return d.toLocaleTimeString('en-GB', { hour12: false });
  return hm;
}

// One chart: setData(range, [{label, values: [[t, v]...]}]) draws it, or an empty state when
// no series has a finite point. The number of points drawn is kept in window.__shelfwatch.
export class TimeChart {
  constructor({ id, unit = 'count', height = 170, emptyMessage = 'No data in this time range', emptyDetail = null }) {
    this.id = id;
    this.format = units[unit] || units.count;
    this.zeroScale = { ratio: 0.01, seconds: 0.001 }[unit] || 1;
    // Bytes tick at powers of two (64 MiB, 128 MiB), not at 19.1 MiB.
    this.incrs = unit === 'bytes' ? Array.from({ length: 40 }, (_, i) => 2 ** i) : undefined;
    this.height = height;
    this.emptyMessage = emptyMessage;
    this.emptyDetail = emptyDetail;
    this.plot = null;
    this.signature = '';
    this.plotEl = h('div', { class: 'chart-plot' });
    this.el = h('div', { class: 'chart', id: `chart-${id}` }, this.plotEl);
    registry.charts[id] = 0;
    this.resize = new ResizeObserver(() => {
      if (this.plot && this.plotEl.clientWidth > 0) this.plot.setSize({ width: this.plotEl.clientWidth, height: this.height });
    });
    this.resize.observe(this.el);
  }

  setData(range, series) {
    const { xs, ys } = alignSeries(range, series);
    let points = 0;
    for (const y of ys) for (const v of y) if (v !== null) ++points;
    registry.charts[this.id] = points;
    if (points === 0) {
      this.destroyPlot();
      replaceChildren(this.plotEl, emptyState(this.emptyMessage, this.emptyDetail));
      return;
    }
    const signature = series.map((s) => s.label).join('\u0000');
    if (this.plot && signature === this.signature) {
      this.plot.setData([xs, ...ys]);
      return;
    }
    this.destroyPlot();
    replaceChildren(this.plotEl);
    this.signature = signature;
    this.plot = new uPlot(this.options(series), [xs, ...ys], this.plotEl);
  }

  options(series) {
    const fg = cssVar('--fg-muted', '#667');
    const grid = cssVar('--grid', 'rgba(128,128,128,0.15)');
    const font = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
    const fmt = this.format;
    const axis = { stroke: fg, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1, size: 4 } };
    return {
      width: Math.max(this.plotEl.clientWidth, 200),
      height: this.height,
      padding: [10, 12, 0, 0],
      // No drag-zoom: the page refreshes every few seconds and would undo it.
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true },
        // Every quantity here is >= 0; starting at 0 keeps small changes from looking big. An
        // all-zero series gets a small scale of its unit rather than a 0..100 % one.
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : this.zeroScale] },
      },
      axes: [
        { ...axis, values: (u, splits) => splits.map((t) => clockLabel(t, u.scales.x.max - u.scales.x.min)) },
        { ...axis, size: 62, values: (u, splits) => splits.map((v) => fmt(v)), incrs: this.incrs },
      ],
      series: [
        {
          label: 'time',
          value: (u, v, si, idx) => (idx === null || v === null || v === undefined ? 'latest' : clockLabel(v, 0)),
        },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || palette[i % palette.length],
          width: 1.5,
          spanGaps: false,
          // Isolated samples (a series that just appeared) would be invisible as lines.
          points: { show: (u, si) => u.data[si].filter((v) => v !== null).length <= 3, size: 5 },
          // With the cursor off the chart the legend shows each series' latest value.
          value: (u, v, si, idx) => {
            if (idx === null) v = lastValue(u.data[si]);
            return v === null || v === undefined ? '–' : fmt(v);
          },
        })),
      ],
    };
  }

  destroyPlot() {
    if (this.plot) {
      this.plot.destroy();
      this.plot = null;
      this.signature = '';
    }
  }

  destroy() {
    this.resize.disconnect();
    this.destroyPlot();
  }
}

// Side-by-side bars of two distributions (reference vs current) as shares of their totals,
// as inline SVG. bins: [{label, reference, current}] with shares in [0, 1].
export function pairedBars(bins, { width = 320, height = 120, labelEvery = 1 } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 18}`);
  svg.setAttribute('class', 'bars');
  svg.setAttribute('role', 'img');
  const max = Math.max(1e-12, ...bins.flatMap((b) => [b.reference, b.current]));
  const slot = width / Math.max(1, bins.length);
  const bar = Math.max(1, slot * 0.4);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    svg.appendChild(el);
    return el;
  };
  bins.forEach((b, i) => {
    const x = i * slot + slot * 0.1;
    for (const [j, key] of [[0, 'reference'], [1, 'current']]) {
      const hgt = (b[key] / max) * height;
      const rect = add('rect', { x: x + j * bar, y: height - hgt, width: bar, height: Math.max(hgt, 0.5), class: key });
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${b.label}: ${key} ${(b[key] * 100).toFixed(1)} %`;
      rect.appendChild(title);
    }
    if (i % labelEvery === 0) add('text', { x: x + bar, y: height + 13, class: 'bar-label', 'text-anchor': 'middle' }, b.label);
  });
  add('line', { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, class: 'bar-axis' });
  return svg;
}
