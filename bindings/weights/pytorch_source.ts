// Reading pytorch_model.bin weights from a model source: the single file, or the shards listed by
// pytorch_model.bin.index.json (`{"weight_map": {tensor name: shard file}}`, as save_pretrained writes it).
// readWeights (source.ts) comes here only when the folder has no safetensors weights, the order
// from_pretrained uses: model.safetensors, its index, pytorch_model.bin, its index.

import { AbortedError, WeightsError } from '../errors.js';
import { parsePytorchBin, type PytorchCheckpoint, type PytorchStore } from './pytorch.js';
import type { ModelSource, ReadOptions } from './source.js';

export const PYTORCH_WEIGHTS = 'pytorch_model.bin';
export const PYTORCH_INDEX = 'pytorch_model.bin.index.json';

type Options = Omit<ReadOptions, 'optional'>;

const checkAbort = (signal: AbortSignal | undefined) => {
  if (signal?.aborted) throw new AbortedError('loading the model was aborted', { cause: signal.reason });
};

/** The source's pytorch_model.bin weights, or undefined when it has neither the file nor its index. */
export async function readPytorchWeights(source: ModelSource, opts: Options = {}): Promise<PytorchStore | undefined> {
  checkAbort(opts.signal);
  const single = await source.read(PYTORCH_WEIGHTS, { ...opts, optional: true });
  if (single) return parsePytorchBin(single, PYTORCH_WEIGHTS);
  const indexBytes = await source.read(PYTORCH_INDEX, { ...opts, optional: true });
  if (!indexBytes) return undefined;
  const weightMap = parseIndex(indexBytes);
  const shards = new Map<string, PytorchCheckpoint>();
  for (const file of new Set(weightMap.values())) {
    checkAbort(opts.signal);
    shards.set(file, parsePytorchBin((await source.read(file, opts))!, file));
  }
  return mergePytorchShards(weightMap, shards);
}

/** The index's weight_map, checked: tensor names to plain shard file names. */
export function parseIndex(bytes: Uint8Array): Map<string, string> {
  const fail = (msg: string): never => { throw new WeightsError(`${PYTORCH_INDEX}: ${msg}`); };
  let index: unknown;
  try {
    index = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail('"weight_map" must be an object of tensor name → shard file');
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || !/^[^/\\]+$/.test(file) || file === '.' || file === '..') {
      fail(`weight_map["${name}"] is ${JSON.stringify(file)}, not a plain file name in the model folder`);
    }
    out.set(name, file as string);
  }
  return out;
}

/** One store over the shards; each tensor must be in the shard the index names, and in no other. */
export function mergePytorchShards(weightMap: ReadonlyMap<string, string>, shards: ReadonlyMap<string, PytorchCheckpoint>): PytorchStore {
  const owner = new Map<string, PytorchCheckpoint>();
  const problems: string[] = [];
  for (const [file, shard] of shards) {
    for (const name of shard.names) {
      const mapped = weightMap.get(name);
      if (owner.has(name)) problems.push(`"${name}" is stored in more than one shard (again in ${file})`);
      else if (mapped !== file) problems.push(`"${name}" is in ${file} but the index ${mapped ? `maps it to ${mapped}` : 'does not list it'}`);
      else owner.set(name, shard);
    }
  }
  for (const [name, file] of weightMap) if (!shards.get(file)?.has(name)) problems.push(`"${name}" is missing from ${file}`);
  if (problems.length) {
    throw new WeightsError(`sharded pytorch_model.bin weights are inconsistent:\n  ${problems.slice(0, 20).join('\n  ')}` +
      (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''));
  }
  const get = (name: string) => {
    const s = owner.get(name);
    if (!s) throw new WeightsError(`no tensor named "${name}" in the weights`);
    return s;
  };
  return {
    names: [...owner.keys()],
    has: (name) => owner.has(name),
    info: (name) => get(name).info(name),
    f32: (name) => get(name).f32(name),
    f32Into: (name, dst) => get(name).f32Into(name, dst),
    raw: (name) => get(name).raw(name),
    // storage keys are per file ("0", "1", ...): qualified by the shard so that views of one storage stay apart
    layout: (name) => {
      const l = get(name).layout(name);
      return { ...l, storage: `${weightMap.get(name)}/${l.storage}` };
    },
    close: () => { for (const s of shards.values()) s.close(); },
  };
}
