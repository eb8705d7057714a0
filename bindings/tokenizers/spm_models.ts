// The four SentencePiece segmentation algorithms, each a port of its C++ `Model::Encode` (sentencepiece 0.1.9x/0.2):
// unigram (unigram_model.cc EncodeOptimized: Viterbi over all vocabulary pieces), BPE (bpe_model.cc: repeatedly
// merge the adjacent pair whose merged piece has the highest score), char and word. They take normalized text and
// return [piece, id] pairs; unknown-piece merging and byte fallback happen afterwards in sentencepiece.ts.
//
// Positions are UTF-16 indices where the C++ uses UTF-8 byte offsets; both step one code point at a time and
// visit candidates in the same order, so ties resolve identically.

import { PieceType, type ModelProto } from './protobuf.js';
import type { PrefixMatcher } from './normalizer.js';

export type EncodeResult = Array<[piece: string, id: number]>;

/** What the encoders need from a loaded model. */
export interface SpmVocab {
  readonly proto: ModelProto;
  /** pieces_ of ModelInterface: NORMAL, USER_DEFINED and UNUSED pieces (the ones text can be segmented into). */
  readonly pieceIds: ReadonlyMap<string, number>;
  /** Longest entry of pieceIds in code points (bounds the unigram lattice). */
  readonly maxPieceChars: number;
  readonly unkId: number;
  readonly userDefined: PrefixMatcher;
  /** min/max score over NORMAL pieces (unigram: the <unk> penalty and the user-defined symbol bonus). */
  readonly scoreRange: { readonly minScore: number; readonly maxScore: number };
  pieceToId(piece: string): number;
}

/** Model::Model: max starts at FLT_MIN (the smallest positive float), not at -FLT_MAX. */
export function scoreRange(proto: ModelProto): { minScore: number; maxScore: number } {
  let minScore = 3.4028234663852886e38;
  let maxScore = 1.1754943508222875e-38;
  for (let i = 0; i < proto.scores.length; i++) {
    if (proto.types[i] !== PieceType.Normal) continue;
    minScore = Math.min(minScore, proto.scores[i]!);
    maxScore = Math.max(maxScore, proto.scores[i]!);
  }
  return { minScore, maxScore };
}

const fround = Math.fround;
const utf8Length = (s: string) => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
  }
  return n;
};
const charLen = (s: string, i: number) => {
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c < 0xdc00 && i + 1 < s.length ? 2 : 1;
};

export function encodeUnigram(v: SpmVocab, normalized: string): EncodeResult {
  const n = normalized.length;
  if (n === 0) return [];
  const { scores, types } = v.proto;
  const { minScore, maxScore } = v.scoreRange;
  const unkScore = fround(minScore - 10); // kUnkPenalty

  // best path ending at each position: float32 score, start, piece id
  const best = new Float64Array(n + 1);
  const startsAt = new Int32Array(n + 1).fill(-1);
  const ids = new Int32Array(n + 1);
  for (let s = 0; s < n;) {
    const till = best[s]!;
    const mblen = charLen(normalized, s);
    let hasSingle = false;
    let e = s;
    for (let k = 0; k < v.maxPieceChars && e < n; k++) {
      e += charLen(normalized, e);
      const id = v.pieceIds.get(normalized.slice(s, e));
      if (id === undefined || types[id] === PieceType.Unused) continue;
      // The C++ computes this in double (a float ?: double expression) and stores the sum back as float.
      const score = types[id] === PieceType.UserDefined
        ? fround(utf8Length(normalized.slice(s, e)) * maxScore) - 0.1
        : scores[id]!;
      const candidate = score + till;
      if (startsAt[e] === -1 || candidate > best[e]!) {
        best[e] = fround(candidate);
        startsAt[e] = s;
        ids[e] = id;
      }
      if (e - s === mblen) hasSingle = true;
    }
    if (!hasSingle) {
      // No piece covers this character: an <unk> node (float arithmetic here, both operands are float).
      const candidate = fround(unkScore + till);
      const e1 = s + mblen;
      if (startsAt[e1] === -1 || candidate > best[e1]!) {
        best[e1] = candidate;
        startsAt[e1] = s;
        ids[e1] = v.unkId;
      }
    }
    s += mblen;
  }
  const out: EncodeResult = [];
  for (let e = n; e > 0; e = startsAt[e]!) out.push([normalized.slice(startsAt[e]!, e), ids[e]!]);
  return out.reverse();
}

interface Pair { left: number; right: number; score: number; size: number }

/** Max-heap on (score desc, left asc): SymbolPairComparator of bpe_model.cc. */
class Agenda {
  private readonly heap: Pair[] = [];
  get size(): number {
    return this.heap.length;
  }
  private static before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(p: Pair): void {
    const h = this.heap;
    h.push(p);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!Agenda.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }
  pop(): Pair {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && Agenda.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && Agenda.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

export function encodeBpe(v: SpmVocab, normalized: string): EncodeResult {
  const { scores, types } = v.proto;
  const pieces: string[] = [];
  const prev: number[] = [];
  const next: number[] = [];
  const frozen: boolean[] = [];
  // Split into characters; a user-defined symbol is one symbol that never merges.
  for (let i = 0; i < normalized.length;) {
    const ud = v.userDefined.matchString(normalized, i);
    const len = ud || charLen(normalized, i);
    const idx = pieces.length;
    pieces.push(normalized.slice(i, i + len));
    frozen.push(ud > 0);
    prev.push(idx - 1);
    i += len;
    next.push(i < normalized.length ? idx + 1 : -1);
  }
  if (pieces.length === 0) return [];

  const agenda = new Agenda();
  const revMerge = new Map<string, [string, string]>();
  const maybeAdd = (left: number, right: number) => {
    if (left === -1 || right === -1 || frozen[left] || frozen[right]) return;
    const merged = pieces[left]! + pieces[right]!;
    const id = v.pieceIds.get(merged);
    if (id === undefined) return;
    agenda.push({ left, right, score: scores[id]!, size: merged.length });
    // Merges into UNUSED pieces are allowed but undone afterwards (resegment), so remember their halves.
    if (types[id] === PieceType.Unused) revMerge.set(merged, [pieces[left]!, pieces[right]!]);
  };
  for (let i = 1; i < pieces.length; i++) maybeAdd(i - 1, i);

  while (agenda.size > 0) {
    const top = agenda.pop();
    const l = pieces[top.left]!;
    const r = pieces[top.right]!;
    // A stale pair: one side was merged away or grew since the pair was queued.
    if (l === '' || r === '' || l.length + r.length !== top.size) continue;
    pieces[top.left] = l + r;
    next[top.left] = next[top.right]!;
    if (next[top.right]! >= 0) prev[next[top.right]!] = top.left;
    pieces[top.right] = '';
    maybeAdd(prev[top.left]!, top.left);
    maybeAdd(top.left, next[top.left]!);
  }

  const out: EncodeResult = [];
  const resegment = (w: string) => {
    const id = v.pieceToId(w);
    const halves = types[id] === PieceType.Unused ? revMerge.get(w) : undefined;
    if (!halves) {
      out.push([w, id]);
      return;
    }
    resegment(halves[0]);
    resegment(halves[1]);
  };
  for (let i = 0; i !== -1; i = next[i]!) resegment(pieces[i]!);
  return out;
}

export function encodeChar(v: SpmVocab, normalized: string): EncodeResult {
  const out: EncodeResult = [];
  for (let i = 0; i < normalized.length;) {
    const len = v.userDefined.matchString(normalized, i) || charLen(normalized, i);
    const w = normalized.slice(i, i + len);
    out.push([w, v.pieceToId(w)]);
    i += len;
  }
  return out;
}

/** SplitIntoWords (model_interface.cc): a word starts at each U+2581 (or ends after it, with ws-as-suffix). */
export function splitIntoWords(text: string, treatWsAsSuffix: boolean, allowWsOnlyPieces: boolean): string[] {
  const words: string[] = [];
  let inWs = false;
  if (treatWsAsSuffix) {
    if (text.length > 0) words.push('');
    for (let i = 0; i < text.length;) {
      const len = charLen(text, i);
      const isWs = text[i] === '\u2581';
      if (isWs) inWs = true;
      else if (inWs) {
        if (allowWsOnlyPieces) words.push('');
        inWs = false;
      }
      words[words.length - 1] += text.slice(i, i + len);
      i += len;
      if (i < text.length && isWs && !allowWsOnlyPieces) words.push('');
    }
    return words;
  }
  for (let i = 0; i < text.length;) {
    const len = charLen(text, i);
    const isWs = text[i] === '\u2581';
    if (i === 0 || (isWs && (!inWs || !allowWsOnlyPieces))) {
      words.push('');
      inWs = true;
    }
    if (inWs && !isWs) inWs = false;
    words[words.length - 1] += text.slice(i, i + len);
    i += len;
  }
  return words;
}

export function encodeWord(v: SpmVocab, normalized: string): EncodeResult {
  const { treatWhitespaceAsSuffix, allowWhitespaceOnlyPieces } = v.proto.trainerSpec;
  return splitIntoWords(normalized, treatWhitespaceAsSuffix, allowWhitespaceOnlyPieces).map((w) => [w, v.pieceToId(w)]);
}
