// MarianTokenizer against transformers' rules, on the real opus-mt-en-mg files.
//
// transformers is not installable here, so the expected ids were derived (tools/tokenizers/families.py) the way
// transformers 4.40's MarianTokenizer computes them, with the reference SentencePiece (python3-sentencepiece):
//   tokenize:  text split on the special tokens </s> <unk> <pad>; in each other span a leading ">>xx<<" is kept as
//              one token and other ">>..<<" are removed (language_code_re), the rest is
//              source_spm.encode(span, out_type=str)
//   ids:       vocab.json[piece], or vocab.json["<unk>"] for a piece not in it (_convert_token_to_id)
//   inputs:    ids + [vocab.json["</s>"]]                       (build_inputs_with_special_tokens)
//   decode:    ids in all_special_ids dropped (skip_special_tokens), vocab.json id → piece, target_spm
//              decode_pieces between special tokens, "▁" → " ", strip, clean_up_tokenization.
import { describe, expect, it } from 'vitest';
import { InputError, SourceError, UnsupportedError } from '../../bindings/errors.js';
import { loadTokenizer } from '../../bindings/tokenizers/index.js';
import { agreement, fixtureBytes, fixtureJson, fixturePath } from './helpers.js';

interface Case { text: string; ids: number[]; decoded: string; decoded_raw: string }
interface Fixture { target_cases: Case[]; cases: Case[] }

const opus = fixtureJson<Fixture>('marian_opus_mt_en_mg.json');

describe('MarianTokenizer (opus-mt-en-mg)', async () => {
  const tok = (await loadTokenizer(fixturePath('opus-mt-en-mg/')))!;

  it('is found from the folder and knows its special ids', () => {
    expect(tok.family).toBe('marian');
    expect([tok.vocabSize, tok.eosId, tok.unkId, tok.padId]).toEqual([54688, 0, 1, 54687]);
    expect(tok.tokenToId('▁the')).toBe(7);
    expect(tok.tokenToId('no such token')).toBeUndefined();
    expect(tok.idToToken(54687)).toBe('<pad>');
  });

  it('encodes every corpus line to the ids MarianTokenizer gives', () => {
    const bad = agreement('marian opus-mt-en-mg encode', opus.cases, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    expect(bad.map((c) => ({ text: c.text, want: c.ids, got: tok.encode(c.text) }))).toEqual([]);
  });

  it('decodes generated-style sequences (pad start, </s> end) like MarianTokenizer.decode', () => {
    const all = [...opus.target_cases, ...opus.cases];
    const bad = agreement('marian opus-mt-en-mg decode', all, (c) =>
      tok.decode(c.ids) === c.decoded && tok.decode(c.ids, { skipSpecialTokens: false }) === c.decoded_raw);
    expect(bad.map((c) => ({ ids: c.ids, want: [c.decoded, c.decoded_raw],
      got: [tok.decode(c.ids), tok.decode(c.ids, { skipSpecialTokens: false })] }))).toEqual([]);
  });

  it('keeps a leading >>lang<< code as one token', () => {
    expect(tok.tokenize('>>fra<< Hello')[0]).toBe('>>fra<<');
    expect(tok.encode('Hello')).toEqual(tok.encode('>>xx<<Hello').slice(1));
  });

  it('batches, and rejects bad input with typed errors', () => {
    expect(tok.encodeBatch(['Hello world', ''])).toEqual([tok.encode('Hello world'), [0]]);
    expect(tok.decodeBatch([[54687, 448, 0], []])).toEqual([tok.decode([54687, 448, 0]), '']);
    expect(() => tok.decode([-1])).toThrow(InputError);
    expect(() => tok.decode([1.5])).toThrow(InputError);
    expect(() => tok.langId('fra')).toThrow(UnsupportedError); // this model has no >>xx<< tokens
  });
});

describe('MarianTokenizer with separate_vocabs (target_vocab.json)', async () => {
  const sep = fixtureJson<Fixture>('marian_separate.json');
  const files = {
    'source.spm': fixtureBytes('bpe.model'),
    'target.spm': fixtureBytes('unigram.model'),
    'vocab.json': fixtureJson('marian_separate/vocab.json'),
    'target_vocab.json': fixtureJson('marian_separate/target_vocab.json'),
    'tokenizer_config.json': fixtureJson('marian_separate/tokenizer_config.json'),
  };
  const tok = (await loadTokenizer(files, { model_type: 'marian' }))!;

  it('encodes with the source vocabulary and decodes with the target one', () => {
    const enc = agreement('marian separate encode', sep.cases, (c) => JSON.stringify(tok.encode(c.text)) === JSON.stringify(c.ids));
    expect(enc.map((c) => c.text)).toEqual([]);
    const dec = agreement('marian separate decode', sep.target_cases, (c) =>
      tok.decode(c.ids) === c.decoded && tok.decode(c.ids, { skipSpecialTokens: false }) === c.decoded_raw);
    expect(dec.map((c) => ({ want: c.decoded, got: tok.decode(c.ids) }))).toEqual([]);
  });

  it('names the missing file when target_vocab.json is absent', async () => {
    const { 'target_vocab.json': _, ...rest } = files;
    await expect(loadTokenizer(rest, { model_type: 'marian' })).rejects.toThrow(SourceError);
    await expect(loadTokenizer(rest, { model_type: 'marian' })).rejects.toThrow(/target_vocab\.json/);
  });
});

describe('Marian multilingual target codes', () => {
  it('langId gives the >>xxx<< token id', async () => {
    const vocab = { '</s>': 0, '<unk>': 1, '>>fra<<': 2, '>>deu<<': 3, '<pad>': 4 };
    const tok = (await loadTokenizer({ 'source.spm': fixtureBytes('bpe.model'), 'target.spm': fixtureBytes('bpe.model'),
      'vocab.json': vocab }, { model_type: 'marian' }))!;
    expect(tok.languages).toEqual(['fra', 'deu']);
    expect([tok.langId('fra'), tok.langId('>>deu<<')]).toEqual([2, 3]);
    expect(() => tok.langId('xyz')).toThrow(InputError);
    expect(tok.encode('>>deu<< x')[0]).toBe(3);
  });
});
