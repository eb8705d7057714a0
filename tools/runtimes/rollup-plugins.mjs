// Rollup plugins shared by rollup.config.mjs (the library bundles) and tools/runtimes/build-worker.mjs.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';

const BUILTINS = new Set(builtinModules);
const isBuiltin = (id) => id.startsWith('node:') || BUILTINS.has(id) || BUILTINS.has(id.split('/')[0]);

/**
 * Browser/edge builds: the library reaches Node built-ins only through `await import('node:fs/promises')` and
 * the like, in Node-only paths (folder sources, file-path wasm, the default model dir, worker threads via
 * our own `*.node.js` modules). Replace each such
 * dynamic import by a rejected promise, so the bundle names no Node module at all (bundlers and
 * Cloudflare's esbuild then have nothing to resolve) and the Node-only path fails with a clear message.
 * A static import of a built-in is a build error.
 */
export function noNodeBuiltins() {
  const dyn = /\bimport\(\s*(['"])node:([\w/]+)\1\s*\)/g;
  // our own Node-only modules (bindings/**/*.node.ts), imported dynamically from Node-only paths
  const nodeOnly = /\bimport\(\s*(['"])(\.{1,2}\/[\w./-]+\.node\.js)\1\s*\)/g;
  return {
    name: 'no-node-builtins',
    resolveId(source, importer) {
      if (isBuiltin(source)) this.error(`${importer} imports the Node built-in "${source}" statically; browser/edge bundles must not`);
      return null;
    },
    transform(code) {
      if (!code.includes('node:') && !code.includes('.node.js')) return null;
      const reject = (what) => `Promise.reject(new Error(${JSON.stringify(`${what} is not available in this (browser/edge) build of wasm-seq2seq`)}))`;
      return {
        code: code.replace(dyn, (_, _q, mod) => reject(`the Node.js module "${mod}"`))
          .replace(nodeOnly, (_, _q, mod) => reject(`the Node-only part "${mod}"`)),
        map: null,
      };
    },
  };
}

/**
 * Web build: look for the kernels beside the bundle (`./kernels.wasm`, and the threaded `./kernels-mt.wasm`,
 * emitted as assets) instead of at dist/build/, so dist/web/ is a self-contained folder to serve. Bundlers (Vite, webpack 5, esbuild with a
 * loader) recognise `new URL('./kernels.wasm', import.meta.url)` and carry the asset along.
 */
export function kernelsBeside(files = ['kernels.wasm', 'kernels-mt.wasm', 'kernels-relaxed.wasm', 'kernels-mt-relaxed.wasm']) {
  let seen = false;
  return {
    name: 'kernels-beside-bundle',
    buildStart() { seen = false; },
    transform(code, id) {
      if (!/[\\/]bindings[\\/]assets\.js$/.test(id)) return null;
      seen = true;
      for (const f of files) {
        const from = `new URL('../build/${f}', import.meta.url)`;
        if (!code.includes(from)) this.error(`${id} no longer contains ${from}; update tools/runtimes/rollup-plugins.mjs`);
        // Cloudflare's workerd has no usable import.meta.url ("Invalid URL string" at module load): there the
        // default stays a plain name, and loading without the `wasm` option fails with that hint.
        const to = `(() => { try { return new URL('./${f}', import.meta.url); } catch { ` +
          `return '${f} (this runtime gives modules no URL: pass the wasm option, e.g. the imported WebAssembly.Module)'; } })()`;
        code = code.replace(from, to);
      }
      return { code, map: null };
    },
    generateBundle() {
      if (!seen) this.error('bindings/assets.js was not part of the bundle');
      for (const f of files) this.emitFile({ type: 'asset', fileName: f, source: readFileSync(`build/${f}`) });
    },
  };
}

/** A declaration file beside the bundle that re-exports tsc's declarations (dist/bindings/index.d.ts). */
export function declarationsBeside(fileName) {
  return {
    name: 'declarations-beside-bundle',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName, source: "export * from '../bindings/index.js';\n" });
    },
  };
}
