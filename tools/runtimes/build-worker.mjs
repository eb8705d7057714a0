#!/usr/bin/env node
// Build the Cloudflare Worker example (examples/cloudflare-worker/worker.js) into a deployable folder:
//   OUT/worker.js          the worker bundled with the library's "workerd" build (dist/web), minified
//   OUT/kernels.wasm       imported as a WebAssembly module (Workers refuse run-time compilation)
//   OUT/model/*            the model embedded as Data modules: config.json, generation_config.json, vocab.json,
//                          model.safetensors from --model DIR (default: weights/g2p-en converted to int8)
//   OUT/config.capnp       for `workerd serve OUT/config.capnp` (what the tests run)
//   OUT/wrangler.jsonc     for `wrangler deploy` from OUT (no_bundle: the modules are already laid out)
//   OUT/sizes.json         raw and gzip -9 bytes per module and in total (Cloudflare's limit is on the
//                          compressed upload: 3 MB free, 10 MB paid)
//
//   node tools/runtimes/build-worker.mjs [--model DIR] [--out DIR]     (needs `npm run build` first)
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { rollup } from 'rollup';
import terser from '@rollup/plugin-terser';
import { noNodeBuiltins } from './rollup-plugins.mjs';
import { convertModelDir } from '../../dist/bindings/cli/convert.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const WORKER_MODEL_FILES = ['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors'];
export const FREE_PLAN_LIMIT = 3 * 1024 * 1024;    // Workers Free: 3 MB compressed (Paid: 10 MB)

export async function buildWorker({ model, out = join(root, 'build/runtimes/worker') } = {}) {
  const lib = join(root, 'dist/web/wasm-seq2seq.js');
  const wasm = join(root, 'dist/web/kernels.wasm');
  if (!existsSync(lib) || !existsSync(wasm)) throw new Error('dist/web is missing: run `npm run build` first');
  const modelDir = model ?? convertModelDir(join(root, 'weights/g2p-en'), join(root, 'build/runtimes/g2p-en-int8'), 'int8');
  for (const f of WORKER_MODEL_FILES) if (!existsSync(join(modelDir, f))) throw new Error(`${modelDir} has no ${f}`);

  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'model'), { recursive: true });
  const bundle = await rollup({
    input: join(root, 'examples/cloudflare-worker/worker.js'),
    onwarn: (w) => { throw new Error(`rollup: ${w.message}`); },
    external: (id) => id === 'wasm-seq2seq/kernels.wasm' || id.startsWith('./model/'),
    plugins: [
      { name: 'wasm-seq2seq', resolveId: (id) => (id === 'wasm-seq2seq' ? lib : null) },
      noNodeBuiltins(),
    ],
  });
  await bundle.write({
    file: join(out, 'worker.js'), format: 'es',
    paths: { 'wasm-seq2seq/kernels.wasm': './kernels.wasm' },
    plugins: [terser({ ecma: 2022, module: true, keep_classnames: true })],
  });
  await bundle.close();
  copyFileSync(wasm, join(out, 'kernels.wasm'));
  for (const f of WORKER_MODEL_FILES) copyFileSync(join(modelDir, f), join(out, 'model', f));

  const modules = [
    ['worker.js', 'esModule'], ['kernels.wasm', 'wasm'],
    ...WORKER_MODEL_FILES.map((f) => [`model/${f}`, 'data']),
  ];
  writeFileSync(join(out, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .g2pWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);
const g2pWorker :Workerd.Worker = (
  modules = [
${modules.map(([name, kind]) => `    (name = "${name}", ${kind} = embed "${name}"),`).join('\n')}
  ],
  compatibilityDate = "2025-09-01",
);
`);
  writeFileSync(join(out, 'wrangler.jsonc'), `// wrangler deploy (from this folder): the modules are laid out already, so no bundling.
{
  "name": "wasm-seq2seq-g2p",
  "main": "worker.js",
  "compatibility_date": "2025-09-01",
  "no_bundle": true,
  "rules": [
    { "type": "ESModule", "globs": ["**/*.js"] },
    { "type": "CompiledWasm", "globs": ["**/*.wasm"] },
    { "type": "Data", "globs": ["model/**"] }
  ]
}
`);
  const files = modules.map(([name]) => {
    const bytes = readFileSync(join(out, name));
    return { name, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  const total = files.reduce((a, f) => ({ bytes: a.bytes + f.bytes, gzip: a.gzip + f.gzip }), { bytes: 0, gzip: 0 });
  const sizes = { model: modelDir, files, total, freePlanLimit: FREE_PLAN_LIMIT, fitsFreePlan: total.gzip <= FREE_PLAN_LIMIT };
  writeFileSync(join(out, 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
  return { out, modelDir, sizes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? resolve(process.argv[i + 1]) : undefined; };
  const { out, sizes } = await buildWorker({ model: arg('model'), out: arg('out') });
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  for (const f of sizes.files) console.log(`${f.name.padEnd(28)} ${kb(f.bytes).padStart(12)}  gzip ${kb(f.gzip).padStart(12)}`);
  console.log(`${'total'.padEnd(28)} ${kb(sizes.total.bytes).padStart(12)}  gzip ${kb(sizes.total.gzip).padStart(12)}` +
    `  (Workers Free limit ${kb(FREE_PLAN_LIMIT)}: ${sizes.fitsFreePlan ? 'fits' : 'does NOT fit'})`);
  console.log(`built ${out}; run: npx workerd serve ${join(out, 'config.capnp')} --socket-addr=http=127.0.0.1:8787`);
}
