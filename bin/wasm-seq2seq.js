#!/usr/bin/env node
// The `wasm-seq2seq` command: the compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs).
import('../dist/node/cli.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => { console.error(`wasm-seq2seq: ${err?.message ?? err}`); process.exitCode = 1; },
);
