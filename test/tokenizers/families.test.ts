// T5, NLLB, mBART, mBART-50 and M2M100 tokenizers built from SentencePiece files, against the ids and texts that
// tools/tokenizers/families.py derives with the reference SentencePiece and transformers 4.40's rules for each
// family (see the docstring there). The small spm_train models stand in for the real spiece.model /
// sentencepiece.bpe.model: unigram.model has T5's special ids (pad 0, eos 1, unk 2), bpe.model fairseq's
// (unk 0, bos 1, eos 2).
import { describe, expect, it } from 'vitest';
import { InputError, UnsupportedError } from '../../bindings/errors.js';
import { loadTokenizer, type Tokenizer } from '../../bindings/tokenizers/index.js';
import { NLLB_CODES } from '../../bindings/tokenizers/languages.js';
import { agreement, fixtureBytes, fixtureJson } from './helpers.js';

interface Case { text: string; ids: number[]; decoded: string; decoded_raw: string }
const expected = fixtureJson<Record<string, Case[]>>('families.json');

const unigram = fixtureBytes('unigram.model');
const bpe = fixtureBytes('bpe.model');

const setups: Record<string, { files: Record<string, unknown>; model_type: string; srcLang?: string }> = {
  t5: { files: { 'spiece.model': unigram }, model_type: 't5' },
  t5_nonlegacy: { files: { 'spiece.model': unigram, 'tokenizer_config.json': { legacy: false } }, model_type: 't5' },
  nllb: { files: { 'sentencepiece.bpe.model': bpe, 'tokenizer_config.json': { tokenizer_class: 'NllbTokenizer' } }, model_type: 'm2m_100' },
  nllb_fra: { files: { 'sentencepiece.bpe.model': bpe }, model_type: 'm2m_100', srcLang: 'fra_Latn' },
  nllb_legacy: { files: { 'sentencepiece.bpe.model': bpe, 'tokenizer_config.json': { legacy_behaviour: true } }, model_type: 'm2m_100' },
  mbart: { files: { 'sentencepiece.bpe.model': bpe }, model_type: 'mbart' },
  mbart50: { files: { 'sentencepiece.bpe.model': bpe, 'tokenizer_config.json': { tokenizer_class: 'MBart50Tokenizer' } },
    model_type: 'mbart', srcLang: 'ro_RO' },
  m2m100: { files: { 'sentencepiece.bpe.model': bpe, 'vocab.json': fixtureJson('m2m100_vocab.json') }, model_type: 'm2m_100' },
  m2m100_fr: { files: { 'sentencepiece.bpe.model': bpe, 'vocab.json': fixtureJson('m2m100_vocab.json') }, model_type: 'm2m_100', srcLang: 'fr' },
};

describe.each(Object.keys(setups))('%s tokenizer vs transformers rules', async (name) => {
  const s = setups[name]!;
  const tok = (await loadTokenizer(s.files as Record<string, Uint8Array>, { model_type: s.model_type }))!;
  const cases = expected[name]!;

  it('encodes like transformers', () => {
    const bad = agreement(`${name} encode`, cases, (c) =>
      JSON.stringify(tok.encode(c.text, { srcLang: s.srcLang })) === JSON.stringify(c.ids));
    expect(bad.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text, { srcLang: s.srcLang }) }))).toEqual([]);
  });

  it('decodes like transformers (with and without special tokens)', () => {
    const bad = agreement(`${name} decode`, cases, (c) =>
      tok.decode(c.ids) === c.decoded && tok.decode(c.ids, { skipSpecialTokens: false }) === c.decoded_raw);
    expect(bad.map((c) => ({ ids: c.ids, want: [c.decoded, c.decoded_raw],
      got: [tok.decode(c.ids), tok.decode(c.ids, { skipSpecialTokens: false })] }))).toEqual([]);
  });
});

describe('special ids and language codes', async () => {
  const load = (n: string, opts?: { srcLang?: string }) =>
    loadTokenizer(setups[n]!.files as Record<string, Uint8Array>, { model_type: setups[n]!.model_type }, opts) as Promise<Tokenizer>;

  it('T5: pad 0, eos 1, unk 2, sentinels from the top, no language tokens', async () => {
    const t5 = await load('t5');
    expect([t5.family, t5.padId, t5.eosId, t5.unkId, t5.bosId, t5.vocabSize]).toEqual(['t5', 0, 1, 2, undefined, 1100]);
    expect([t5.tokenToId('<extra_id_0>'), t5.tokenToId('<extra_id_99>')]).toEqual([1099, 1000]);
    expect(() => t5.langId('en')).toThrow(UnsupportedError);
  });

  it('NLLB: fairseq ids, language codes after the vocabulary, forced-BOS helper', async () => {
    const nllb = await load('nllb');
    expect([nllb.family, nllb.bosId, nllb.padId, nllb.eosId, nllb.unkId]).toEqual(['nllb', 0, 1, 2, 3]);
    expect(nllb.languages).toEqual(NLLB_CODES);
    expect(nllb.langId('ace_Arab')).toBe(1001);
    expect(nllb.langId('fra_Latn')).toBe(1001 + NLLB_CODES.indexOf('fra_Latn'));
    expect(nllb.tokenToId('<mask>')).toBe(1001 + NLLB_CODES.length);
    expect(nllb.encode('', { srcLang: 'deu_Latn' })).toEqual([nllb.langId('deu_Latn'), 2]);
    expect(() => nllb.langId('xx_Latn')).toThrow(InputError);
    expect(() => nllb.encode('x', { srcLang: 'english' })).toThrow(InputError);
    // the default source language comes from loadTokenizer's option, else tokenizer_config.json, else eng_Latn
    expect((await load('nllb', { srcLang: 'zul_Latn' })).encode('')[0]).toBe(nllb.langId('zul_Latn'));
  });

  it('M2M100 and mBART language ids', async () => {
    const m2m = await load('m2m100');
    expect(m2m.langId('fr')).toBe(m2m.langId('__fr__'));
    expect(m2m.langId('af')).toBe(m2m.vocabSize);
    const mbart = await load('mbart');
    expect(mbart.languages.length).toBe(25);
    expect(mbart.langId('en_XX')).toBe(1001 + 3);
    expect(mbart.tokenToId('<mask>')).toBe(1001 + 25);
  });
});
