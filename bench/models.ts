// Where the comparison benchmark's generated models live, and how they are made when missing.
// The files (~0.8 GB) come from tools/bench/make_marian.py (Debian's python3-torch/python3-onnx) and go in the
// git-ignored bench/.models/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file runs as dist/bench/models.js). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MODELS = join(ROOT, 'bench', '.models');
export const GENERATOR = join(ROOT, 'tools', 'bench', 'make_marian.py');
export const QUANTIZER = join(ROOT, 'tools', 'bench', 'quantize_onnx.py');
/** Must equal GENERATOR_VERSION in make_marian.py; older sets are regenerated. */
export const GENERATOR_VERSION = 2;

export interface Meta {
  version: number;
  seed: number;
  opset: number;
  torch: string;
  input_ids: number[];
  d_model: number;
  heads: number;
  head_dim: number;
  layers: number;
  vocab: number;
  decoder_start_token_id: number;
  reference: { greedy_tokens_64: number[]; logits_first3_file: string };
  gemm_shapes: [number, number, number][];
  onnx: { encoder: string; cross_kv: string; decoder_step: string };
}

export const paths = {
  hf: join(MODELS, 'hf'),
  meta: join(MODELS, 'meta.json'),
  onnx: (name: string) => join(MODELS, 'onnx', name),
  /** onnxruntime-web's own int8 (dynamic quantization of the graphs above; tools/bench/quantize_onnx.py) */
  onnxInt8: (name: string) => join(MODELS, 'onnx-int8', name),
  gemm: (m: number, k: number, n: number) => join(MODELS, 'gemm', `matmul_${m}_${k}_${n}.onnx`),
  overhead: join(MODELS, 'gemm', 'overhead.onnx'),
  refLogits: join(MODELS, 'ref_logits3.f32'),
};

export function readMeta(): Meta {
  return JSON.parse(readFileSync(paths.meta, 'utf8')) as Meta;
}

/** Reference logits of the first 3 greedy steps from the torch model that made the files: [3, V]. */
export function readRefLogits(): Float32Array {
  const b = readFileSync(paths.refLogits);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function complete(): boolean {
  if (!existsSync(paths.meta)) return false;
  try {
    const m = readMeta();
    return m.version === GENERATOR_VERSION && existsSync(join(paths.hf, 'model.safetensors')) &&
      Object.values(m.onnx).every((p) => existsSync(join(MODELS, p))) &&
      m.gemm_shapes.every(([a, b, c]) => existsSync(paths.gemm(a, b, c))) && existsSync(paths.refLogits);
  } catch {
    return false;
  }
}

const python = () => (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/** `compare.js --ort-int8`: onnxruntime-web loads the dynamically quantised graphs (made from the f32 ones when missing or older). */
export const ortInt8 = () => process.env.WASM_SEQ2SEQ_BENCH_ORT_INT8 === '1';
export const ortGraph = (name: string) => (ortInt8() ? paths.onnxInt8(name) : paths.onnx(name));

export function ensureOrtInt8(log: (s: string) => void): void {
  const names = ['encoder.onnx', 'cross_kv.onnx', 'decoder_step.onnx'];
  const fresh = names.every((n) => existsSync(paths.onnxInt8(n)) && statSync(paths.onnxInt8(n)).mtimeMs >= statSync(paths.onnx(n)).mtimeMs);
  if (fresh) return;
  log(`models: quantising the ONNX graphs for onnxruntime-web's int8 (${python()} ${QUANTIZER})`);
  const r = spawnSync(python(), [QUANTIZER, join(MODELS, 'onnx'), join(MODELS, 'onnx-int8')], { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT });
  if (r.status !== 0) throw new Error(`ONNX quantiser failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
}

/** Makes the model files if they are missing or stale, saying what it does; throws if it cannot. */
export function ensureModels(log: (s: string) => void): void {
  if (complete()) {
    log(`models: ${MODELS} (present, generator v${GENERATOR_VERSION})`);
    return;
  }
  // Debian's torch lives in the system python, not in a pyenv/venv python that may come first on PATH.
  const py = python();
  log(`models: ${MODELS} missing or stale; generating them (~1 min, ~0.8 GB):`);
  log(`  ${py} ${GENERATOR} --out ${MODELS}`);
  log('  (needs: apt-get install -y python3-torch python3-onnx python3-numpy)');
  const r = spawnSync(py, [GENERATOR, '--out', MODELS], { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT });
  if (r.status !== 0 || !complete()) {
    throw new Error(`model generator failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}); run it by hand to see why`);
  }
}
