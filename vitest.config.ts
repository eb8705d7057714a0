import { defineConfig } from 'vitest/config';

// Two projects over the same tests: 'baseline' runs everything on the SIMD128 kernels (what Safari, Firefox and
// Node 20 get); 'relaxed-simd' re-runs the kernel harness, the transformers fixtures and the loader tests on the
// relaxed-SIMD build (fused multiply-add), which Node 20 only has behind a V8 flag (Node 22+ has it by default).
const nodeMajor = Number(process.versions.node.split('.')[0]);
const relaxedFlag = nodeMajor < 22 ? ['--experimental-wasm-relaxed-simd'] : [];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    // Kernel and model tests are CPU-heavy; two cores only.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'baseline', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'relaxed-simd',
          include: ['test/kernels/**/*.test.ts', 'test/model/fixtures.test.ts', 'test/wasm.test.ts'],
          execArgv: relaxedFlag,
          env: { WASM_SEQ2SEQ_TEST_SIMD: 'relaxed' },
        },
      },
    ],
  },
});
