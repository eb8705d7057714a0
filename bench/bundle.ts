// What a browser downloads, gzip -9 per file (as a server would send each file), for us, onnxruntime-web and
// transformers.js. transformers.js is measured from `npm pack @huggingface/transformers` (cached in
// bench/.models/pack/, never a dependency).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MODELS, ROOT } from './models.js';

export interface FileSize { file: string; raw: number; gz: number }
export interface BundleRow { name: string; what: string; files: FileSize[]; raw: number; gz: number; note?: string }

function size(file: string): FileSize {
  const b = readFileSync(file);
  return { file: relative(ROOT, file), raw: b.length, gz: gzipSync(b, { level: 9 }).length };
}

function row(name: string, what: string, files: FileSize[], note?: string): BundleRow {
  return { name, what, files, raw: files.reduce((s, f) => s + f.raw, 0), gz: files.reduce((s, f) => s + f.gz, 0), note };
}

/** transformers.js's dist/transformers.min.js and version, from a cached npm pack; null when npm cannot reach the registry. */
function transformersJs(log: (s: string) => void): { file: string; version: string } | null {
  const dir = join(MODELS, 'pack');
  mkdirSync(dir, { recursive: true });
  let tgz = readdirSync(dir).find((f) => /^huggingface-transformers-.*\.tgz$/.test(f));
  if (!tgz) {
    log(`bundle: npm pack @huggingface/transformers into ${relative(ROOT, dir)}/ (measured only, not installed)`);
    const r = spawnSync('npm', ['pack', '@huggingface/transformers', '--pack-destination', dir], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) { log(`bundle: npm pack failed: ${(r.stderr || '').trim().split('\n').pop()}`); return null; }
    tgz = readdirSync(dir).find((f) => /^huggingface-transformers-.*\.tgz$/.test(f));
    if (!tgz) return null;
  }
  const version = tgz.replace(/^huggingface-transformers-|\.tgz$/g, '');
  const out = join(dir, version);
  if (!existsSync(join(out, 'package', 'dist', 'transformers.min.js'))) {
    mkdirSync(out, { recursive: true });
    const r = spawnSync('tar', ['-xzf', join(dir, tgz), '-C', out, 'package/dist/transformers.min.js', 'package/package.json']);
    if (r.status !== 0) return null;
  }
  return { file: join(out, 'package', 'dist', 'transformers.min.js'), version };
}

export function bundleSizes(log: (s: string) => void): { rows: BundleRow[]; ortVersion: string; transformersVersion: string | null } {
  const ort = join(ROOT, 'node_modules', 'onnxruntime-web');
  const ortVersion = (JSON.parse(readFileSync(join(ort, 'package.json'), 'utf8')) as { version: string }).version;
  const od = (f: string) => size(join(ort, 'dist', f));
  // the Node build (npm run build:bundle): library + CLI entries, their shared chunk (with @huggingface/tokenizers)
  const nodeDir = join(ROOT, 'dist', 'node');
  const nodeBuild = existsSync(nodeDir) ? readdirSync(nodeDir).filter((f) => f.endsWith('.js')).sort().map((f) => join(nodeDir, f)) : [];
  const ours = [...nodeBuild.map(size), size(join(ROOT, 'dist', 'build', 'kernels.wasm'))];
  const web = (f: string) => join(ROOT, 'dist', 'web', f);
  const rows = [
    // what a page or worker downloads: the minified web build (npm run build:bundle) and the kernels it fetches
    ...(existsSync(web('wasm-seq2seq.min.js'))
      ? [row('wasm-seq2seq', `'wasm-seq2seq/web/min' (browser/worker build): wasm-seq2seq.min.js + kernels.wasm`, [size(web('wasm-seq2seq.min.js')), size(web('kernels.wasm'))])]
      : []),
    row('wasm-seq2seq', 'Node build: dist/node/*.js (unminified; with the CLI and @huggingface/tokenizers) + dist/build/kernels.wasm', ours),
    row('onnxruntime-web', `'onnxruntime-web/wasm' (wasm EP only): ort.wasm.bundle.min.mjs + ort-wasm-simd-threaded.wasm`,
      [od('ort.wasm.bundle.min.mjs'), od('ort-wasm-simd-threaded.wasm')]),
    row('onnxruntime-web', `'onnxruntime-web' (default: wasm + WebGPU/WebNN): ort.bundle.min.mjs + ort-wasm-simd-threaded.jsep.wasm`,
      [od('ort.bundle.min.mjs'), od('ort-wasm-simd-threaded.jsep.wasm')]),
  ];
  const tj = transformersJs(log);
  if (tj) {
    const pkg = JSON.parse(readFileSync(join(tj.file, '..', '..', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    rows.push(row('transformers.js', `@huggingface/transformers ${tj.version} dist/transformers.min.js`, [size(tj.file)]));
    rows.push(row('transformers.js', `  + the ORT .jsep.wasm it fetches at run time (size of onnxruntime-web ${ortVersion}'s)`,
      [size(tj.file), od('ort-wasm-simd-threaded.jsep.wasm')],
      `transformers.js ${tj.version} depends on onnxruntime-web ${pkg.dependencies?.['onnxruntime-web'] ?? '?'}; its wasm is loaded from a CDN by default`));
  }
  return { rows, ortVersion, transformersVersion: tj?.version ?? null };
}
