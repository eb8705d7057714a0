// The public API's arguments as a fuzz kind: generate / stream / encode / decoderLogits on tiny models, the
// tokenizer, the Phonemizer and loadModel's options, called with hostile values (wrong types, NaN and fractional
// ids, strings for numbers, sparse and huge arrays, cyclic and prototype-keyed objects, aborted signals), also
// concurrently, after dispose(), and with streams read once and dropped.
import { readFileSync } from 'node:fs';
import { Phonemizer } from '../../bindings/g2p/phonemizer.js';
import { loadModel } from '../../bindings/model/load.js';
import type { Seq2SeqModel } from '../../bindings/model/model.js';
import { loadTokenizer } from '../../bindings/tokenizers/index.js';
import type { Tokenizer } from '../../bindings/tokenizers/types.js';
import type { FileKind } from './kinds.js';
import { hostileText, type Rng } from './mutate.js';

const ROOT = new URL('../../../', import.meta.url);
const files = (dir: string) => Object.fromEntries(['config.json', 'generation_config.json', 'model.safetensors']
  .map((f) => [f, new Uint8Array(readFileSync(new URL(`${dir}/${f}`, ROOT)))]));

interface Subjects { marian: Seq2SeqModel; t5: Seq2SeqModel; g2p: Phonemizer; tok: Tokenizer; marianFiles: Record<string, Uint8Array> }
let subjects: Promise<Subjects> | null = null;
function load(): Promise<Subjects> {
  return (subjects ??= (async () => {
    const marianFiles = files('test/fixtures/marian_tiny');
    return {
      marianFiles,
      marian: await loadModel(marianFiles, { tokenizer: false, threads: 1 }),
      t5: await loadModel(files('test/fixtures/t5_v1_1_tiny'), { tokenizer: false, threads: 1 }),
      g2p: await Phonemizer.load(new URL('weights/g2p-en/', ROOT).pathname, { threads: 1, cacheSize: 256 }),
      tok: (await loadTokenizer(new URL('test/fixtures/tokenizers/opus-mt-en-mg/', ROOT).pathname))!,
    };
  })());
}

/** Anything a careless or hostile caller might pass where a value is expected. */
function junk(r: Rng): unknown {
  switch (r.int(16)) {
    case 0: return undefined;
    case 1: return null;
    case 2: return r.pick([NaN, Infinity, -Infinity, -0, 1.5, -1, 2 ** 31, 2 ** 53, 1e308, 5e-324]);
    case 3: return r.pick(['', '5', 'abc', '__proto__', '\ud800']);
    case 4: return r.pick([true, false]);
    case 5: return BigInt(r.int(100));
    case 6: return Symbol('x');
    case 7: return () => 1;
    case 8: { const o: Record<string, unknown> = { a: 1 }; o.self = o; return o; }
    case 9: return JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"x": 1}}}');
    case 10: { const a: unknown[] = [1, 2]; a[r.pick([5, 1000])] = 3; return a; } // sparse
    case 11: return new Int32Array([1, 2, 3]);
    case 12: return AbortSignal.abort();
    case 13: return Array(r.pick([0, 1, 1000])).fill(r.int(5));
    default: return r.int(12);
  }
}

/** Token id rows: mostly usable, often subtly wrong. */
function rows(r: Rng, vocab: number): unknown {
  if (r.chance(0.15)) return junk(r);
  const B = r.pick([1, 1, 2, 3, 8]);
  return Array.from({ length: B }, () => {
    if (r.chance(0.05)) return junk(r);
    const n = r.chance(0.05) ? r.pick([0, 70, 200, 5000]) : 1 + r.int(12);
    return Array.from({ length: n }, () => (r.chance(0.03) ? junk(r) : r.int(r.chance(0.02) ? vocab * 2 : vocab)));
  });
}

const OPTION_KEYS = ['maxLength', 'maxNewTokens', 'minLength', 'minNewTokens', 'numBeams', 'numReturnSequences', 'lengthPenalty',
  'earlyStopping', 'repetitionPenalty', 'noRepeatNgramSize', 'badWordsIds', 'forcedBosTokenId', 'forcedEosTokenId', 'eosTokenId',
  'padTokenId', 'decoderStartTokenId', 'signal', 'attentionMask', 'srcLang', 'tgtLang', 'bogus'];

/** generate() options: a few keys, values mostly plausible small numbers. */
function options(r: Rng, vocab: number): unknown {
  if (r.chance(0.05)) return junk(r);
  const o: Record<string, unknown> = {};
  for (let i = 0, n = r.int(4); i < n; i++) {
    const k = r.pick(OPTION_KEYS);
    o[k] = r.chance(0.5) ? r.int(8) : k === 'badWordsIds' || k === 'attentionMask' ? rows(r, vocab) : k === 'earlyStopping' ? r.pick([true, false, 'never', 'x']) : junk(r);
  }
  if (o.maxNewTokens === undefined && o.maxLength === undefined) o.maxNewTokens = 1 + r.int(6);
  return o;
}

async function oneCall(s: Subjects, r: Rng): Promise<unknown> {
  const model = r.chance(0.7) ? s.marian : s.t5;
  const V = model.config.vocab_size;
  switch (r.int(11)) {
    case 0: case 1: case 2: return model.generate(rows(r, V) as never, options(r, V) as never);
    case 3: { // a stream read a few events, then closed, dropped, or read to the end
      const it = model.stream(rows(r, V) as never, options(r, V) as never);
      const k = r.int(4);
      for (let i = 0; i < k; i++) if ((await it.next()).done) return i;
      if (r.chance(0.5)) await it.return(undefined as never);
      return k;
    }
    case 4: return model.encode(rows(r, V) as never, (r.chance(0.3) ? rows(r, 2) : undefined) as never);
    case 5: return model.decoderLogits(rows(r, V) as never, rows(r, V) as never, (r.chance(0.2) ? rows(r, 2) : undefined) as never);
    case 6: { // the tokenizer alone
      const t = s.tok;
      const a = r.chance(0.8) ? hostileText(r) : junk(r);
      switch (r.int(5)) {
        case 0: return t.encode(a as string, r.chance(0.2) ? junk(r) as never : undefined);
        case 1: return t.decode(rows(r, t.vocabSize) as never);
        case 2: return t.tokenToId(a as string);
        case 3: return t.idToToken(junk(r) as number);
        default: return t.langId(a as string);
      }
    }
    case 7: case 8: { // the phonemizer (texts kept short: every distinct word of a long one runs the model)
      const g = s.g2p;
      const a = r.chance(0.85) ? hostileText(r).slice(0, 2000) : junk(r);
      const o = r.chance(0.2) ? { numBeams: r.pick([1, 2, junk(r)]), batchSize: r.pick([1, 64, junk(r)]) } : r.chance(0.05) ? junk(r) : {};
      return r.chance(0.7) ? g.phonemize(a as string, o as never) : g.phonemizeWords((Array.isArray(a) ? a : [a, 'cat']) as never, o as never);
    }
    case 9: { // loadModel options, then a call, then dispose and a call that must be refused
      const o = r.chance(0.5) ? { tokenizer: false, threads: 1, [r.pick(['quantize', 'backend', 'gpuWeights', 'checkFinite', 'simd', 'threads', 'tokenizer', 'signal', 'onProgress'])]: junk(r) } : junk(r);
      const m = await loadModel(s.marianFiles, o as never);
      const out = await m.generate([[1, 2, 0]], { maxNewTokens: 2 });
      m.dispose();
      await m.generate([[1, 2, 0]]).then(() => { throw new Error('a disposed model answered'); }, () => undefined);
      return out.sequences.length;
    }
    default: { // concurrent calls on one model, one of them aborted midway
      const ac = new AbortController();
      const calls = [model.generate([[1, 2, 3]], { maxNewTokens: 4, numBeams: 2 }), model.generate([[4, 5]], { maxNewTokens: 6, signal: ac.signal }),
        model.encode([[1, 2]]), model.stream([[3, 4]], { maxNewTokens: 3 }).next()];
      ac.abort();
      const settled = await Promise.allSettled(calls);
      for (const x of settled) if (x.status === 'rejected' && !(x.reason?.code)) throw x.reason;
      return settled.length;
    }
  }
}

export const apiKind: FileKind = {
  name: 'api',
  about: 'public API arguments: generate/stream/encode/decoderLogits, tokenizer, Phonemizer, loadModel options, dispose, concurrency',
  async run(r) {
    return oneCall(await load(), r);
  },
};
