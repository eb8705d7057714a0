// Checks a weight file against what a model family needs, all at once, before any tensor is converted or
// copied into wasm memory: a bad or mismatched file must fail with one complete report (every missing tensor,
// every wrong shape, every unexpected extra) rather than with the first problem after half a model is built.
//
// Tied weights: transformers' safetensors save keeps one name of each tied group (model.shared.weight), older
// conversions keep all copies or a different one (docs/model-spec.md §Weights). A spec therefore lists alternative
// names; the first present is used, other present alternatives must have the same shape and count as used.

import { WeightsError } from '../errors.js';
import { FLOAT_DTYPES, isFloatDtype, readF32Into, type FloatReader, type TensorStore } from './safetensors.js';

export interface TensorSpec {
  /** Stored names this tensor may have, in order of preference (e.g. the tied shared-embedding aliases). */
  readonly names: string | readonly string[];
  /** Expected shape, PyTorch layout (Linear weights are [out, in]). */
  readonly shape: readonly number[];
  /**
   * Absent is allowed: `'zeros'` makes `f32()` return zeros of `shape` (e.g. `final_logits_bias`, which
   * transformers also zero-fills), `true` makes `f32()` throw and `has()` answer false.
   */
  readonly optional?: boolean | 'zeros';
}

/** Keys are the model code's own names for its tensors; a plain shape means "stored under the key itself". */
export type WeightSpec<K extends string = string> = Readonly<Record<K, TensorSpec | readonly number[]>>;

export interface ExpectOptions {
  /** Extra stored tensors to accept silently (exact names or patterns), e.g. Marian's embed_positions. */
  readonly ignore?: readonly (string | RegExp)[];
  /** Accept any unexpected extra tensor (default false: extras usually mean the wrong model or config). */
  readonly allowExtra?: boolean;
  /** Names the weights in messages (default "weights"). */
  readonly label?: string;
}

export interface WrongShape {
  readonly name: string;
  readonly shape: readonly number[];
  readonly expected: readonly number[];
}

/** One report of everything that is wrong; the arrays are complete even when the message is abbreviated. */
export class WeightsMismatchError extends WeightsError {
  constructor(
    message: string,
    readonly missing: readonly string[],
    readonly wrongShape: readonly WrongShape[],
    readonly unexpected: readonly string[],
    readonly badDtype: readonly string[],
  ) {
    super(message);
  }
}

const MAX_LISTED = 25;

/** Validated access to the tensors of one model; built only when the whole spec matched. */
export class CheckedWeights<K extends string> {
  constructor(
    private readonly store: TensorStore,
    private readonly resolved: ReadonlyMap<K, string | undefined>,
    private readonly spec: ReadonlyMap<K, Required<Omit<TensorSpec, 'names'>> & { names: readonly string[] }>,
  ) {}

  /** True when the tensor is stored (false only for an absent optional one). */
  has(key: K): boolean {
    return this.resolved.get(key) !== undefined;
  }

  /** The stored name used for `key`, or undefined for an absent optional tensor. */
  storedName(key: K): string | undefined {
    return this.resolved.get(key);
  }

  shape(key: K): readonly number[] {
    return this.specOf(key).shape;
  }

  /** The tensor as float32; zeros for an absent `optional: 'zeros'` tensor. */
  f32(key: K): Float32Array {
    const s = this.specOf(key);
    const name = this.resolved.get(key);
    if (name !== undefined) return this.store.f32(name);
    if (s.optional === 'zeros') return new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    throw new WeightsError(`optional tensor "${s.names[0]}" is not in the weights; check has() first`);
  }

  /** The tensor's floats to be read later, straight into a destination (e.g. wasm memory): no array of its own. */
  reader(key: K): FloatReader {
    const s = this.specOf(key);
    const name = this.resolved.get(key);
    const length = s.shape.reduce((a, b) => a * b, 1);
    if (name !== undefined) return { length, into: (dst) => readF32Into(this.store, name, dst) };
    if (s.optional === 'zeros') return { length, into: (dst) => dst.fill(0) };
    throw new WeightsError(`optional tensor "${s.names[0]}" is not in the weights; check has() first`);
  }

  private specOf(key: K) {
    const s = this.spec.get(key);
    if (!s) throw new WeightsError(`"${key}" is not part of this weight spec`);
    return s;
  }
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function expectTensors<K extends string>(
  store: TensorStore,
  spec: WeightSpec<K>,
  options: ExpectOptions = {},
): CheckedWeights<K> {
  const missing: string[] = [];
  const missingLines: string[] = [];
  const wrongShape: WrongShape[] = [];
  const badDtype: string[] = [];
  const used = new Set<string>();
  const resolved = new Map<K, string | undefined>();
  const normalized = new Map<K, Required<Omit<TensorSpec, 'names'>> & { names: readonly string[] }>();

  for (const key of Object.keys(spec) as K[]) {
    const entry = spec[key];
    const s = isShape(entry)
      ? { names: [key as string], shape: entry, optional: false as const }
      : { names: typeof entry.names === 'string' ? [entry.names] : entry.names, shape: entry.shape, optional: entry.optional ?? false };
    normalized.set(key, s);
    const present = s.names.filter((n) => store.has(n));
    resolved.set(key, present[0]);
    if (present.length === 0) {
      if (s.optional) continue;
      missing.push(s.names[0]);
      missingLines.push(`missing: ${s.names[0]} ${fmt(s.shape)}` +
        (s.names.length > 1 ? ` (or any of ${s.names.slice(1).join(', ')})` : ''));
      continue;
    }
    for (const name of present) {
      used.add(name);
      const info = store.info(name);
      if (!sameShape(info.shape, s.shape)) wrongShape.push({ name, shape: info.shape, expected: s.shape });
      if (!isFloatDtype(info.dtype)) badDtype.push(`${name} is ${info.dtype}`);
    }
  }

  const ignored = (name: string) =>
    options.ignore?.some((p) => (typeof p === 'string' ? p === name : p.test(name))) ?? false;
  const unexpected = options.allowExtra ? [] : store.names.filter((n) => !used.has(n) && !ignored(n));

  const lines = [
    ...missingLines,
    ...wrongShape.map((w) => `wrong shape: ${w.name} is ${fmt(w.shape)}, expected ${fmt(w.expected)}`),
    ...badDtype.map((d) => `unreadable dtype: ${d} (readable: ${FLOAT_DTYPES.join(', ')})`),
    ...unexpected.map((n) => `unexpected: ${n} ${fmt(store.info(n).shape)}`),
  ];
  if (lines.length > 0) {
    const counts = [
      missing.length && `${missing.length} missing`,
      wrongShape.length && `${wrongShape.length} wrong shape`,
      badDtype.length && `${badDtype.length} unreadable dtype`,
      unexpected.length && `${unexpected.length} unexpected`,
    ].filter(Boolean).join(', ');
    const shown = lines.slice(0, MAX_LISTED).join('\n  ');
    const more = lines.length > MAX_LISTED ? `\n  ... and ${lines.length - MAX_LISTED} more` : '';
    throw new WeightsMismatchError(
      `${options.label ?? 'weights'} do not match the model config (${counts}):\n  ${shown}${more}`,
      missing, wrongShape, unexpected, badDtype,
    );
  }
  return new CheckedWeights(store, resolved, normalized);
}

/** Layers `prefix`.0, .1, ... present in the store (the highest index + 1), for comparing with a config's count. */
export function storedLayers(store: TensorStore, prefix: string): number {
  let n = 0;
  for (const name of store.names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(name.slice(prefix.length));
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

/** A config's layer count must not exceed the layers the weights hold: refused before a spec of that many layers is
 *  built (a count of 1e8 must not run out of memory listing tensor names). Fewer is left to expectTensors, which
 *  reports the extra layers as unexpected tensors. */
export function checkLayerCount(store: TensorStore, prefix: string, field: string, count: number, label: string): void {
  const held = storedLayers(store, prefix);
  if (count <= held) return;
  throw new WeightsError(`${label} do not match the model config: config.json "${field}" is ${count}, but the weights hold ` +
    `${held} such layer${held === 1 ? '' : 's'} (${held ? `${prefix}0 … ${prefix}${held - 1}` : `no ${prefix}N tensors`})`);
}

function isShape(x: TensorSpec | readonly number[]): x is readonly number[] {
  return Array.isArray(x);
}
