// The WebGPU backend in Deno 2.9.5 (npm `deno`, pinned): a second WebGPU implementation (wgpu + naga instead of
// Dawn + Tint), which reads WGSL more strictly in places. Runs the built Deno bundle (dist/deno, made by
// `npm run build`, which `npm test` runs first) on every fixture on SwiftShader: tokens equal to the wasm path's,
// logits and beam scores within 1e-3; and the f16 weight path on lavapipe, which has shader-f16. Skipped (with the
// reason) outside CI when Deno, the bundle or an adapter is missing; in CI (CI=true) that is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUNDLE = `${ROOT}dist/deno/wasm-seq2seq.js`;
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const missing = !existsSync(DENO) ? 'node_modules/.bin/deno (npm deno)' : !existsSync(BUNDLE) ? 'dist/deno (npm run build)' : !existsSync(SWIFTSHADER) && !process.env.VK_ICD_FILENAMES ? `a Vulkan ICD (${SWIFTSHADER} from Debian's chromium)` : '';
const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json';

function runDeno(icd: string, gpuWeights: 'f32' | 'f16') {
  const r = spawnSync(DENO, ['run', '--allow-read', '--allow-env', 'test/backends/deno_webgpu_check.mjs', ...names], {
    cwd: ROOT, encoding: 'utf8', timeout: 240_000,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', VK_ICD_FILENAMES: icd, GPU_WEIGHTS: gpuWeights, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const results = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  expect(results.map((x) => x.name)).toEqual(names);
  return results;
}

describe('WebGPU in Deno', () => {
  it.skipIf(!missing || inCI)(`skipped: missing ${missing}`, () => {});
  it.skipIf(!!missing && !inCI)('every fixture on SwiftShader: same tokens as wasm, logits within 1e-3', () => {
    expect(missing).toBe('');
    const results = runDeno(process.env.VK_ICD_FILENAMES ?? SWIFTSHADER, 'f32');
    for (const x of results) {
      expect(x.backend, `${x.name}: ${x.note}`).toBe('webgpu');
      expect(x.logitsDiff, x.name).toBeLessThan(1e-3);
      expect([x.tokens1, x.tokens4], x.name).toEqual(['equal', 'equal']);
      if (x.scoresDiff4 !== undefined) expect(x.scoresDiff4, x.name).toBeLessThan(1e-3);
    }
    console.log('deno webgpu vs wasm:', results.map(({ note, ...x }) => JSON.stringify(x)).join('\n'));
  }, 300_000);

  // shader-f16: Debian's lavapipe (mesa-vulkan-drivers) has it, SwiftShader does not. f16 weights are not the f32
  // model, so the bar is the one int8 weights meet: logits within 1e-2 (measured up to 5e-3), same tokens here.
  const noLavapipe = !existsSync(LAVAPIPE) ? `${LAVAPIPE} (apt mesa-vulkan-drivers)` : '';
  it.skipIf(!noLavapipe || inCI)(`f16 weights skipped: missing ${noLavapipe}`, () => {});
  it.skipIf((!!missing || !!noLavapipe) && !inCI)('f16 weights on lavapipe (shader-f16): same tokens, logits within 1e-2', () => {
    expect(missing + noLavapipe).toBe('');
    const results = runDeno(LAVAPIPE, 'f16');
    for (const x of results) {
      expect(x.backend, `${x.name}: ${x.note}`).toBe('webgpu');
      expect(x.note, x.name).toMatch(/linear layers as f16/);
      expect(x.logitsDiff, x.name).toBeLessThan(1e-2);
      expect([x.tokens1, x.tokens4], x.name).toEqual(['equal', 'equal']);
      if (x.scoresDiff4 !== undefined) expect(x.scoresDiff4, x.name).toBeLessThan(2e-3);
    }
    console.log('deno webgpu f16 vs wasm f32:', results.map(({ note, ...x }) => JSON.stringify(x)).join('\n'));
  }, 300_000);
});
