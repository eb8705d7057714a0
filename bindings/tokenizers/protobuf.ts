// A reader for SentencePiece's ModelProto (sentencepiece_model.proto, proto2), the `.model` / `.spm` file format.
// Only the fields that change how text is encoded or decoded are read; everything else (training inputs,
// self-test data, extensions) is skipped by wire type, so models written by newer SentencePiece versions still load.
// A full protobuf runtime would be ~100 KB in a browser bundle for these ~20 fields.

import { ConfigError } from '../errors.js';

/** ModelProto.SentencePiece.Type */
export const PieceType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;

/** TrainerSpec.ModelType */
export type SpmModelType = 'unigram' | 'bpe' | 'word' | 'char';

export interface NormalizerSpec {
  readonly name: string;
  /** Empty when the rule is `identity`. */
  readonly precompiledCharsmap: Uint8Array;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
}

export interface TrainerSpec {
  readonly modelType: SpmModelType;
  readonly treatWhitespaceAsSuffix: boolean;
  readonly allowWhitespaceOnlyPieces: boolean;
  readonly byteFallback: boolean;
  readonly unkPiece: string;
  readonly bosPiece: string;
  readonly eosPiece: string;
  readonly padPiece: string;
  /** What `<unk>` decodes to (default " ⁇ "). */
  readonly unkSurface: string;
}

export interface ModelProto {
  readonly pieces: readonly string[];
  /** float32 scores, kept as float32 because the encoders compare sums of them exactly as the C++ does. */
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  readonly trainerSpec: TrainerSpec;
  readonly normalizerSpec: NormalizerSpec;
  readonly denormalizerSpec: NormalizerSpec | undefined;
}

const MODEL_TYPES: Record<number, SpmModelType> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };

class Reader {
  pos: number;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number, private readonly fail: (m: string) => never) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Low 32 bits of a varint as a signed int32: int32 fields store negatives (pad_id -1) as 10-byte varints. */
  varint(): number {
    let lo = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      if (shift < 32) lo |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) return lo;
      if (shift >= 70) this.fail('varint longer than 10 bytes');
    }
  }

  length(): number {
    const n = this.varint() >>> 0;
    if (n > this.end - this.pos) this.fail(`field of ${n} bytes runs past the end of its message`);
    return n;
  }

  float(): number {
    if (this.end - this.pos < 4) this.fail('truncated float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.advance(8); return;
      case 2: { const n = this.length(); this.pos += n; return; }
      case 5: this.advance(4); return;
      default: this.fail(`unsupported wire type ${wireType}`); // groups (3/4) are not used by any SentencePiece version
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) this.fail('truncated field');
    this.pos += n;
  }

  /** Calls `field(number, wireType)` for each field of the message [pos, end). */
  each(field: (num: number, wire: number) => boolean): void {
    while (this.pos < this.end) {
      const key = this.varint() >>> 0;
      const num = key >>> 3;
      const wire = key & 7;
      if (num === 0) this.fail('field number 0');
      if (!field(num, wire)) this.skip(wire);
    }
  }

  sub(): Reader {
    const n = this.length();
    const r = new Reader(this.buf, this.pos, this.pos + n, this.fail);
    this.pos += n;
    return r;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // a piece may start with U+FEFF

/** Parses a serialized ModelProto; throws ConfigError naming `file` when the bytes are not one. */
export function parseModelProto(bytes: Uint8Array, file: string): ModelProto {
  const fail = (m: string): never => {
    throw new ConfigError(`${file} is not a valid SentencePiece model (${m})`);
  };
  const text = (r: Reader) => {
    const n = r.length();
    try {
      return utf8.decode(r.buf.subarray(r.pos, (r.pos += n)));
    } catch {
      return fail('a string field is not valid UTF-8');
    }
  };
  const root = new Reader(bytes, 0, bytes.length, fail);
  const pieces: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  let trainer: TrainerSpec | undefined;
  let normalizer: NormalizerSpec | undefined;
  let denormalizer: NormalizerSpec | undefined;

  const normalizerSpec = (r: Reader): NormalizerSpec => {
    let name = '';
    let charsmap: Uint8Array = new Uint8Array(0);
    let addDummyPrefix = true;
    let removeExtraWhitespaces = true;
    let escapeWhitespaces = true;
    r.each((num, wire) => {
      if (num === 1 && wire === 2) name = text(r);
      else if (num === 2 && wire === 2) { const n = r.length(); charsmap = bytes.subarray(r.pos, (r.pos += n)); }
      else if (num === 3 && wire === 0) addDummyPrefix = r.varint() !== 0;
      else if (num === 4 && wire === 0) removeExtraWhitespaces = r.varint() !== 0;
      else if (num === 5 && wire === 0) escapeWhitespaces = r.varint() !== 0;
      else return false;
      return true;
    });
    return { name, precompiledCharsmap: charsmap, addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces };
  };

  root.each((num, wire) => {
    if (wire !== 2) return false;
    const r = root.sub();
    if (num === 1) {
      let piece: string | undefined;
      let score = 0;
      let type: number = PieceType.Normal;
      r.each((n, w) => {
        if (n === 1 && w === 2) piece = text(r);
        else if (n === 2 && w === 5) score = r.float();
        else if (n === 3 && w === 0) type = r.varint();
        else return false;
        return true;
      });
      if (piece === undefined || piece === '') fail(`piece ${pieces.length} is empty`);
      if (type < 1 || type > 6) fail(`piece ${pieces.length} has unknown type ${type}`);
      pieces.push(piece!);
      scores.push(score);
      types.push(type);
    } else if (num === 2) {
      trainer = trainerSpec(r, text, fail);
    } else if (num === 3) {
      normalizer = normalizerSpec(r);
    } else if (num === 5) {
      denormalizer = normalizerSpec(r);
    }
    return true;
  });
  if (pieces.length === 0) fail('no pieces');
  return {
    pieces,
    scores: Float32Array.from(scores),
    types: Uint8Array.from(types),
    trainerSpec: trainer ?? trainerSpec(new Reader(bytes, 0, 0, fail), text, fail),
    // A missing normalizer_spec means all its proto2 defaults: no charsmap, dummy prefix, whitespace handling on.
    normalizerSpec: normalizer ?? normalizerSpec(new Reader(bytes, 0, 0, fail)),
    denormalizerSpec: denormalizer,
  };
}

function trainerSpec(r: Reader, text: (r: Reader) => string, fail: (m: string) => never): TrainerSpec {
  let modelType: SpmModelType = 'unigram';
  let treatWhitespaceAsSuffix = false;
  let allowWhitespaceOnlyPieces = false;
  let byteFallback = false;
  let unkPiece = '<unk>';
  let bosPiece = '<s>';
  let eosPiece = '</s>';
  let padPiece = '<pad>';
  let unkSurface = ' \u2047 ';
  r.each((num, wire) => {
    if (wire === 0) {
      const v = r.varint();
      if (num === 3) modelType = MODEL_TYPES[v] ?? fail(`unknown model_type ${v}`);
      else if (num === 24) treatWhitespaceAsSuffix = v !== 0;
      else if (num === 26) allowWhitespaceOnlyPieces = v !== 0;
      else if (num === 35) byteFallback = v !== 0;
      return true;
    }
    if (wire !== 2) return false;
    if (num === 44) unkSurface = text(r);
    // An empty *_piece string means the default, as ModelInterface::unk_piece() etc. read it.
    else if (num === 45) unkPiece = text(r) || unkPiece;
    else if (num === 46) bosPiece = text(r) || bosPiece;
    else if (num === 47) eosPiece = text(r) || eosPiece;
    else if (num === 48) padPiece = text(r) || padPiece;
    else return false;
    return true;
  });
  return { modelType, treatWhitespaceAsSuffix, allowWhitespaceOnlyPieces, byteFallback, unkPiece, bosPiece,
    eosPiece, padPiece, unkSurface };
}
