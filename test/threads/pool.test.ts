// The pool's hand-off between steps, under stress: steps of very different chunk counts back to back, more threads
// than this machine may have cores (so workers lag behind). Each chunk adds 1 to its own cell: a chunk run twice
// shows as a wrong count, a lost one as a hang. It runs in a child process with a timeout because a hang would be
// a synchronous wait that no test timeout can interrupt. Before the fix in ThreadPool.post (the finished step is
// closed before the table changes) this failed on every run here: cells counted twice, or the process hung.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createRuntime, type WasmRuntime } from '../../bindings/backends/wasm/runtime.js';
import { ThreadError } from '../../bindings/errors.js';

const runtime = new URL('../../dist/bindings/backends/wasm/runtime.js', import.meta.url).href;

/** A 1×1 linear layer of weight 1, bias 0: linear_f32 with accumulate adds its input to its output, so a chunk
 *  `inc(cell)` adds 1 to that cell (exact in f32 up to 2^24). */
function incrementer(rt: WasmRuntime): { ones: number; inc: (cell: number) => ['linear_f32', ...number[]] } {
  const { heap, k } = rt, w = heap.alloc(8), packed = heap.alloc(k.packed_size_f32(1, 1) * 4), ones = heap.alloc(16);
  heap.f32().set([1, 0], w >>> 2);
  k.pack_f32_n8(w, w + 4, 1, 1, packed);
  heap.f32().fill(1, ones >>> 2, (ones >>> 2) + 4);
  return { ones, inc: (cell) => ['linear_f32', ones, 1, packed, cell, 1, 1, 1, 1, 1] };
}

describe('thread pool', () => {
  it('steps alternating 1-7 and 64 chunks: every chunk runs exactly once, no hang (3 threads)', () => {
    const script = `const { createRuntime } = await import(${JSON.stringify(runtime)});
      const rt = await createRuntime({ threads: 3 }), { heap, k } = rt;
      const incrementer = ${incrementer.toString()};
      const { inc } = incrementer(rt);
      const pool = rt.pool, cells = heap.alloc(64 * 16);
      const expected = new Array(64).fill(0);
      for (let s = 0; s < 300000; s++) {
        const n = s % 2 ? 64 : 1 + (s % 7), chunks = [];
        for (let i = 0; i < n; i++) { chunks.push({ call: inc(cells + i * 16) }); expected[i]++; }
        pool.run(chunks);
      }
      const f = heap.f32(), got = Array.from({ length: 64 }, (_, i) => f[(cells >>> 2) + i * 4]);
      pool.terminate();
      console.log(JSON.stringify({ threads: rt.threads, same: JSON.stringify(got) === JSON.stringify(expected) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 90_000 });
    expect(JSON.parse(out)).toEqual({ threads: 3, same: true });
  }, 100_000);

  it('a kernel that traps on any thread becomes a ThreadError with its message; the pool keeps working', async () => {
    const rt = await createRuntime({ threads: 2 }), { heap } = rt;
    try {
      const pool = rt.pool!, a = heap.alloc(64), b = heap.alloc(64), end = rt.k.memory.buffer.byteLength;
      heap.f32().fill(1, b >>> 2, (b >>> 2) + 16);
      for (let bad = 0; bad < 8; bad++) {   // the failing chunk at every position: run by this thread or the worker
        const chunks = Array.from({ length: 8 }, (_, i) => ({ call: ['copy_bytes', i === bad ? end - 8 : a, b, 64] as const }));
        expect(() => pool.run(chunks)).toThrow(ThreadError);
        expect(() => pool.run(chunks)).toThrow(/out of bounds/);
      }
      pool.run([{ call: ['scale_f32', b, 2, a, 8] }, { call: ['scale_f32', b + 32, 2, a + 32, 8] }]);
      expect(Array.from(heap.f32().subarray(a >>> 2, (a >>> 2) + 16))).toEqual(new Array(16).fill(2));
    } finally {
      rt.pool?.terminate();
    }
  });

  it('chunk timing: off by default; on, every chunk is counted once on the thread that ran it, with its time', async () => {
    const rt = await createRuntime({ threads: 2 }), { inc } = incrementer(rt);
    try {
      const pool = rt.pool!, cells = rt.heap.alloc(64 * 16);
      const step = Array.from({ length: 24 }, (_, i) => ({ call: inc(cells + i * 16) }));
      pool.run(step);
      expect(pool.takeStats()).toEqual({ busyMs: [0, 0], chunks: [0, 0] });
      pool.setTiming(true);
      for (let s = 0; s < 50; s++) pool.run(step);
      const st = pool.takeStats();
      expect(st.chunks.reduce((a, b) => a + b)).toBe(50 * 24);
      expect(st.busyMs.every((ms) => ms >= 0)).toBe(true);
      expect(st.busyMs[0] + st.busyMs[1]).toBeGreaterThan(0);
      expect(pool.takeStats()).toEqual({ busyMs: [0, 0], chunks: [0, 0] });   // taken: cleared
      pool.setTiming(false);
      pool.run(step);
      expect(pool.takeStats().chunks).toEqual([0, 0]);
    } finally {
      rt.pool?.terminate();
    }
  });
});
