// SentencePieceProcessor: a `.model` file (ModelProto) turned into encode/decode, following
// sentencepiece_processor.cc — normalize, segment (spm_models.ts), then merge runs of unknown pieces or
// decompose them into <0xXX> byte pieces (byte_fallback); decoding reverses the whitespace escaping.
// Verified against spm_encode/spm_decode by test/tokenizers/sentencepiece.test.ts.

import { ConfigError, InputError } from '../errors.js';
import { PrefixMatcher, SpmNormalizer } from './normalizer.js';
import { parseModelProto, PieceType, type ModelProto } from './protobuf.js';
import { encodeBpe, encodeChar, encodeUnigram, encodeWord, scoreRange, type EncodeResult, type SpmVocab } from './spm_models.js';

const SPACE_SYMBOL = '\u2581';
const encoder = new TextEncoder();
const REPLACEMENT = '\ufffd';

const bytePiece = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
const pieceToByte = (piece: string) => (/^<0x[0-9A-F]{2}>$/.test(piece) ? parseInt(piece.slice(3, 5), 16) : -1);

export interface SpmEncoding {
  readonly pieces: string[];
  readonly ids: number[];
}

export class SentencePiece implements SpmVocab {
  readonly pieceIds = new Map<string, number>();
  readonly maxPieceChars: number;
  readonly unkId: number;
  readonly userDefined: PrefixMatcher;
  readonly scoreRange: { readonly minScore: number; readonly maxScore: number };
  /** CONTROL, UNKNOWN and BYTE pieces: reachable by PieceToId, never produced by segmentation. */
  private readonly reserved = new Map<string, number>();
  private readonly normalizer: SpmNormalizer;
  private readonly denormalizer: SpmNormalizer | undefined;
  private readonly segment: (v: SpmVocab, normalized: string) => EncodeResult;

  /** `file` names the model in error messages. */
  static load(bytes: Uint8Array, file: string): SentencePiece {
    return new SentencePiece(parseModelProto(bytes, file), file);
  }

  constructor(readonly proto: ModelProto, readonly file: string) {
    const { pieces, types, trainerSpec } = proto;
    let unk = -1;
    let maxChars = 0;
    const userDefined: string[] = [];
    const bytesSeen = new Set<number>();
    // ModelInterface::InitializePieces, with the same consistency checks.
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const type = types[i]!;
      const normal = type === PieceType.Normal || type === PieceType.UserDefined || type === PieceType.Unused;
      const map = normal ? this.pieceIds : this.reserved;
      if (map.has(piece)) throw new ConfigError(`${file}: piece ${JSON.stringify(piece)} is defined twice`);
      map.set(piece, i);
      if (normal) {
        let chars = 0;
        for (const _ of piece) chars++;
        if (chars > maxChars) maxChars = chars;
      }
      if (type === PieceType.UserDefined) userDefined.push(piece);
      if (type === PieceType.Unknown) {
        if (unk >= 0) throw new ConfigError(`${file}: more than one <unk> piece`);
        unk = i;
      }
      if (type === PieceType.Byte) {
        const b = pieceToByte(piece);
        if (!trainerSpec.byteFallback || b < 0) throw new ConfigError(`${file}: unexpected byte piece ${piece}`);
        bytesSeen.add(b);
      }
    }
    if (unk < 0) throw new ConfigError(`${file}: the model has no <unk> piece`);
    if (trainerSpec.byteFallback && bytesSeen.size !== 256) {
      throw new ConfigError(`${file}: byte_fallback is set but only ${bytesSeen.size} of the 256 <0xXX> pieces exist`);
    }
    this.unkId = unk;
    this.maxPieceChars = maxChars;
    this.userDefined = new PrefixMatcher(userDefined);
    this.scoreRange = scoreRange(proto);
    this.normalizer = new SpmNormalizer(proto.normalizerSpec, trainerSpec.treatWhitespaceAsSuffix,
      this.userDefined, file);
    this.denormalizer = proto.denormalizerSpec?.precompiledCharsmap.length
      ? new SpmNormalizer(proto.denormalizerSpec, false, undefined, file) : undefined;
    this.segment = { unigram: encodeUnigram, bpe: encodeBpe, char: encodeChar, word: encodeWord }[trainerSpec.modelType];
  }

  get size(): number {
    return this.proto.pieces.length;
  }

  /** PieceToId: the piece's id, or the <unk> id when the model does not have it. */
  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.pieceIds.get(piece) ?? this.unkId;
  }

  /** True when the model has the piece (PieceToId would not fall back to <unk>). */
  hasPiece(piece: string): boolean {
    return this.reserved.has(piece) || this.pieceIds.has(piece);
  }

  idToPiece(id: number): string {
    const piece = this.proto.pieces[id];
    if (piece === undefined) throw new InputError(`${this.file}: id ${id} is out of range [0, ${this.size})`);
    return piece;
  }

  type(id: number): number {
    return this.proto.types[id] ?? 0;
  }

  /** unk_id()/bos_id()/eos_id()/pad_id(): the id of the configured piece when it has the expected type, else -1. */
  specialId(which: 'unk' | 'bos' | 'eos' | 'pad'): number {
    const spec = this.proto.trainerSpec;
    const piece = { unk: spec.unkPiece, bos: spec.bosPiece, eos: spec.eosPiece, pad: spec.padPiece }[which];
    const id = this.pieceToId(piece);
    return this.type(id) === (which === 'unk' ? PieceType.Unknown : PieceType.Control) ? id : -1;
  }

  /** The normalized text the segmenter sees (spm_normalize). */
  normalize(text: string): string {
    return this.normalizer.normalize(text);
  }

  encode(text: string): SpmEncoding {
    const result = this.segment(this, this.normalizer.normalize(text));
    const pieces: string[] = [];
    const ids: number[] = [];
    let prevUnk = false;
    for (const [piece, id] of result) {
      const unk = this.type(id) === PieceType.Unknown;
      if (unk && this.proto.trainerSpec.byteFallback) {
        for (const b of encoder.encode(piece)) {
          pieces.push(bytePiece(b));
          ids.push(this.pieceToId(bytePiece(b)));
        }
      } else if (unk && prevUnk) {
        // Runs of unknown characters become one <unk> so that decoders can copy them as one span.
        pieces[pieces.length - 1] += piece;
      } else {
        pieces.push(piece);
        ids.push(id);
      }
      prevUnk = unk;
    }
    return { pieces, ids };
  }

  decodeIds(ids: readonly number[]): string {
    return this.decodePieces(ids.map((id) => this.idToPiece(id)));
  }

  /** SentencePieceProcessor::Decode(pieces) as of sentencepiece 0.2 (the version transformers installs). */
  decodePieces(pieces: readonly string[]): string {
    const { normalizerSpec, trainerSpec } = this.proto;
    let text = '';
    let bytes: number[] = [];
    let isBosWs = true; // still expecting the dummy-prefix space to strip
    let bosWsSeen = false;
    const flushBytes = () => {
      if (bytes.length) text += decodeUtf8Lenient(bytes);
      bytes = [];
    };
    for (const piece of pieces) {
      const id = this.pieceToId(piece);
      const type = this.type(id);
      if (type === PieceType.Byte) {
        bytes.push(pieceToByte(piece));
        continue;
      }
      flushBytes();
      if (bosWsSeen || text !== '') isBosWs = false;
      bosWsSeen = false;
      if (type === PieceType.Control) continue; // <s>, </s>: invisible
      if (type === PieceType.Unknown) {
        // <unk> itself shows as unk_surface; any other piece the model does not know is copied verbatim.
        text += piece === this.proto.pieces[id] ? trainerSpec.unkSurface : piece;
        continue;
      }
      let p = piece;
      if (isBosWs && (normalizerSpec.addDummyPrefix || normalizerSpec.removeExtraWhitespaces) &&
        p.startsWith(SPACE_SYMBOL)) {
        p = p.slice(1);
        // With remove_extra_whitespaces every leading space is dropped, so keep expecting one.
        bosWsSeen = !normalizerSpec.removeExtraWhitespaces;
      }
      text += p.replaceAll(SPACE_SYMBOL, ' ');
    }
    flushBytes();
    return this.denormalizer ? this.denormalizer.normalize(text) : text;
  }
}

/** Decodes byte pieces the way ProcessBytePieces does: each malformed byte becomes one U+FFFD. */
function decodeUtf8Lenient(b: readonly number[]): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c0 = b[i]!;
    const trail = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
    let cp = -1;
    let len = 1;
    if (c0 < 0x80) cp = c0;
    else if ((c0 & 0xe0) === 0xc0 && trail(1)) (cp = ((c0 & 0x1f) << 6) | (b[i + 1]! & 0x3f)), (len = 2);
    else if ((c0 & 0xf0) === 0xe0 && trail(1) && trail(2)) {
      cp = ((c0 & 0x0f) << 12) | ((b[i + 1]! & 0x3f) << 6) | (b[i + 2]! & 0x3f);
      len = 3;
    } else if ((c0 & 0xf8) === 0xf0 && trail(1) && trail(2) && trail(3)) {
      cp = ((c0 & 0x07) << 18) | ((b[i + 1]! & 0x3f) << 12) | ((b[i + 2]! & 0x3f) << 6) | (b[i + 3]! & 0x3f);
      len = 4;
    }
    const minimum = [0, 0, 0x80, 0x800, 0x10000][len]!;
    const valid = cp >= minimum && (cp < 0xd800 || (cp >= 0xe000 && cp <= 0x10ffff));
    if (valid) {
      out += String.fromCodePoint(cp);
      i += len;
    } else {
      out += REPLACEMENT;
      i += 1;
    }
  }
  return out;
}
