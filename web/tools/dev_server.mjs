// A development server for the dashboard: serves a build (tools/build.mjs --out DIST) and
// forwards the API to a running shelfwatch, so the page can be worked on without rebuilding
// the binary. With --prometheus, PromQL goes to a Prometheus that scrapes that shelfwatch
// instead (/v1/monitor/query[_range] -> /api/v1/query[_range]: the same answers by design).
//
// usage: node tools/dev_server.mjs --dist DIST --upstream http://127.0.0.1:8080
//                                  [--prometheus http://127.0.0.1:9090] [--port 8099]
// Listens on 127.0.0.1 only.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
if (!args.dist || !args.upstream) {
  console.error('usage: node tools/dev_server.mjs --dist DIST --upstream URL [--prometheus URL] [--port N]');
  process.exit(2);
}
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.txt': 'text/plain' };

function forward(req, res, target) {
  const url = new URL(target);
  const upstream = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers: { accept: 'application/json' } }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (err) => {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'unavailable', message: err.message } }));
  });
  req.pipe(upstream);
}

http.createServer(async (req, res) => {
  const { pathname, search } = new URL(req.url, 'http://x');
  if (pathname === '/' || pathname.startsWith('/assets/') || pathname === '/index.html') {
    const file = pathname === '/' ? 'index.html' : pathname.slice(1);
    try {
      const body = await readFile(path.join(args.dist, path.normalize(file)));
      res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
    return;
  }
  const prom = pathname.match(/^\/v1\/monitor\/(query|query_range)$/);
  if (prom && args.prometheus) return forward(req, res, `${args.prometheus}/api/v1/${prom[1]}${search}`);
  return forward(req, res, `${args.upstream}${pathname}${search}`);
}).listen(Number(args.port || 8099), '127.0.0.1', () => console.log(`dashboard on http://127.0.0.1:${args.port || 8099}/`));
