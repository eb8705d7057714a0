// The multiply-add probe (assembly/probe.ts) as the benchmarks run and count it: 12 chains × (multiply + add)
// × 4 lanes per iteration, in GFLOP/s. Printed beside GEMM rates as a yardstick; not a ceiling (see probe.ts).
import type { TestKernels } from '../tools/test_kernels.js';
import { timeIt } from './stats.js';

const PROBE_ITERS = 2_000_000;

export function probeGflops(k: TestKernels, samples: number): number {
  const t = timeIt(() => { k.simd_peak_probe(PROBE_ITERS); }, { samples, minMs: 20 });
  return (PROBE_ITERS * 12 * 2 * 4) / (t.median * 1e6);
}
