// The pool's hand-off between steps, under stress: steps of very different chunk counts back to back, more threads
// than this machine may have cores (so workers lag behind). Each chunk adds 1 to its own cell: a chunk run twice
// shows as a wrong count, a lost one as a hang. It runs in a child process with a timeout because a hang would be
// a synchronous wait that no test timeout can interrupt. Before the fix in ThreadPool.post (the finished step is
// closed before the table changes) this failed on every run here: cells counted twice, or the process hung.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createHeap } from '../../bindings/threads/setup.js';
import { ThreadError } from '../../bindings/errors.js';

const setup = new URL('../../dist/bindings/threads/setup.js', import.meta.url).href;

describe('thread pool', () => {
  it('steps alternating 1-7 and 64 chunks: every chunk runs exactly once, no hang (3 threads)', () => {
    const script = `const { createHeap } = await import(${JSON.stringify(setup)});
      const heap = await createHeap({ threads: 3 });
      const pool = heap.pool, cells = heap.alloc(64 * 16), ones = heap.alloc(16);
      heap.f32().fill(1, ones >>> 2, (ones >>> 2) + 4);
      const expected = new Array(64).fill(0);
      for (let s = 0; s < 300000; s++) {
        const n = s % 2 ? 64 : 1 + (s % 7), chunks = [];
        for (let i = 0; i < n; i++) { chunks.push({ call: ['add_f32', cells + i * 16, ones, cells + i * 16, 4] }); expected[i]++; }
        pool.run(chunks);
      }
      const f = heap.f32(), got = Array.from({ length: 64 }, (_, i) => f[(cells >>> 2) + i * 4]);
      pool.terminate();
      console.log(JSON.stringify({ threads: heap.threads, same: JSON.stringify(got) === JSON.stringify(expected) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 90_000 });
    expect(JSON.parse(out)).toEqual({ threads: 3, same: true });
  }, 100_000);

  it('a kernel that traps on any thread becomes a ThreadError with its message; the pool keeps working', async () => {
    const heap = await createHeap({ threads: 2 });
    try {
      const pool = heap.pool!, a = heap.alloc(64), b = heap.alloc(64), end = heap.k.memory.buffer.byteLength;
      heap.f32().fill(1, b >>> 2, (b >>> 2) + 16);
      for (let bad = 0; bad < 8; bad++) {   // the failing chunk at every position: run by this thread or the worker
        const chunks = Array.from({ length: 8 }, (_, i) => ({ call: ['copy_bytes', i === bad ? end - 8 : a, b, 64] as const }));
        expect(() => pool.run(chunks)).toThrow(ThreadError);
        expect(() => pool.run(chunks)).toThrow(/out of bounds/);
      }
      pool.run([{ call: ['add_f32', b, b, a, 8] }, { call: ['add_f32', b + 32, b + 32, a + 32, 8] }]);
      expect(Array.from(heap.f32().subarray(a >>> 2, (a >>> 2) + 16))).toEqual(new Array(16).fill(2));
    } finally {
      heap.pool?.terminate();
    }
  });

  it('chunk timing: off by default; on, every chunk is counted once on the thread that ran it, with its time', async () => {
    const heap = await createHeap({ threads: 2 });
    try {
      const pool = heap.pool!, cells = heap.alloc(64 * 16), ones = heap.alloc(16);
      heap.f32().fill(1, ones >>> 2, (ones >>> 2) + 4);
      const step = Array.from({ length: 24 }, (_, i) => ({ call: ['add_f32', cells + i * 16, ones, cells + i * 16, 4] as const }));
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
      heap.pool?.terminate();
    }
  });
});
