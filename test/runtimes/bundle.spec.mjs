// The packaging: what the browser/edge bundle contains, how big it is, that it runs without Node built-ins,
// and that package.json's export conditions pick the right build for each runtime.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, snapshotModel, nodePhonemes, record } from './helpers.mjs';

const WEB = join(ROOT, 'dist/web');
const read = (f) => readFileSync(join(ROOT, f));
const gz = (b) => gzipSync(b, { level: 9 }).length;

describe('browser/edge bundle (dist/web)', () => {
  const bundles = ['dist/web/wasm-seq2seq.js', 'dist/web/wasm-seq2seq.min.js'];

  it('names no Node built-in module, statically or dynamically', () => {
    const names = builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/[/]/g, '\\/'));
    const specifier = new RegExp(`(?:from|import)\\s*\\(?\\s*['"](?:node:[\\w/]+|(?:${names.join('|')}))['"]`);
    for (const f of bundles) {
      const code = read(f).toString();
      expect(code, f).not.toMatch(/\bnode:/);
      expect(code, f).not.toMatch(specifier);
      expect(code, f).not.toMatch(/\brequire\s*\(/);
      expect(code, f).not.toMatch(/^\s*import\s[^;]*from\s*['"]/m);   // one file: no imports left at all
    }
  });

  it('has the kernels beside it and declarations', () => {
    expect(read('dist/web/kernels.wasm').equals(read('dist/build/kernels.wasm'))).toBe(true);
    expect(read('dist/web/wasm-seq2seq.js').toString()).toContain("new URL('./kernels.wasm', import.meta.url)");
    expect(read('dist/web/wasm-seq2seq.d.ts').toString()).toContain("export * from '../bindings/index.js'");
    expect(read('dist/web/wasm-seq2seq.js').toString().split('\n')[0]).toBe('// @ts-self-types="./wasm-seq2seq.d.ts"');
  });

  it('sizes (gzip -9): library JS + wasm', () => {
    const sizes = {
      js: read('dist/web/wasm-seq2seq.js').length, jsGzip: gz(read('dist/web/wasm-seq2seq.js')),
      minJs: read('dist/web/wasm-seq2seq.min.js').length, minJsGzip: gz(read('dist/web/wasm-seq2seq.min.js')),
      wasm: read('dist/web/kernels.wasm').length, wasmGzip: gz(read('dist/web/kernels.wasm')),
    };
    sizes.totalMinGzip = sizes.minJsGzip + sizes.wasmGzip;
    record('bundle-sizes', sizes);
    // A budget that catches an accidental dependency or inlined data, not a target.
    expect(sizes.totalMinGzip).toBeLessThan(150_000);
  });

  describe('runs outside Node paths', () => {
    let dir;
    let expected;
    const text = 'The 3 wizards quickly jinxed the gnomes.';
    beforeAll(async () => {
      dir = await snapshotModel();
      expected = (await nodePhonemes(dir, [text], { lexicon: false }))[text];   // given the model files only
    });

    it('loads in-memory files with a WebAssembly.Module and gives the Node build\'s phonemes', async () => {
      const lib = await import(join(WEB, 'wasm-seq2seq.js'));
      const files = Object.fromEntries(['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors']
        .map((f) => [f, new Uint8Array(readFileSync(join(dir, f))).buffer]));
      const wasm = await WebAssembly.compile(read('dist/web/kernels.wasm'));
      const p = await lib.Phonemizer.load(files, { wasm });
      const words = await p.phonemize(text);
      expect(words.map((w) => ({ text: w.text, phonemes: w.phonemes }))).toEqual(expected);
    });

    it('a folder path fails with a clear SourceError, not a bundler error', async () => {
      const lib = await import(join(WEB, 'wasm-seq2seq.js'));
      const err = await lib.loadModel(lib.folderSource(dir)).catch((e) => e);
      expect(err).toBeInstanceOf(lib.SourceError);
      expect(err.message).toMatch(/needs Node\.js file access .*"fs\/promises" is not available in this \(browser\/edge\) build/);
    });
  });
});

describe('package.json exports', () => {
  const resolveWith = (conditions, spec = 'wasm-seq2seq') => execFileSync(process.execPath,
    [...conditions.map((c) => `--conditions=${c}`), '--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(spec)}))`],
    { cwd: ROOT, encoding: 'utf8' }).trim().replace(/^file:\/\/.*?\/dist\//, 'dist/');

  it('node/default → dist/node, browser/worker/workerd → dist/web, deno → dist/deno', () => {
    expect(resolveWith([])).toBe('dist/node/index.js');
    for (const c of ['browser', 'worker', 'workerd']) expect(resolveWith([c]), c).toBe('dist/web/wasm-seq2seq.js');
    expect(resolveWith(['deno'])).toBe('dist/deno/wasm-seq2seq.js');
    expect(resolveWith([], 'wasm-seq2seq/kernels.wasm')).toBe('dist/build/kernels.wasm');
    expect(resolveWith([], 'wasm-seq2seq/web')).toBe('dist/web/wasm-seq2seq.js');
  });

  it('the Node entry still loads, with the CLI', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "const m = await import('wasm-seq2seq'); console.log(typeof m.loadModel, typeof m.Phonemizer, typeof m.cachedUrlSource)"],
    { cwd: ROOT, encoding: 'utf8' });
    expect(out.trim()).toBe('function function function');
    expect(execFileSync(process.execPath, ['bin/wasm-seq2seq.js', 'phonemize', '--json', 'cat'], { cwd: ROOT, encoding: 'utf8' })).toMatch(/"K"/);
  });

  it('the Deno build keeps only dynamic node: imports (folders and file paths work there)', () => {
    const code = read('dist/deno/wasm-seq2seq.js').toString();
    expect(code).toMatch(/import\('node:fs\/promises'\)/);
    expect(code).not.toMatch(/^\s*import\s[^;]*from\s*['"]/m);
  });
});
