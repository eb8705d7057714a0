// WGSL of the search fast paths: log-softmax, greedy argmax and the beam top-k over the vocabulary run where the
// logits are, so a decode step reads back ids (and B × k scores), not [rows, V] logits.
import { LOWEST_DEF, ROW_THREADS } from './shaders.js';

/** Largest k of the on-GPU beam top-k (candidates kept per thread, then merged). */
export const MAX_TOPK = 32;

/** Row-wise in-place log-softmax over [rows, n] at off (f32 throughout). */
export const LOG_SOFTMAX = /* wgsl */ `
struct P { rows: u32, n: u32, off: u32 }
${LOWEST_DEF}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
var<workgroup> red: array<f32, ${ROW_THREADS}>;

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = p.off + wg.x * p.n;
  var m = LOWEST;
  for (var i = t; i < p.n; i += ${ROW_THREADS}u) { m = max(m, x[r + i]); }
  red[t] = m;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = t; i < p.n; i += ${ROW_THREADS}u) { sum += exp(x[r + i] - m); }
  red[t] = sum;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let lse = m + log(red[0]);
  for (var i = t; i < p.n; i += ${ROW_THREADS}u) { x[r + i] = x[r + i] - lse; }
}
`;

/** Greedy's fast path: the index of each row's largest logit (the first one on ties, like torch.argmax; NaN
 *  never wins; an all -inf row gives 0). */
export const ARGMAX = /* wgsl */ `
struct P { rows: u32, n: u32, off: u32 }
${LOWEST_DEF}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
var<workgroup> bestV: array<f32, ${ROW_THREADS}>;
var<workgroup> bestI: array<u32, ${ROW_THREADS}>;

fn better(v: f32, i: u32, w: f32, j: u32) -> bool { return v > w || (v == w && i < j); }

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = p.off + wg.x * p.n;
  var bv = LOWEST;
  var bi = 0xffffffffu;
  for (var i = t; i < p.n; i += ${ROW_THREADS}u) {
    let v = x[r + i];
    if (v > bv || (v == bv && bi == 0xffffffffu)) { bv = v; bi = i; }
  }
  bestV[t] = bv;
  bestI[t] = bi;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s >>= 1u) {
    if (t < s && better(bestV[t + s], bestI[t + s], bestV[t], bestI[t])) { bestV[t] = bestV[t + s]; bestI[t] = bestI[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) { out[wg.x] = select(bestI[0], 0u, bestI[0] == 0xffffffffu); }
}
`;

/** Non-finite detection, stage 1: out[outOff] = 0xffffffff (no row found yet). */
export const NONFINITE_INIT = /* wgsl */ `
struct P { outOff: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(1)
fn main() { out[p.outOff] = 0xffffffffu; }
`;

/** Stage 2: one workgroup per row; a row holding a NaN or +Inf, or only -Inf, lowers out[outOff] to its index.
 *  Bit tests (exponent bits all ones), since WGSL may assume floats are finite. */
export const NONFINITE = /* wgsl */ `
struct P { rows: u32, n: u32, off: u32, outOff: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<atomic<u32>>;
var<workgroup> seen: atomic<u32>; // bit 0: a NaN or +Inf; bit 1: a value other than -Inf

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = p.off + wg.x * p.n;
  var s = 0u;
  for (var i = t; i < p.n; i += ${ROW_THREADS}u) {
    let b = x[r + i];
    if (b != 0xff800000u) {
      s = s | 2u;
      if ((b & 0x7f800000u) == 0x7f800000u) { s = s | 1u; }
    }
  }
  if (s != 0u) { atomicOr(&seen, s); }
  workgroupBarrier();
  if (t == 0u) {
    let v = atomicLoad(&seen);
    if ((v & 1u) != 0u || (v & 2u) == 0u) { atomicMin(&out[p.outOff], wg.x); }
  }
}
`;

/** Beam search's fast path, stage 1: over log-probs [B·beams, V], candidate c = j·V + v of sentence b scores
 *  f32(logp[b·beams + j, v] + beamScore[b·beams + j]) (torch's float32 add). Each thread keeps the k best of
 *  its `span` candidates, sorted, ties to the lower index. Stage 2 (TOPK_MERGE) merges them per sentence. */
export const TOPK_PARTIAL = /* wgsl */ `
struct P { beams: u32, v: u32, k: u32, span: u32, threads: u32 }
${LOWEST_DEF}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logp: array<f32>;
@group(0) @binding(2) var<storage, read> beamScore: array<f32>;
@group(0) @binding(3) var<storage, read_write> partScore: array<f32>; // [B, threads, k]
@group(0) @binding(4) var<storage, read_write> partIndex: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let t = gid.x;
  let b = wg.z;
  if (t >= p.threads) { return; }
  var s: array<f32, ${MAX_TOPK}>;
  var ix: array<u32, ${MAX_TOPK}>;
  for (var i = 0u; i < p.k; i++) { s[i] = LOWEST; ix[i] = 0xffffffffu; }
  let total = p.beams * p.v;
  let end = min(total, (t + 1u) * p.span);
  for (var c = t * p.span; c < end; c++) {
    let row = b * p.beams + c / p.v;
    let score = logp[row * p.v + (c % p.v)] + beamScore[row];
    // candidates arrive in increasing index order, so an equal score ranks below those already kept
    if (!(score > s[p.k - 1u]) && ix[p.k - 1u] != 0xffffffffu) { continue; }
    var pos = p.k - 1u;
    while (pos > 0u && (score > s[pos - 1u] || ix[pos - 1u] == 0xffffffffu)) {
      s[pos] = s[pos - 1u]; ix[pos] = ix[pos - 1u]; pos--;
    }
    s[pos] = score; ix[pos] = c;
  }
  let o = (b * p.threads + t) * p.k;
  for (var i = 0u; i < p.k; i++) { partScore[o + i] = s[i]; partIndex[o + i] = ix[i]; }
}
`;

/** Stage 2: one thread per sentence merges the per-thread lists into its k best (score desc, index asc). */
export const TOPK_MERGE = /* wgsl */ `
struct P { beams: u32, v: u32, k: u32, span: u32, threads: u32 }
${LOWEST_DEF}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> partScore: array<f32>;
@group(0) @binding(2) var<storage, read> partIndex: array<u32>;
@group(0) @binding(3) var<storage, read_write> outScore: array<f32>; // [B, k]
@group(0) @binding(4) var<storage, read_write> outIndex: array<u32>;

fn better(v: f32, i: u32, w: f32, j: u32) -> bool {
  if (i == 0xffffffffu) { return false; }
  if (j == 0xffffffffu) { return true; }
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wg: vec3<u32>) {
  let b = wg.x;
  var s: array<f32, ${MAX_TOPK}>;
  var ix: array<u32, ${MAX_TOPK}>;
  for (var i = 0u; i < p.k; i++) { s[i] = LOWEST; ix[i] = 0xffffffffu; }
  let n = p.threads * p.k;
  for (var e = 0u; e < n; e++) {
    let score = partScore[b * n + e];
    let c = partIndex[b * n + e];
    if (!better(score, c, s[p.k - 1u], ix[p.k - 1u])) { continue; }
    var pos = p.k - 1u;
    while (pos > 0u && better(score, c, s[pos - 1u], ix[pos - 1u])) {
      s[pos] = s[pos - 1u]; ix[pos] = ix[pos - 1u]; pos--;
    }
    s[pos] = score; ix[pos] = c;
  }
  for (var i = 0u; i < p.k; i++) { outScore[b * p.k + i] = s[i]; outIndex[b * p.k + i] = ix[i]; }
}
`;
