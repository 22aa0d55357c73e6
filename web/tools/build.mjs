// Builds the dashboard: bundles web/src with esbuild into DIST/{index.html,assets/...} and,
// with --cpp, writes the C++ source that embeds those files in the binary
// (src/web/dashboard_assets.h declares what it defines).
//
// usage: node tools/build.mjs --out DIST [--cpp FILE] [--node-modules DIR]
//   --node-modules  where `npm ci` put the packages when that is not web/node_modules
//                   (CMake installs them in the build folder, one copy per build folder).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { writeAssetSource } from './embed.mjs';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const args = { out: null, cpp: null, nodeModules: path.join(webDir, 'node_modules') };
  for (let i = 0; i < argv.length; ++i) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--out': args.out = path.resolve(value()); break;
      case '--cpp': args.cpp = path.resolve(value()); break;
      case '--node-modules': args.nodeModules = path.resolve(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.out) throw new Error('--out DIST is required');
  return args;
}

// Every package whose code ends up in the bundle, with its licence text: the bundle is
// redistributed inside the binary, and MIT-style licences ask for their notice to travel along.
function licenceNotice(metafile, nodeModules) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.replace(/\\/g, '/').match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) packages.set(m[1], true);
  }
  const parts = [];
  for (const name of [...packages.keys()].sort()) {
    const dir = path.join(nodeModules, name);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const licenceFile = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = licenceFile ? readFileSync(path.join(dir, licenceFile), 'utf8').trim() : `License: ${pkg.license}`;
    parts.push(`${name} ${pkg.version}\n${'-'.repeat(name.length + pkg.version.length + 1)}\n${text}\n`);
  }
  return `The shelfwatch dashboard bundles the following packages.\n\n${parts.join('\n')}`;
}

function shortHash(bytes) {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  // esbuild is itself one of the installed packages: load it from there.
  const requireFrom = createRequire(path.join(args.nodeModules, 'package.json'));
  const esbuild = await import(pathToFileURL(requireFrom.resolve('esbuild')).href);

  rmSync(args.out, { recursive: true, force: true });
  mkdirSync(path.join(args.out, 'assets'), { recursive: true });

  const result = await esbuild.build({
    absWorkingDir: webDir,
    entryPoints: { app: 'src/main.js' },
    bundle: true,
    minify: true,
    format: 'iife',
    // What a current browser runs; the dashboard is an operator's tool, not a storefront.
    target: ['chrome109', 'firefox115', 'safari16'],
    outdir: path.join(args.out, 'assets'),
    nodePaths: [args.nodeModules],
    legalComments: 'none',
    banner: { js: '/*! shelfwatch dashboard; bundled third-party code and its licences: /assets/licenses.txt */' },
    metafile: true,
    logLevel: 'warning',
    write: false,
  });

  const files = new Map();  // URL path -> bytes
  for (const file of result.outputFiles) {
    files.set(`/assets/${path.basename(file.path)}`, Buffer.from(file.contents));
  }
  files.set('/assets/licenses.txt', Buffer.from(licenceNotice(result.metafile, args.nodeModules)));

  // index.html names each asset with its content hash as a query string, so a browser that
  // revalidates index.html never mixes a new page with an old script.
  let html = readFileSync(path.join(webDir, 'src', 'index.html'), 'utf8');
  html = html.replace(/(["'])\/assets\/([\w.-]+)\1/g, (whole, quote, name) => {
    const bytes = files.get(`/assets/${name}`);
    if (!bytes) throw new Error(`index.html references /assets/${name}, which the build did not produce`);
    return `${quote}/assets/${name}?v=${shortHash(bytes)}${quote}`;
  });
  files.set('/index.html', Buffer.from(html));

  for (const [urlPath, bytes] of files) {
    writeFileSync(path.join(args.out, urlPath), bytes);
  }
  if (args.cpp) writeAssetSource(args.cpp, files);

  const sizes = [...files].map(([p, b]) => `${p} ${(b.length / 1024).toFixed(1)} KiB`).join(', ');
  console.log(`dashboard: ${sizes}`);
}

main().catch((err) => {
  console.error(`dashboard build failed: ${err.message}`);
  process.exit(1);
});
