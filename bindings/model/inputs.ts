// What a model call is given, checked before anything runs: the input (text or token id rows), the attention mask,
// the options object, and whether the call fits the model — its position tables and the wasm memory left after
// the weights (docs/api.md §Limits). Every refusal is an InputError naming the argument, the value and the limit.
import type { GenerationDefaults } from '../config.js';
import { InputError } from '../errors.js';
import { resolveGenerateConfig } from '../generation/index.js';
import type { ResolvedGenerateConfig } from '../generation/types.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { checkText, denseArray, MAX_LIST_LENGTH, optionsObject, show, tokenIdRows } from '../validate.js';
import { workingFloats, type Batch } from './forward.js';
import type { ModelGenerateOptions } from './model.js';
import type { ModelWeights } from './weights.js';

/** wasm32 addresses 4 GiB: the weights and every call's working memory share it. */
export const WASM_MEMORY_BYTES = 2 ** 32;

/** A call's options, resolved against the model, and its input as a padded batch. */
export interface PreparedCall { batch: Batch; cfg: ResolvedGenerateConfig; text: boolean }

/**
 * generate() / stream(): text → ids with the tokenizer (language options → transformers' forced ids), options
 * resolved over the model's defaults, the batch checked and padded, and the call's working memory checked.
 */
export function prepareGenerate(input: unknown, options: ModelGenerateOptions | undefined, w: ModelWeights,
  tok: Tokenizer | null, defaults: GenerationDefaults, pad: number | undefined, eos: readonly number[], freeBytes: number): PreparedCall {
  const o = { ...optionsObject('generate options', options) };
  for (const k of ['srcLang', 'tgtLang'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new InputError(`${k} must be a language code string, got ${show(o[k])}`);
  }
  const text = isText(input);
  let ids: unknown = input;
  if (text) {
    if (!tok) throw new InputError('this model source has no tokenizer files (tokenizer.json, *.spm, spiece.model, ...): pass token ids');
    if (o.attentionMask !== undefined && o.attentionMask !== null) throw new InputError('attentionMask applies to token ids, not text');
    const texts = typeof input === 'string' ? [input] : (input as readonly string[]);
    denseArray('input texts', texts, MAX_LIST_LENGTH);
    ids = texts.map((t, i) => tok.encode(checkText(typeof input === 'string' ? 'input text' : `input text ${i}`, t),
      o.srcLang !== undefined ? { srcLang: o.srcLang } : undefined));
    if (o.tgtLang !== undefined) {
      const id = tok.langId(o.tgtLang);
      if (tok.family === 'mbart') o.decoderStartTokenId ??= id; // cc25: generation starts with the target code
      else o.forcedBosTokenId ??= id; // NLLB, M2M100, mBART-50
    }
  } else if (o.srcLang !== undefined || o.tgtLang !== undefined) {
    throw new InputError('srcLang / tgtLang apply to text input; with token ids set forcedBosTokenId / decoderStartTokenId yourself');
  } else if (!Array.isArray(input)) {
    throw new InputError(`input must be text (a string or an array of strings) or token id rows (an array of arrays of ` +
      `integers), got ${show(input)}`);
  }
  const cfg = resolveGenerateConfig(o, defaults, w.vocabOut);
  const batch = padBatch(w, ids, o.attentionMask ?? undefined, pad, eos, text);
  checkDecoderLength(w, cfg.maxLength);
  const topK = cfg.numBeams > 1 ? Math.max(2, 1 + cfg.eosTokenIds.length) * cfg.numBeams : 0;
  checkWorkingMemory(w, batch.B, batch.S, cfg.numBeams, cfg.maxLength, freeBytes, topK);
  return { batch, cfg, text };
}

function isText(input: unknown): boolean {
  return typeof input === 'string' || (Array.isArray(input) && input.length > 0 && typeof input[0] === 'string');
}

/** Validates ids (and a mask) and pads the rows into [B, S] with a key mask. */
export function padBatch(w: ModelWeights, inputIds: unknown, attentionMask: unknown, pad: number | undefined,
  eos: readonly number[], text = false): Batch {
  const V = w.vocabIn;
  const maxS = w.encPositions?.maxLength ?? MAX_LIST_LENGTH;
  let rows: number[][];
  try {
    rows = tokenIdRows('inputIds', inputIds, V, MAX_LIST_LENGTH, MAX_LIST_LENGTH);
  } catch (e) {
    if (text) throw new InputError(`the tokenizer gave ids the model cannot take (its vocabulary is smaller): ${(e as Error).message}`);
    throw e;
  }
  const B = rows.length;
  let S = 0;
  rows.forEach((row, b) => {
    if (row.length > maxS) {
      throw new InputError(`${text ? `input text ${b} is ${row.length} tokens long` : `inputIds[${b}] has ${row.length} ids`}; ` +
        `this model's encoder takes at most ${maxS} (its position table: max_position_embeddings)`);
    }
    S = Math.max(S, row.length);
  });
  let mask: readonly (readonly unknown[])[] | undefined;
  if (attentionMask !== undefined) {
    const m = denseArray('attentionMask', attentionMask, MAX_LIST_LENGTH);
    if (m.length !== B) throw new InputError(`attentionMask has ${m.length} rows for ${B} input rows`);
    mask = m.map((r, b) => {
      const row = denseArray(`attentionMask[${b}]`, r, MAX_LIST_LENGTH);
      if (row.length !== rows[b].length) throw new InputError(`attentionMask[${b}] has ${row.length} entries for ${rows[b].length} ids`);
      return row;
    });
  }
  const ids = new Int32Array(B * S).fill(pad ?? 0);
  const keyMask = new Uint8Array(B * S);
  // transformers infers the mask from pad ids when none is given (and pad is not also eos)
  const inferFromPad = mask === undefined && pad !== undefined && !eos.includes(pad);
  rows.forEach((row, b) => row.forEach((id, s) => {
    ids[b * S + s] = id;
    const m = mask ? mask[b][s] : inferFromPad && id === pad ? 0 : 1;
    if (m !== 0 && m !== 1) throw new InputError(`attentionMask[${b}][${s}] must be 0 or 1, got ${show(m)}`);
    keyMask[b * S + s] = m;
  }));
  return { ids, mask: keyMask, B, S };
}

/** Decoder inputs of decoderLogits(): B non-empty rows of one length T, ids of the output vocabulary. */
export function decoderRows(w: ModelWeights, v: unknown, B: number): number[][] {
  const rows = tokenIdRows('decoderInputIds', v, w.vocabOut, MAX_LIST_LENGTH, MAX_LIST_LENGTH);
  const T = rows[0].length;
  if (rows.length !== B || rows.some((r) => r.length !== T)) {
    throw new InputError(`decoderInputIds must be ${B} non-empty rows of equal length (one per input row), got ${rows.length} rows of lengths ${rows.map((r) => r.length).slice(0, 8).join(', ')}`);
  }
  checkDecoderLength(w, T);
  return rows;
}

/** The decoder's position table (where it has one) bounds its length. */
export function checkDecoderLength(w: ModelWeights, maxLength: number): void {
  const rows = w.decPositions?.maxLength;
  if (rows !== undefined && maxLength > rows) {
    throw new InputError(`max length ${maxLength} (decoder tokens incl. the start token) exceeds the model's ${rows} decoder positions (max_position_embeddings); lower maxLength / maxNewTokens`);
  }
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * A call's working memory (encoder for B × S tokens; with beams, a decoder session of B × beams rows up to maxLen
 * tokens: the KV caches, logits and scratch of forward.ts) must fit what wasm32 memory has left after the weights:
 * refused here, before anything is allocated, rather than failing (or thrashing) halfway.
 */
export function checkWorkingMemory(w: ModelWeights, B: number, S: number, beams: number, maxLen: number, freeBytes: number,
  topK = 0, resultBytes = 0): void {
  // a result made in JS (encode's states, decoderLogits' [B, T, V]) is counted too: it is as large as it says
  const need = workingFloats(w, B, S, beams, maxLen, topK) * 4 + resultBytes;
  if (need <= freeBytes) return;
  const shape = beams > 0
    ? `${B} input row${B === 1 ? '' : 's'} × ${beams} beam${beams === 1 ? '' : 's'}, ${S} source tokens, up to ${maxLen} decoder tokens`
    : `${B} input row${B === 1 ? '' : 's'} of ${S} tokens`;
  throw new InputError(`this call needs ${MiB(need)} of working memory (${shape}${resultBytes ? `, a ${MiB(resultBytes)} result` : ''}), more than the ${MiB(freeBytes)} ` +
    `wasm32's 4 GiB has left after the model's weights: lower ${beams > 1 ? 'numBeams, ' : ''}${beams > 0 ? 'maxLength / maxNewTokens, ' : ''}` +
    'the batch size or the input length');
}
