// Number, duration and time formats for tiles, axes and tables.

const dash = '–';

export function isFiniteNumber(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

// 1234 -> "1.23k"; 0.01234 -> "0.0123".
export function fmtNumber(v, digits = 3) {
  if (!isFiniteNumber(v)) return dash;
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim((v / 1e9).toPrecision(digits))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toPrecision(digits))}M`;
  if (a >= 1e4) return `${trim((v / 1e3).toPrecision(digits))}k`;
  if (a >= 1 || a === 0) return trim(Number.isInteger(v) ? String(v) : v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2));
  return trim(v.toPrecision(digits));
}

function trim(s) {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

export function fmtInteger(v) {
  return isFiniteNumber(v) ? Math.round(v).toLocaleString('en-US') : dash;
}

// Seconds -> "850 µs", "12.3 ms", "1.2 s".
export function fmtDuration(seconds) {
  if (!isFiniteNumber(seconds)) return dash;
  const a = Math.abs(seconds);
  if (a === 0) return '0';
  if (a < 1e-3) return `${fmtNumber(seconds * 1e6)} µs`;
  if (a < 1) return `${fmtNumber(seconds * 1e3)} ms`;
  if (a < 120) return `${fmtNumber(seconds)} s`;
  return `${fmtNumber(seconds / 60)} min`;
}

export function fmtPercent(ratio, digits = 2) {
  if (!isFiniteNumber(ratio)) return dash;
  const p = ratio * 100;
  if (p === 0) return '0 %';
  return `${Math.abs(p) >= 10 ? p.toFixed(1) : p.toPrecision(digits)} %`;
}

export function fmtBytes(v) {
  if (!isFiniteNumber(v)) return dash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    ++i;
  }
  return `${fmtNumber(v)} ${units[i]}`;
}

export function fmtMoney(v) {
  if (!isFiniteNumber(v)) return dash;
  return Math.abs(v) >= 100 ? fmtNumber(v) : v.toFixed(2);
}

// Unix seconds -> "14:05:09" today, "Nov 28 14:05" otherwise.
export function fmtTime(unixSeconds) {
  if (!isFiniteNumber(unixSeconds)) return dash;
  const d = new Date(unixSeconds * 1000);
  const now = new Date();
  const time = d.toLocaleTimeString('en-GB', { hour12: false });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })} ${time.slice(0, 5)}`;
}

// Unix seconds -> "42 s ago", "3 min ago", "2 h ago".
export function fmtAgo(unixSeconds, nowSeconds = Date.now() / 1000) {
  if (!isFiniteNumber(unixSeconds)) return dash;
  const s = Math.max(0, nowSeconds - unixSeconds);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${(s / 3600).toFixed(1)} h ago`;
  return `${(s / 86400).toFixed(1)} d ago`;
}

// A timestamp the APIs write: RFC 3339 text or Unix seconds. Unix seconds, or NaN.
export function toUnixSeconds(value) {
  if (isFiniteNumber(value)) return value;
  if (typeof value === 'string') {
    const t = Date.parse(value);
    if (Number.isFinite(t)) return t / 1000;
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return NaN;
}

// Formatters by unit, for charts and tiles.
export const units = {
  seconds: fmtDuration,
  ratio: (v) => fmtPercent(v),
  rps: (v) => (isFiniteNumber(v) ? `${fmtNumber(v)}/s` : dash),
  count: fmtNumber,
  bytes: fmtBytes,
  cores: (v) => fmtNumber(v),
  money: fmtMoney,
  score: (v) => fmtNumber(v, 3),
};
