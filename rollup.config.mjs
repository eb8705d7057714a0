// Library bundles, built from tsc's output (dist/bindings/*.js, made by `npm run build:ts` just before):
//   dist/web/wasm-seq2seq.js (+ .min.js)  browsers, Web Workers, Cloudflare Workers/edge: one ESM file, no Node
//                                        built-ins, @huggingface/tokenizers inlined, kernels.wasm beside it
//   dist/deno/wasm-seq2seq.js             Deno: the same, but folder sources / file paths keep their dynamic
//                                        `node:` imports (Deno has them), and the default model dir still resolves
//   dist/node/{index,cli}.js             Node and the CLI: the same again with Node's conditions, split into the
//                                        library entry, the CLI entry and their shared chunks. Importing ~50
//                                        per-file modules took Node 60-90 ms, these files ~25: it is paid on every
//                                        cold start and CLI run. Beside one another, so the relative paths to
//                                        dist/build/ and weights/ are those of dist/bindings/*.js.
// dist/bindings/ (tsc's per-file output) stays what the tests and benchmarks import piece by piece.
// Bundling tsc's JavaScript rather than re-compiling the TypeScript with @rollup/plugin-typescript means one
// compiler pass, the exact code the test suite runs in Node, and tsc's declarations for every build.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { declarationsBeside, kernelsBeside, noNodeBuiltins } from './tools/runtimes/rollup-plugins.mjs';

const input = 'dist/bindings/index.js';
const selfTypes = '// @ts-self-types="./wasm-seq2seq.d.ts"';
const onwarn = (w, warn) => { throw new Error(`rollup: ${w.message}`); };

export default [
  {
    input,
    onwarn,
    plugins: [
      nodeResolve({ browser: true, exportConditions: ['browser', 'worker', 'import'] }),
      noNodeBuiltins(),
      kernelsBeside(),
      declarationsBeside('wasm-seq2seq.d.ts'),
    ],
    output: [
      { file: 'dist/web/wasm-seq2seq.js', format: 'es', banner: selfTypes },
      // keep_classnames: the typed errors' `name` (SourceError, ...) comes from their class names
      { file: 'dist/web/wasm-seq2seq.min.js', format: 'es', banner: selfTypes, plugins: [terser({ ecma: 2022, module: true, keep_classnames: true })] },
    ],
  },
  {
    input,
    onwarn,
    external: (id) => id.startsWith('node:'),
    plugins: [
      nodeResolve({ exportConditions: ['deno', 'node', 'import'] }),
      declarationsBeside('wasm-seq2seq.d.ts'),
    ],
    // one file: the Node-only worker spawner (threads/spawn.node.js, never called under Deno) is inlined too
    output: { file: 'dist/deno/wasm-seq2seq.js', format: 'es', banner: selfTypes, inlineDynamicImports: true },
  },
  {
    input: { index: input, cli: 'dist/bindings/cli.js' },
    onwarn,
    external: (id) => id.startsWith('node:'),
    plugins: [
      nodeResolve({ exportConditions: ['node', 'import'] }),
      declarationsBeside('index.d.ts'),
    ],
    output: { dir: 'dist/node', format: 'es', entryFileNames: '[name].js', chunkFileNames: (c) => (c.name.endsWith('.node') ? '[name].js' : 'shared.js') },
  },
];
