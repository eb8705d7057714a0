// Our SentencePiece against the reference C++ implementation: the expected ids, pieces and decoded text were
// produced by Debian's spm_encode --output_format=id|piece and spm_decode (tools/tokenizers/make_spm_fixtures.py)
// over test/fixtures/tokenizers/corpus.txt, for models trained with spm_train.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../bindings/errors.js';
import { SentencePiece } from '../../bindings/tokenizers/sentencepiece.js';
import { agreement, fixtureBytes, fixtureJson, type SpmCase } from './helpers.js';

const MODELS = ['unigram', 'bpe', 'unigram_ws'] as const;

describe.each(MODELS)('SentencePiece %s.model vs spm_encode/spm_decode', (name) => {
  const fixture = fixtureJson<{ model: string; cases: SpmCase[] }>(`spm_${name}.json`);
  const sp = SentencePiece.load(fixtureBytes(fixture.model), fixture.model);

  it('encodes every corpus line to the reference ids and pieces', () => {
    const bad = agreement(`${name} encode`, fixture.cases, (c) => {
      const got = sp.encode(c.text);
      return JSON.stringify(got.ids) === JSON.stringify(c.ids) && JSON.stringify(got.pieces) === JSON.stringify(c.pieces);
    });
    expect(bad.map((c) => ({ text: c.text, want: c.pieces, got: sp.encode(c.text).pieces }))).toEqual([]);
  });

  it('decodes the reference ids to the reference text', () => {
    const bad = agreement(`${name} decode`, fixture.cases, (c) => sp.decodeIds(c.ids) === c.decoded);
    expect(bad.map((c) => ({ ids: c.ids, want: c.decoded, got: sp.decodeIds(c.ids) }))).toEqual([]);
  });
});

describe('SentencePiece model loading', () => {
  it('reads the ids of the special pieces', () => {
    const t5Like = SentencePiece.load(fixtureBytes('unigram.model'), 'unigram.model');
    expect([t5Like.specialId('pad'), t5Like.specialId('eos'), t5Like.specialId('unk'), t5Like.specialId('bos')])
      .toEqual([0, 1, 2, -1]);
    const fairseqLike = SentencePiece.load(fixtureBytes('bpe.model'), 'bpe.model');
    expect([fairseqLike.specialId('unk'), fairseqLike.specialId('bos'), fairseqLike.specialId('eos')]).toEqual([0, 1, 2]);
    expect(fairseqLike.pieceToId('no such piece')).toBe(0);
    expect(fairseqLike.idToPiece(3)).toBe('<0x00>');
  });

  it('rejects a corrupt model with a ConfigError naming the file', () => {
    const good = fixtureBytes('unigram_ws.model');
    const truncated = good.subarray(0, Math.floor(good.length / 2));
    expect(() => SentencePiece.load(truncated, 'spiece.model')).toThrow(ConfigError);
    expect(() => SentencePiece.load(truncated, 'spiece.model')).toThrow(/spiece\.model/);
    expect(() => SentencePiece.load(new TextEncoder().encode('{"not": "a model"}'), 'source.spm')).toThrow(/source\.spm/);
    expect(() => SentencePiece.load(new Uint8Array(0), 'empty.model')).toThrow(/no pieces/);
  });
});
