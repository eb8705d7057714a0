// tokenizer.json tokenizers (through @huggingface/tokenizers plus our exact Precompiled normalizer and language
// handling), and BART's byte-level BPE.
import { describe, expect, it } from 'vitest';
import { ConfigError, InputError, UnsupportedError } from '../../bindings/errors.js';
import { loadTokenizer, type Tokenizer } from '../../bindings/tokenizers/index.js';
import { NLLB_CODES } from '../../bindings/tokenizers/languages.js';
import { CharsMap, precompiledNormalize } from '../../bindings/tokenizers/normalizer.js';
import { SentencePiece } from '../../bindings/tokenizers/sentencepiece.js';
import { nllbTokenizerJson, t5TokenizerJson } from './convert.js';
import { agreement, fixtureBytes, fixtureJson } from './helpers.js';

interface Case { text: string; ids: number[]; decoded: string; decoded_raw?: string }
const families = fixtureJson<Record<string, Case[]>>('families.json');

describe('BART byte-level BPE (vocab.json + merges.txt) vs transformers\' slow BartTokenizer', async () => {
  const bart = fixtureJson<{ cases: Case[] }>('bart.json').cases;
  const files = { 'vocab.json': fixtureJson('bart/vocab.json'), 'merges.txt': fixtureBytes('bart/merges.txt') };
  const tok = (await loadTokenizer(files, { model_type: 'bart' }))!;

  it('encodes and decodes the corpus like BartTokenizer', () => {
    expect([tok.family, tok.bosId, tok.padId, tok.eosId, tok.unkId]).toEqual(['bart', 0, 1, 2, 3]);
    const enc = agreement('bart encode', bart, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    expect(enc.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text) }))).toEqual([]);
    const dec = agreement('bart decode', bart, (c) => tok.decode(c.ids) === c.decoded);
    expect(dec.map((c) => ({ want: c.decoded, got: tok.decode(c.ids) }))).toEqual([]);
  });

  it('has no language tokens', () => {
    expect(() => tok.langId('en_XX')).toThrow(UnsupportedError);
    expect(tok.decode([])).toBe('');
  });
});

/**
 * Lines where SentencePiece and the tokenizer.json pipeline are meant to agree: single inner spaces, no <unk> or
 * byte pieces, no special/user-defined tokens written in the text (fast tokenizers split those out before
 * normalization, and T5's fast template appends </s> even after a literal one).
 */
function ordinary(c: Case, unk: number, bytes?: [number, number]): boolean {
  return !/^\s|\s$|\s\s|[\t\u0000-\u001f\u007f-\u00a0\u2000-\u200f\u2028-\u202f\u3000\ufeff\u2581]|<(sep|unk|s|\/s|pad|mask|ctrl)>|<extra_id_/u.test(c.text) &&
    !c.ids.some((id) => id === unk || (bytes && id >= bytes[0] && id <= bytes[1]));
}

describe('T5 tokenizer.json (Unigram, Precompiled, Metaspace)', async () => {
  const tok = (await loadTokenizer({ 'tokenizer.json': t5TokenizerJson(fixtureBytes('unigram.model')) }, { model_type: 't5' }))!;
  const sp = SentencePiece.load(fixtureBytes('unigram.model'), 'unigram.model');
  const score = (ids: number[]) => ids.reduce((s, id) => s + (sp.proto.scores[id] ?? 0), 0);
  const cases = families.t5!;

  it('agrees with the SentencePiece T5 tokenizer on ordinary text, up to equal-score ties', () => {
    expect(tok.family).toBe('t5');
    expect([tok.padId, tok.eosId, tok.unkId, tok.tokenToId('<extra_id_0>')]).toEqual([0, 1, 2, 1099]);
    agreement('t5 tokenizer.json vs spiece.model, all lines', cases, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    const plain = cases.filter((c) => ordinary(c, 2));
    const differ = agreement('t5 tokenizer.json vs spiece.model, ordinary lines', plain, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    // tokenizers.js's lattice breaks exact ties between segmentations differently from SentencePiece's optimized
    // Viterbi ("!!!" = "!! !" or "! !!"); anything else would be a real disagreement.
    const notTies = differ.filter((c) => Math.abs(score(tok.encode(c.text)) - score(c.ids)) > 1e-4);
    expect(notTies.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text) }))).toEqual([]);
    expect(differ.length).toBeLessThanOrEqual(2);
    const dec = agreement('t5 tokenizer.json decode, ordinary lines', plain, (c) => tok.decode(c.ids) === c.decoded);
    expect(dec.map((c) => ({ want: c.decoded, got: tok.decode(c.ids) }))).toEqual([]);
  });
});

describe('NLLB tokenizer.json (BPE, Precompiled, TemplateProcessing)', async () => {
  const json = nllbTokenizerJson(fixtureBytes('bpe.model'), NLLB_CODES);
  const tok = (await loadTokenizer({ 'tokenizer.json': json, 'tokenizer_config.json': { tokenizer_class: 'NllbTokenizerFast' } }))!;

  it('agrees with the SentencePiece NLLB tokenizer on ordinary text, for any source language', () => {
    expect(tok.family).toBe('nllb');
    expect(tok.langId('fra_Latn')).toBe(1001 + NLLB_CODES.indexOf('fra_Latn'));
    for (const [name, srcLang] of [['nllb', undefined], ['nllb_fra', 'fra_Latn']] as const) {
      const plain = families[name]!.filter((c) => ordinary(c, 3, [4, 259]));
      const bad = agreement(`${name} tokenizer.json vs sentencepiece.bpe.model, ordinary lines`, plain,
        (c) => JSON.stringify(tok.encode(c.text, { srcLang })) === JSON.stringify(c.ids));
      expect(bad.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text, { srcLang }) }))).toEqual([]);
      const dec = agreement(`${name} tokenizer.json decode, ordinary lines`, plain, (c) => tok.decode(c.ids) === c.decoded);
      expect(dec.map((c) => ({ want: c.decoded, got: tok.decode(c.ids) }))).toEqual([]);
    }
    expect(() => tok.encode('x', { srcLang: 'klingon' })).toThrow(InputError);
  });
});

describe('Precompiled normalizer', () => {
  const sp = SentencePiece.load(fixtureBytes('unigram.model'), 'unigram.model');
  const map = new CharsMap(sp.proto.normalizerSpec.precompiledCharsmap, 'unigram.model');
  const lines = fixtureJson<{ cases: Case[] }>('spm_unigram.json').cases.map((c) => c.text);

  it('applies the charsmap like SentencePiece, except inside grapheme clusters of 6+ bytes', () => {
    // spm_precompiled (and so transformers' fast tokenizers) replaces a whole extended grapheme cluster only when
    // it is shorter than 6 UTF-8 bytes, else character by character: "ｶﾞ" (6 bytes) stays two characters where
    // SentencePiece composes it. That is Hugging Face's behaviour, reproduced on purpose.
    const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const squash = (s: string) => s.replace(/[ \u2581]+/g, ' ').trim();
    const same = (l: string) => squash(precompiledNormalize(map, l)) === squash(sp.normalize(l));
    const longDiffers = (l: string) =>
      [...seg.segment(l)].some((g) => new TextEncoder().encode(g.segment).length >= 6 && !same(g.segment));
    const kept = lines.filter((l) => !longDiffers(l));
    expect(lines.length - kept.length).toBeLessThanOrEqual(3);
    const bad = agreement('Precompiled vs spm normalization, lines without a 6+ byte cluster it rewrites', kept, same);
    expect(bad.map((l) => ({ l, hf: precompiledNormalize(map, l), spm: sp.normalize(l) }))).toEqual([]);
    expect(precompiledNormalize(map, 'ｶﾞ')).toBe('\u30ab\u3099');
    expect(sp.normalize('ｶﾞ')).toBe('\u2581\u30ac');
  });

  it('is not Unicode NFKC (what tokenizers.js would otherwise use)', () => {
    // nmt_nfkc deletes control characters and keeps U+FF5E for instance; NFKC does neither.
    expect(precompiledNormalize(map, 'a\u0001b')).toBe('ab');
    expect('a\u0001b'.normalize('NFKC')).toBe('a\u0001b');
  });
});

describe('loadTokenizer', () => {
  it('resolves to null when there are no tokenizer files', async () => {
    expect(await loadTokenizer({ 'config.json': { model_type: 't5' } })).toBeNull();
    expect(await loadTokenizer({}, { model_type: 'marian' })).toBeNull();
    expect(await loadTokenizer({})).toBeNull();
  });

  it('finds the family from the files when there is no config', async () => {
    const t5 = (await loadTokenizer({ 'spiece.model': fixtureBytes('unigram.model') })) as Tokenizer;
    expect(t5.family).toBe('t5');
    const json = (await loadTokenizer({ 'tokenizer.json': t5TokenizerJson(fixtureBytes('unigram.model')) })) as Tokenizer;
    expect(json.family).toBe('tokenizer.json');
    expect(json.encode('Hello world')).toEqual(t5.encode('Hello world'));
  });

  it('prefers the SentencePiece files unless told otherwise', async () => {
    const files = { 'spiece.model': fixtureBytes('unigram.model'), 'tokenizer.json': t5TokenizerJson(fixtureBytes('unigram.model')) };
    expect((await loadTokenizer(files, { model_type: 't5' }))!.constructor.name).toBe('T5Tokenizer');
    expect((await loadTokenizer(files, { model_type: 't5' }, { prefer: 'tokenizer.json' }))!.constructor.name).toBe('JsonTokenizer');
  });

  it('names the file when a tokenizer file is corrupt', async () => {
    const corrupt = fixtureBytes('unigram.model').slice(0, 5000);
    await expect(loadTokenizer({ 'spiece.model': corrupt }, { model_type: 't5' })).rejects.toThrow(ConfigError);
    await expect(loadTokenizer({ 'spiece.model': corrupt }, { model_type: 't5' })).rejects.toThrow(/spiece\.model/);
    await expect(loadTokenizer({ 'tokenizer.json': '{"model": 3' }, { model_type: 't5' })).rejects.toThrow(/tokenizer\.json/);
    await expect(loadTokenizer({ 'tokenizer.json': { model: { type: 'WordLevel', vocab: {} } } })).rejects.toThrow(UnsupportedError);
    await expect(loadTokenizer({ 'source.spm': fixtureBytes('bpe.model') }, { model_type: 'marian' })).rejects.toThrow(/target\.spm/);
  });
});
