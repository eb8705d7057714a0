// Threads (a worker pool over one shared wasm memory) must not change results: every fixture, f32 and int8,
// gives bit-identical logits, encoder states and tokens on 1 and 2 threads, with every layer forced through
// the pool, split as finely as it can be.
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { guidedPanels, Linear, putFloats, setParallelTuning, splitRange } from '../../bindings/backends/wasm/linear.js';
import { encodeStep, MAX_CHUNKS } from '../../bindings/backends/wasm/threads/pool.js';
import { createRuntime } from '../../bindings/backends/wasm/runtime.js';
import { InputError, ThreadError } from '../../bindings/errors.js';
import { FIXTURES, fixtureDir, golden } from '../helpers/fixtures.js';

const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();
// every linear layer, attention, activation, int8 row quantisation and beam log-softmax through the pool, in the
// smallest chunks (one 8-column panel, one head, one row block)
beforeAll(() => setParallelTuning({ minMacs: 0, panelsPerChunk: 1 }));
afterAll(() => setParallelTuning());

describe('threads: identical results on 1 and 2 threads', () => {
  for (const name of names) {
    for (const quantize of ['none', 'int8'] as const) {
      it(`${name} ${quantize}`, async () => {
        const g = golden(name);
        const ids = g.inputs.input_ids, mask = g.inputs.attention_mask, dec = g.decoder_teacher_forced.decoder_input_ids;
        const [one, two] = await Promise.all([
          loadModel(fixtureDir(name), { threads: 1, quantize, tokenizer: false }),
          loadModel(fixtureDir(name), { threads: 2, quantize, tokenizer: false }),
        ]);
        try {
          expect(one.threads).toBe(1);
          expect(two.threads).toBe(2);
          expect(Array.from((await two.encode(ids, mask)).data)).toEqual(Array.from((await one.encode(ids, mask)).data));
          expect(Array.from((await two.decoderLogits(ids, dec, mask)).data)).toEqual(Array.from((await one.decoderLogits(ids, dec, mask)).data));
          for (const numBeams of [1, 4]) {
            const o = { attentionMask: mask, numBeams, maxNewTokens: 10, numReturnSequences: numBeams > 1 ? 2 : 1 };
            expect(await two.generate(ids, o)).toEqual(await one.generate(ids, o));
          }
        } finally {
          one.dispose();
          two.dispose();
        }
      });
    }
  }

  it('splitRange: contiguous aligned ranges covering [0, n), a multiple of the threads where there are enough', () => {
    for (const [n, threads, most, align] of [[1, 2, 4, 1], [3, 2, 4, 1], [13, 2, 4, 4], [32, 2, 4, 4], [8192, 3, 6, 4], [58101, 2, 4, 1], [5, 4, 8, 1]]) {
      const r = splitRange(n, threads, most, align);
      expect(r[0][0]).toBe(0);
      expect(r[r.length - 1][1]).toBe(n);
      for (let i = 0; i < r.length; i++) {
        expect(r[i][1]).toBeGreaterThan(r[i][0]);
        if (i > 0) expect(r[i][0]).toBe(r[i - 1][1]);
        expect(r[i][0] % align).toBe(0);
      }
      expect(r.length).toBeLessThanOrEqual(most);
      if (Math.ceil(n / align) >= threads && r.length > threads) expect(r.length % threads).toBe(0);
    }
  });

  it('guidedPanels: contiguous ranges over every panel, largest first, never more than the pool takes', () => {
    for (const [panels, threads, workPerPanel] of [[1, 2, 1e6], [2, 2, 10], [64, 2, 4096], [192, 2, 65536], [7263, 2, 4096], [7263, 8, 1], [7263, 64, 1]]) {
      const r = guidedPanels(panels, threads, workPerPanel);
      expect(r[0][0]).toBe(0);
      expect(r[r.length - 1][1]).toBe(panels);
      expect(r.length).toBeLessThanOrEqual(MAX_CHUNKS);
      for (let i = 1; i < r.length; i++) {
        expect(r[i][0]).toBe(r[i - 1][1]);
        expect(r[i][1] - r[i][0]).toBeLessThanOrEqual(r[i - 1][1] - r[i - 1][0]);
      }
    }
  });

  it('a layer reuses its step plan only for the same arguments (other inputs, outputs, rows or tuning: a new plan)', async () => {
    const [one, two] = await Promise.all([createRuntime({ threads: 1 }), createRuntime({ threads: 2 })]);
    try {
      const inF = 37, outF = 45;
      let seed = 7;
      const rnd = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
      const w = rnd(inF * outF), b = rnd(outF), xs = [rnd(5 * inF), rnd(5 * inF)];
      for (const format of ['f32', 'int8'] as const) {
        const run = ({ heap }: typeof one, layer: Linear, calls: [number, number, number][]) => {
          const x = xs.map((v) => putFloats(heap, v)), y = [heap.alloc(5 * outF * 4), heap.alloc(5 * outF * 4)];
          return calls.map(([xi, rows, yi]) => {
            layer.run(x[xi], rows, y[yi]);
            return Array.from(heap.f32().subarray(y[yi] >>> 2, (y[yi] >>> 2) + rows * outF));
          });
        };
        // the same call twice, then other inputs, outputs and row counts, then the first again
        const calls: [number, number, number][] = [[0, 5, 0], [0, 5, 0], [1, 5, 0], [1, 5, 1], [1, 2, 1], [0, 5, 0], [0, 4, 1]];
        const want = run(one, Linear.pack(one, inF, [{ w, b }], format), calls);
        const layer = Linear.pack(two, inF, [{ w, b }], format);
        expect(run(two, layer, calls)).toEqual(want);
        setParallelTuning({ minMacs: 0, panelsPerChunk: 2 });   // a new tuning: new chunks, same results
        expect(run(two, layer, calls)).toEqual(want);
        setParallelTuning({ minMacs: 0, panelsPerChunk: 1 });
      }
    } finally {
      two.pool?.terminate();
    }
  });

  it('encodeStep refuses unknown kernels, too many arguments or chunks', () => {
    expect(() => encodeStep([{ call: ['no_such_kernel' as never, 1] }])).toThrow(ThreadError);
    expect(() => encodeStep([{ call: ['scale_f32', ...new Array(17).fill(0)] as never }])).toThrow(/at most 16/);
    expect(() => encodeStep(new Array(MAX_CHUNKS + 1).fill({ call: ['scale_f32', 0, 0, 0, 0] }))).toThrow(/at most 64/);
    expect(encodeStep([{ call: ['scale_f32', 1, 2, 3, 4] }]).count).toBe(1);
  });

  it('rejects a bad threads option; a disposed model refuses to run', async () => {
    await expect(loadModel(fixtureDir('marian_tiny'), { threads: 0 })).rejects.toThrow(InputError);
    await expect(loadModel(fixtureDir('marian_tiny'), { threads: 2.5 as never })).rejects.toThrow(/threads must be/);
    const m = await loadModel(fixtureDir('marian_tiny'), { threads: 2, tokenizer: false });
    m.dispose();
    await expect(m.generate([[5, 6, 0]], { maxNewTokens: 3 })).rejects.toThrow(/disposed/);
  });

  it('thread timing (diagnostics) leaves results unchanged and counts the chunks; null on one thread', async () => {
    const [one, two] = await Promise.all([
      loadModel(fixtureDir('marian_tiny'), { threads: 1, tokenizer: false }),
      loadModel(fixtureDir('marian_tiny'), { threads: 2, tokenizer: false }),
    ]);
    try {
      const o = { maxNewTokens: 6, numBeams: 3 };
      two.timeThreads(true);
      expect(await two.generate([[5, 6, 7, 0]], o)).toEqual(await one.generate([[5, 6, 7, 0]], o));
      const st = two.takeThreadStats()!;
      expect(st.chunks).toHaveLength(2);
      expect(st.chunks[0] + st.chunks[1]).toBeGreaterThan(0);
      one.timeThreads(true);
      expect(one.takeThreadStats()).toBeNull();
    } finally {
      one.dispose();
      two.dispose();
    }
  });

  it('workers start under `node --input-type=module -e` too (they inherit the flag: their start code is an ES module)', async () => {
    const { execFileSync } = await import('node:child_process');
    const index = new URL('../../dist/bindings/index.js', import.meta.url).href;
    const dir = fixtureDir('marian_tiny');
    const script = `const { loadModel } = await import(${JSON.stringify(index)});
      const m = await loadModel(${JSON.stringify(dir)}, { threads: 2, tokenizer: false });
      const one = await loadModel(${JSON.stringify(dir)}, { threads: 1, tokenizer: false });
      const o = { maxNewTokens: 5, numBeams: 2 };
      const same = JSON.stringify(await m.generate([[5, 6, 0]], o)) === JSON.stringify(await one.generate([[5, 6, 0]], o));
      m.dispose(); one.dispose();
      console.log(JSON.stringify({ threads: m.threads, same }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({ threads: 2, same: true });
  });

  it("'auto': a pool for large models in Node, one thread for small ones (no worker started)", async () => {
    const big = await createRuntime({}, 100e6), small = await createRuntime({}, 1e6);
    expect(big.threads).toBe(Math.min(4, (await import('node:os')).availableParallelism()));
    expect(small.threads).toBe(1);
    expect(small.pool).toBeNull();
    big.pool?.terminate();
    const m = await loadModel(fixtureDir('marian_tiny'), { tokenizer: false });
    expect(m.threads).toBe(1);
  });
});
