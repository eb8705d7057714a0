// What transformers' convert_slow_tokenizer.py writes as tokenizer.json for a SentencePiece model (T5Converter,
// NllbConverter over SpmConverter, BPE merges from SentencePieceExtractor), re-stated for the tests: built from
// the committed .model files instead of committing ~300 KB tokenizer.json files that would repeat their charsmap.
// No Rust `tokenizers` runs here, so these follow the converters' source rather than being byte-identical copies.
import { parseModelProto, PieceType, type ModelProto } from '../../bindings/tokenizers/protobuf.js';

const U = '\u2581';
const added = (content: string, id: number, special = true, lstrip = false, rstrip = false) =>
  ({ id, content, single_word: false, lstrip, rstrip, normalized: false, special });

function spmJson(proto: ModelProto, model: object, postProcessor: object, addedTokens: object[]) {
  const charsmap = proto.normalizerSpec.precompiledCharsmap;
  const normalizers: object[] = [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }];
  if (charsmap.length) {
    normalizers.unshift({ type: 'Precompiled', precompiled_charsmap: Buffer.from(charsmap).toString('base64') });
  }
  const meta = { type: 'Metaspace', replacement: U, prepend_scheme: 'always', split: true };
  return { version: '1.0', added_tokens: addedTokens, normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: meta, post_processor: postProcessor, decoder: meta, model };
}

const seq = (id: string) => ({ Sequence: { id, type_id: 0 } });
const tok = (id: string) => ({ SpecialToken: { id, type_id: 0 } });

/** T5Converter: the spm vocabulary, then <extra_id_99> .. <extra_id_0>; "$A </s>". */
export function t5TokenizerJson(modelBytes: Uint8Array) {
  const proto = parseModelProto(modelBytes, 'spiece.model');
  const n = proto.pieces.length;
  const vocab = proto.pieces.map((p, i) => [p, proto.scores[i]]);
  for (let i = 99; i >= 0; i--) vocab.push([`<extra_id_${i}>`, 0]);
  const tokens = [
    ...proto.pieces.flatMap((p, i) => (proto.types[i] === PieceType.Unknown || proto.types[i] === PieceType.Control ? [added(p, i)] : [])),
    ...proto.pieces.flatMap((p, i) => (proto.types[i] === PieceType.UserDefined ? [added(p, i, false)] : [])),
    ...Array.from({ length: 100 }, (_, i) => added(`<extra_id_${i}>`, n + 99 - i, true, true, true)),
  ];
  const eos = proto.pieces.indexOf('</s>');
  const post = { type: 'TemplateProcessing', single: [seq('A'), tok('</s>')], pair: [seq('A'), tok('</s>'), seq('B'), tok('</s>')],
    special_tokens: { '</s>': { id: '</s>', ids: [eos], tokens: ['</s>'] } } };
  return spmJson(proto, { type: 'Unigram', unk_id: proto.pieces.indexOf('<unk>'), vocab, byte_fallback: false }, post, tokens);
}

/** SentencePieceExtractor.extract: every split of a piece into two pieces is a merge, ranked by the piece's id. */
function extractMerges(pieces: readonly string[]): string[] {
  const vocab = new Map(pieces.map((p, i) => [p, i]));
  const merges: [string, string, number][] = [];
  pieces.forEach((piece, id) => {
    const chars = Array.from(piece);
    const local: [string, string, number][] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      if (vocab.has(l) && vocab.has(r)) local.push([l, r, id]);
    }
    local.sort((a, b) => vocab.get(a[0])! - vocab.get(b[0])! || vocab.get(a[1])! - vocab.get(b[1])!);
    merges.push(...local);
  });
  return merges.sort((a, b) => a[2] - b[2]).map(([l, r]) => `${l} ${r}`);
}

/** NllbConverter: <s> <pad> </s> <unk>, spm pieces from id 3 on (spm id + 1), BPE; "eng_Latn $A </s>". */
export function nllbTokenizerJson(modelBytes: Uint8Array, codes: readonly string[]) {
  const proto = parseModelProto(modelBytes, 'sentencepiece.bpe.model');
  const pieces = ['<s>', '<pad>', '</s>', '<unk>', ...proto.pieces.slice(3)];
  const n = pieces.length;
  const tokens = [...pieces.slice(0, 4).map((p, i) => added(p, i)), ...codes.map((c, i) => added(c, n + i)),
    added('<mask>', n + codes.length, true, true)];
  const eng = n + codes.indexOf('eng_Latn');
  const post = { type: 'TemplateProcessing', single: [tok('eng_Latn'), seq('A'), tok('</s>')],
    pair: [tok('eng_Latn'), seq('A'), seq('B'), tok('</s>')],
    special_tokens: { eng_Latn: { id: 'eng_Latn', ids: [eng], tokens: ['eng_Latn'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } };
  const model = { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: true, byte_fallback: false, vocab: Object.fromEntries(pieces.map((p, i) => [p, i])),
    merges: extractMerges(proto.pieces) };
  return spmJson(proto, model, post, tokens);
}
