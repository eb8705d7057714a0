// The kernels module: really SIMD, loadable from every kind of source, and a heap that survives growth.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import binaryen from 'binaryen';
import { DEFAULT_WASM_URL, DEFAULT_RELAXED_WASM_URL, DEFAULT_THREADED_RELAXED_WASM_URL } from '../bindings/assets.js';
import { KERNEL_FUNCTIONS, defaultKernelsUrl, hasRelaxedSimd, loadKernels, resolveSimd } from '../bindings/backends/wasm/kernels.js';
import { Heap } from '../bindings/backends/wasm/heap.js';
import { createRuntime as createHeap } from '../bindings/backends/wasm/runtime.js';
import { testKernelsUrl } from './helpers/kernels.js';
import { InputError, WasmLoadError, MemoryError, UnsupportedError } from '../bindings/errors.js';

const wasmPath = new URL('../build/kernels.wasm', import.meta.url);
const bytes = readFileSync(wasmPath);

describe('kernels.wasm is a SIMD build', () => {
  // Disassemble with binaryen and look inside the hot functions: a build without `--enable simd` cannot
  // produce these instructions, so it fails here.
  const mod = binaryen.readBinary(bytes);
  mod.setFeatures(binaryen.Features.All);
  const text = mod.emitText();
  const body = (exportName: string) => {
    // the release build has no name section: find the function through its export
    const m = text.match(new RegExp(`\\(export "${exportName}" \\(func (\\$\\S+)\\)\\)`));
    expect(m, `export ${exportName}`).not.toBeNull();
    const start = text.indexOf(`(func ${m![1]} `);
    expect(start).toBeGreaterThanOrEqual(0);
    const next = text.indexOf('\n (func ', start + 1);
    return text.slice(start, next < 0 ? undefined : next);
  };
  /** A function's body and those of every function it reaches through calls (the dispatchers linear_f32 /
   *  linear_i8 call the tiles) and indirect calls (activation_f32 calls its kind's loop through the table). */
  const tableFuncs = [...text.matchAll(/\(elem [^\n]*/g)].flatMap(([e]) => e.match(/\$\d+/g)!.slice(1));
  const reach = (exportName: string) => {
    const seen = new Set<string>(), bodies: string[] = [];
    const visit = (b: string) => {
      bodies.push(b);
      const callees = [...b.matchAll(/\(call (\$\S+)/g)].map(([, c]) => c);
      if (b.includes('call_indirect')) callees.push(...tableFuncs);
      for (const c of callees) {
        if (seen.has(c)) continue;
        seen.add(c);
        const start = text.indexOf(`(func ${c} `), next = text.indexOf('\n (func ', start + 1);
        if (start >= 0) visit(text.slice(start, next < 0 ? undefined : next));
      }
    };
    visit(body(exportName));
    return bodies.join('');
  };
  it.each([
    ['linear_f32', 'f32x4.mul'], ['layer_norm_f32', 'f32x4.sub'], ['log_softmax_f32', 'f32x4.pmax'],
    ['attention_f32', 'f32x4.mul'], ['activation_f32', 'f32x4.div'], ['linear_i8', 'i32x4.dot_i16x8_s'],
  ])('%s uses %s', (fn, op) => {
    const b = reach(fn);
    expect(b).toContain(op);
    expect(b).toContain('v128.load');
  });
  it('never grows memory itself: all allocation belongs to the TypeScript heap (no runtime allocator linked in)', () => {
    expect(text).not.toContain('memory.grow');
  });
  it('has no imports (nothing to wire up in any runtime)', () => {
    expect(WebAssembly.Module.imports(new WebAssembly.Module(bytes))).toEqual([]);
  });
  it('exports exactly what the TypeScript side declares: no scalar references, no benchmark probe', () => {
    const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name).sort();
    expect(names).toEqual([...KERNEL_FUNCTIONS, 'memory', '_initialize'].sort());
    expect(names.filter((n) => n.endsWith('_ref') || n.includes('probe'))).toEqual([]);
  });
  it('the test build (never shipped) adds the references and the probe to the same kernels', () => {
    const test = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(testKernelsUrl('baseline')))).map((e) => e.name);
    expect(test).toEqual(expect.arrayContaining([...KERNEL_FUNCTIONS, 'gemm_f32_ref', 'attention_f32_ref', 'simd_peak_probe']));
  });
});

describe('kernels-relaxed.wasm: the same kernels with fused multiply-add', () => {
  const relaxed = readFileSync(DEFAULT_RELAXED_WASM_URL);
  const mod = binaryen.readBinary(relaxed);
  mod.setFeatures(binaryen.Features.All);
  const text = mod.emitText();
  it('uses relaxed_madd in place of mul + add', () => {
    const count = (t: string, op: string) => t.split(op).length - 1;
    expect(count(text, 'f32x4.relaxed_madd')).toBeGreaterThanOrEqual(20);
    expect(readFileSync(DEFAULT_WASM_URL).toString('latin1')).not.toContain(String.fromCharCode(0xfd, 0x85, 0x02));
  });
  it('exports the same functions, and its threaded twin imports a shared memory', () => {
    // (binaryen reads it even where this engine could not compile it)
    const names = Array.from({ length: mod.getNumExports() }, (_, i) => binaryen.getExportInfo(mod.getExportByIndex(i)).name).sort();
    expect(names).toEqual([...KERNEL_FUNCTIONS, 'memory', '_initialize'].sort());
    const imports = binaryen.readBinary(readFileSync(DEFAULT_THREADED_RELAXED_WASM_URL));
    imports.setFeatures(binaryen.Features.All);
    expect(imports.emitText()).toMatch(/\(import "env" "memory" \(memory \S+ \d+ \d+ shared\)\)/);
  });
  it("'auto' picks it exactly where the engine validates relaxed SIMD; 'relaxed' elsewhere is a typed error", async () => {
    expect(resolveSimd('auto')).toBe(hasRelaxedSimd() ? 'relaxed' : 'baseline');
    expect(resolveSimd('baseline')).toBe('baseline');
    expect(() => resolveSimd('fast' as never)).toThrow(InputError);
    if (hasRelaxedSimd()) {
      expect(resolveSimd('relaxed')).toBe('relaxed');
      expect((await createHeap({ threads: 1 })).simd).toBe('relaxed');
    } else {
      expect(() => resolveSimd('relaxed')).toThrow(UnsupportedError);
      await expect(createHeap({ threads: 1, simd: 'relaxed' })).rejects.toThrow(/relaxed SIMD/);
      // your own kernels are used as given: nothing to check against the engine
      expect((await createHeap({ threads: 1, simd: 'relaxed', wasm: DEFAULT_WASM_URL })).simd).toBe('custom');
      await expect(loadKernels(DEFAULT_RELAXED_WASM_URL)).rejects.toThrow(WasmLoadError);
    }
    expect((await createHeap({ threads: 1, simd: 'baseline' })).simd).toBe('baseline');
    expect((await createHeap({ threads: 1, wasm: DEFAULT_WASM_URL })).simd).toBe('custom');
    await expect(createHeap({ threads: 1, simd: 'fast' as never, wasm: DEFAULT_WASM_URL })).rejects.toThrow(InputError);
    expect(defaultKernelsUrl('relaxed', true).href).toBe(DEFAULT_THREADED_RELAXED_WASM_URL.href);
  });
});

describe('loadKernels sources', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/kernels.wasm') { res.writeHead(200, { 'content-type': 'application/wasm' }); res.end(bytes); return; }
      if (req.url === '/octet.wasm') { res.writeHead(200, { 'content-type': 'application/octet-stream' }); res.end(bytes); return; }
      res.writeHead(404); res.end('no');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const works = async (src: Parameters<typeof loadKernels>[0]) => {
    const k = await loadKernels(src);
    // a real call through the instance: scale 2 elements
    const h = new Heap(k);
    const a = h.alloc(8);
    h.f32().set([1, 2], a >>> 2);
    k.scale_f32(a, 10, a, 2);
    expect(Array.from(h.f32().subarray(a >>> 2, (a >>> 2) + 2))).toEqual([10, 20]);
  };

  it('default (shipped file beside the module)', () => works(undefined));
  it('WebAssembly.Module (Cloudflare Workers)', () => works(new WebAssembly.Module(bytes)));
  it('Uint8Array and ArrayBuffer', async () => {
    await works(new Uint8Array(bytes));
    await works(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  });
  it('file path and file: URL', async () => {
    await works(wasmPath.pathname);
    await works(wasmPath);
    expect(DEFAULT_WASM_URL.href).toBe(wasmPath.href);
  });
  it('http URL (streaming compile) and a non-wasm content type (byte compile)', async () => {
    await works(`${base}/kernels.wasm`);
    await works(new URL(`${base}/octet.wasm`));
    await works(fetch(`${base}/kernels.wasm`));
  });
  it('clear typed errors', async () => {
    await expect(loadKernels(`${base}/missing.wasm`)).rejects.toThrow(/HTTP 404/);
    await expect(loadKernels(`${base}/missing.wasm`)).rejects.toBeInstanceOf(WasmLoadError);
    await expect(loadKernels(new Uint8Array([1, 2, 3]))).rejects.toThrow(WasmLoadError);
    // a valid module that is not ours
    await expect(loadKernels(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toThrow(/lacks exports .*linear_f32/);
    await expect(loadKernels('/nonexistent/kernels.wasm')).rejects.toThrow(WasmLoadError);
    // neither a Module, URL, path, bytes nor Response (JavaScript callers can pass anything)
    await expect(loadKernels(42 as never)).rejects.toThrow(/must be a WebAssembly.Module, URL, path, bytes or Response; got \[object Number\]/);
    await expect(loadKernels(Promise.resolve({}) as never)).rejects.toThrow(WasmLoadError);
  });
});

describe('cold start', () => {
  it('loading kernels, a model and its lexicon from files never reads the global Response (in Node that loads undici: ~50 ms)', async () => {
    const { execFileSync } = await import('node:child_process');
    const indexUrl = new URL('../dist/bindings/index.js', import.meta.url).href;
    // a fresh process: a getter on Response records whether anything read it
    const script = `let touched = false; const R = globalThis.Response;
      Object.defineProperty(globalThis, 'Response', { configurable: true, get() { touched = true; return R; } });
      const { Phonemizer } = await import(${JSON.stringify(indexUrl)});
      const p = await Phonemizer.load(undefined, { threads: 1 });
      const words = await p.phonemize('hello zorblax');
      console.log(JSON.stringify({ touched, sources: words.map((w) => w.source) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ touched: false, sources: ['lexicon', 'model'] });
  });
});

describe('Heap', () => {
  it('grows memory, re-takes views, aligns, and releases to a mark', async () => {
    const k = await loadKernels();
    const h = new Heap(k);
    const a = h.alloc(12);
    h.f32().set([1, 2, 3], a >>> 2);
    const before = k.memory.buffer.byteLength;
    const mark = h.mark();
    const big = h.alloc(8 * 2 ** 20); // forces growth: old views are detached
    expect(k.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(big % 64).toBe(0);
    expect(Array.from(h.f32().subarray(a >>> 2, (a >>> 2) + 3))).toEqual([1, 2, 3]); // a fresh view over the new buffer
    h.release(mark);
    expect(h.mark()).toBe(mark);
    expect(h.peak).toBeGreaterThanOrEqual(big + 8 * 2 ** 20);
    expect(h.alloc(16)).toBe(big); // memory reused after release
    expect(() => h.alloc(-1)).toThrow(MemoryError);
    expect(() => h.alloc(2 ** 33)).toThrow(MemoryError);
    expect(() => h.release(h.mark() + 64)).toThrow(MemoryError);
  });
});
