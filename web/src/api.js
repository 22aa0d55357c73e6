// The server's JSON APIs, same origin. PromQL goes to /v1/monitor/query and /query_range,
// which answer exactly as Prometheus' /api/v1/query and /api/v1/query_range
// (https://prometheus.io/docs/prometheus/latest/querying/api/).

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET a JSON body. Non-2xx answers throw HttpError with the server's message: shelfwatch
// writes {"error":{"code","message"}}, the Prometheus-shaped endpoints {"error":"..."}.
export async function getJson(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new HttpError(0, 'server unreachable');
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (response.ok) throw new HttpError(response.status, `${url.split('?')[0]}: the answer is not JSON`);
  }
  if (!response.ok) {
    const e = body && body.error;
    const message = typeof e === 'string' ? e : e && e.message ? e.message : `${response.status} ${response.statusText}`;
    throw new HttpError(response.status, message);
  }
  return body;
}

// Prometheus writes sample values as strings ("1.5", "NaN", "+Inf").
export function sampleValue(s) {
  const v = Number(s);
  return Number.isFinite(v) ? v : NaN;
}

// A range query. Returns [{metric, values: [[t, v(number)]...]}]; a scalar result becomes one
// series with no labels.
export async function queryRange(query, range, signal) {
  const params = new URLSearchParams({ query, start: String(range.start), end: String(range.end), step: String(range.step) });
  const body = await getJson(`/v1/monitor/query_range?${params}`, signal);
  const data = body && body.data;
  if (!data || !Array.isArray(data.result)) return [];
  return data.result.map((s) => ({
    metric: s.metric || {},
    values: (s.values || []).map(([t, v]) => [Number(t), sampleValue(v)]),
  }));
}

// An instant query at `time` (Unix seconds). Returns [{metric, value}] (a scalar: one row).
export async function queryInstant(query, time, signal) {
  const params = new URLSearchParams({ query });
  if (time !== undefined) params.set('time', String(time));
  const body = await getJson(`/v1/monitor/query?${params}`, signal);
  const data = body && body.data;
  if (!data) return [];
  if (data.resultType === 'scalar') return [{ metric: {}, value: sampleValue(data.result[1]) }];
  if (!Array.isArray(data.result)) return [];
  return data.result.map((s) => ({ metric: s.metric || {}, value: sampleValue(s.value && s.value[1]) }));
}

// The value of a query that yields one series (e.g. sum(...)); NaN when it yields nothing.
export async function queryScalar(query, time, signal) {
  const rows = await queryInstant(query, time, signal);
  return rows.length ? rows[0].value : NaN;
}

// A PromQL label matcher value: backslash and double quote escaped (PromQL strings are Go
// string literals).
export function promString(value) {
  return `"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
