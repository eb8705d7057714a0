// `wasm-seq2seq convert --to f32|f16|int8 SRC_DIR OUT_DIR`: a model folder's weights rewritten as one
// model.safetensors (a pytorch_model.bin turned into safetensors, or a model shrunk for shipping: a Cloudflare
// Worker's script limit, a smaller download); every other file is copied unchanged.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, WeightsError } from '../errors.js';
import { convertTensors, CONVERT_TARGETS, pytorchTensors, readTensors, type ConvertTarget, type RawTensor } from '../weights/convert.js';
import { parsePytorchBin, type PytorchCheckpoint } from '../weights/pytorch.js';
import { mergePytorchShards, parseIndex, PYTORCH_INDEX, PYTORCH_WEIGHTS } from '../weights/pytorch_source.js';
import { SafeTensors } from '../weights/safetensors.js';

const USAGE = 'usage: wasm-seq2seq convert --to f32|f16|int8 SRC_DIR OUT_DIR';
export const CONVERT_HELP = `${USAGE}

Writes OUT_DIR/model.safetensors from SRC_DIR's weights, whichever it has (the loader's order: model.safetensors,
model.safetensors.index.json + shards, pytorch_model.bin, pytorch_model.bin.index.json + shards), and copies
SRC_DIR's other files unchanged.
  --to f32   every tensor as stored, F16/BF16 widened to F32: e.g. a pytorch_model.bin folder as safetensors
  --to f16   every F32 tensor as F16 (round to nearest even, as torch's .half()); the loader widens it back
  --to int8  every linear weight as I8 + a per-output-channel F32 scale; the loader runs int8 kernels on it
Names of a pytorch_model.bin that share one tensor (tied embeddings) are written once, under the first name.`;

const SAFE = 'model.safetensors', SAFE_INDEX = 'model.safetensors.index.json';

interface SourceWeights {
  from: string;
  /** The weight files read, not copied to OUT. */
  files: string[];
  tensors: RawTensor[];
  metadata: Record<string, string> | undefined;
  aliases: string[][];
}

function weightMapFiles(dir: string, index: string): Map<string, string> {
  try {
    return parseIndex(readFileSync(join(dir, index)));
  } catch (e) {
    if (e instanceof WeightsError) throw new WeightsError(e.message.replace(PYTORCH_INDEX, index));
    throw e;
  }
}

function readSafetensorsFile(dir: string, file: string) {
  const bytes = readFileSync(join(dir, file));
  SafeTensors.parse(bytes, file); // validates, so that readTensors below reads a well-formed file
  return readTensors(bytes);
}

/** SRC's weights, from the first of the four layouts it has. */
export function readSourceWeights(dir: string): SourceWeights {
  const has = (f: string) => existsSync(join(dir, f));
  if (has(SAFE)) {
    const { tensors, metadata } = readSafetensorsFile(dir, SAFE);
    return { from: SAFE, files: [SAFE], tensors, metadata, aliases: [] };
  }
  if (has(SAFE_INDEX)) {
    const shards = [...new Set(weightMapFiles(dir, SAFE_INDEX).values())];
    const tensors: RawTensor[] = [];
    let metadata: Record<string, string> | undefined;
    for (const shard of shards) {
      const st = readSafetensorsFile(dir, shard);
      metadata ??= st.metadata;
      tensors.push(...st.tensors);
    }
    const names = new Set(tensors.map((t) => t.name));
    if (names.size !== tensors.length) throw new WeightsError(`${SAFE_INDEX}: a tensor is stored in more than one shard`);
    return { from: `${SAFE_INDEX} (${shards.length} shards)`, files: [SAFE_INDEX, ...shards], tensors, metadata, aliases: [] };
  }
  let store, files: string[];
  if (has(PYTORCH_WEIGHTS)) {
    store = parsePytorchBin(readFileSync(join(dir, PYTORCH_WEIGHTS)), PYTORCH_WEIGHTS);
    files = [PYTORCH_WEIGHTS];
  } else if (has(PYTORCH_INDEX)) {
    const map = weightMapFiles(dir, PYTORCH_INDEX);
    const shards = new Map<string, PytorchCheckpoint>();
    for (const f of new Set(map.values())) {
      if (!has(f)) throw new InputError(`${dir}: ${PYTORCH_INDEX} names the shard ${f}, which is not in the folder`);
      shards.set(f, parsePytorchBin(readFileSync(join(dir, f)), f));
    }
    store = mergePytorchShards(map, shards);
    files = [PYTORCH_INDEX, ...shards.keys()];
  } else {
    throw new InputError(`${dir} has no weights: none of ${SAFE}, ${SAFE_INDEX}, ${PYTORCH_WEIGHTS}, ${PYTORCH_INDEX}`);
  }
  const { tensors, aliases } = pytorchTensors(store);
  return { from: files.length > 1 ? `${files[0]} (${files.length - 1} shards)` : files[0], files, tensors, metadata: { format: 'pt' }, aliases };
}

/** Writes OUT with SRC's weights converted into model.safetensors and its other files copied; returns OUT. */
export function convertModelDir(src: string, out: string, to: string): string {
  convertWithReport(src, out, to);
  return out;
}

function convertWithReport(src: string, out: string, to: string): SourceWeights {
  if (!(CONVERT_TARGETS as readonly string[]).includes(to)) throw new InputError(`--to must be f32, f16 or int8, got ${JSON.stringify(to)}`);
  if (!existsSync(src) || !statSync(src).isDirectory()) throw new InputError(`${src} is not a folder`);
  const weights = readSourceWeights(src);
  const bytes = convertTensors(weights.tensors, weights.metadata, to as ConvertTarget);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(src)) {
    if (!weights.files.includes(f) && f !== SAFE && statSync(join(src, f)).isFile()) copyFileSync(join(src, f), join(out, f));
  }
  writeFileSync(join(out, SAFE), bytes);
  return weights;
}

export async function convertCommand(argv: string[]): Promise<number> {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) { console.log(CONVERT_HELP); return 0; }
  const i = args.indexOf('--to');
  const to = i >= 0 ? args.splice(i, 2)[1] : undefined;
  if (!to || args.length !== 2) throw new InputError(`${USAGE} (--help explains the options)`);
  const [src, out] = args.map((a) => resolve(a));
  const w = convertWithReport(src, out, to);
  const inBytes = w.files.reduce((a, f) => a + statSync(join(src, f)).size, 0);
  console.log(`${join(out, SAFE)}: ${w.tensors.length} tensors from ${w.from}, ${inBytes} → ${statSync(join(out, SAFE)).size} bytes (${to})`);
  for (const g of w.aliases) console.log(`  tied, written once as ${g[0]}: ${g.slice(1).join(', ')}`);
  return 0;
}
