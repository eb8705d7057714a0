// WGSL compute shaders of the WebGPU backend: the same operations as the wasm kernels (assembly/), with f32
// accumulation everywhere (no f16 anywhere on this path, so LayerNorm cannot produce fp16 NaNs).
//
// Buffers are bound whole and addressed with float offsets passed in the uniform parameters: WebGPU only allows
// binding offsets in multiples of 256 bytes, while our views (one row of a KV cache, the V half of a fused K|V
// projection) start anywhere.
//
// Linear weights keep the wasm layout of pack_f32_n8 (assembly/gemm.ts), so they are copied to the GPU as they
// are: W [n, k] + bias [n] as 8-column panels, panel p = columns 8p..8p+7 at float (k+1)·8·p:
//   [bias c0..c7] [W(c0..c7, k=0)] [W(c0..c7, k=1)] ...  (columns past n are zero)
// A vocabulary projection larger than maxStorageBufferBindingSize is split into chunks of whole panels, each its
// own buffer; `colBase` says where a chunk's columns land in the output row.

/** Threads per workgroup for the row-wise kernels (norms, attention, softmax, GEMV). */
export const ROW_THREADS = 64;
/** Longest key sequence the attention kernel holds in workgroup memory (4 KB of scores). */
export const MAX_ATTENTION_KEYS = 1024;

/** A workgroup tree sum over `red` (array<f32, ROW_THREADS>), shared by the row kernels (norms, attention). */
const wgslReduceSum = (name: string) => /* wgsl */ `fn ${name}(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;
/** Edge of the GEMM's square output tile (8×8 threads of 4×4 outputs each), and its step along k. */
export const TILE = 32;
const KT = 8;

/** How linear weights are stored on the GPU: f32, or f16 (`shader-f16`; products and sums stay f32). */
export type WeightType = 'f32' | 'f16';
const enableF16 = (wt: WeightType) => (wt === 'f16' ? 'enable f16;' : '');

// The lowest finite f32: masked attention scores, empty top-k slots (a literal would be rounded out of f32 range).
export const LOWEST_DEF = 'const LOWEST: f32 = -0x1.fffffep+127f;';

// Elementwise ops and flat indexing over a 2-D dispatch (a 1-D dispatch is capped at 65535 workgroups).
export const FLAT_INDEX = /* wgsl */ `
fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }
`;

/** y[m, colBase..colBase+n) (+)= x[m, k] · Wᵀ + b. A workgroup computes a TILE×TILE output tile with 8×8 threads,
 *  each a 4×4 block in registers; per step of KT along k the workgroup stages TILE×KT of x and KT×TILE of W in
 *  shared memory (16 multiply-adds per shared load, 2 barriers per KT). */
export const GEMM_TILED = (wt: WeightType) => /* wgsl */ `${enableF16(wt)}
struct P { m: u32, k: u32, n: u32, ldx: u32, ldy: u32, xOff: u32, yOff: u32, accumulate: u32, colBase: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${wt}>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
fn wr(i: u32) -> f32 { return f32(w[i]); }
var<workgroup> xs: array<array<f32, ${KT}>, ${TILE}>; // [row][kk]
var<workgroup> ws: array<array<f32, ${TILE}>, ${KT}>; // [kk][col]

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row0 = wg.y * ${TILE}u;
  let col0 = wg.x * ${TILE}u;
  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }
  for (var k0 = 0u; k0 < p.k; k0 += ${KT}u) {
    // 64 threads stage TILE×KT = 256 values of x and of W: 4 each
    for (var e = t; e < ${TILE * KT}u; e += 64u) {
      let r = e / ${KT}u;
      let kk = e % ${KT}u;
      let row = row0 + r;
      xs[r][kk] = select(0.0, x[p.xOff + row * p.ldx + k0 + kk], row < p.m && k0 + kk < p.k);
      let c = e % ${TILE}u;
      let kw = e / ${TILE}u;
      let col = col0 + c;
      ws[kw][c] = select(0.0, wr((col / 8u) * (p.k + 1u) * 8u + 8u + (k0 + kw) * 8u + (col % 8u)), col < p.n && k0 + kw < p.k);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${KT}u; kk++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = xs[l.y * 4u + i][kk]; b[i] = ws[kk][l.x * 4u + i]; }
      for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] += a[i] * b[j]; } }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + l.y * 4u + i;
    if (row >= p.m) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + l.x * 4u + j;
      if (col >= p.n) { continue; }
      let o = p.yOff + row * p.ldy + p.colBase + col;
      var prev = 0.0;
      if (p.accumulate != 0u) { prev = y[o]; }
      y[o] = prev + (acc[i][j] + wr((col / 8u) * (p.k + 1u) * 8u + (col % 8u)));
    }
  }
}
`;

/** Decode steps (rows ≤ GEMV_ROWS): one thread per output column, all rows at once, so each weight is read once
 *  per step whatever the number of rows; no barriers. Threads of a panel read 8 consecutive floats per k
 *  (coalesced), and x values are the same address across threads (broadcast). */
export const GEMV_ROWS = 8;
export const GEMV = (wt: WeightType) => /* wgsl */ `${enableF16(wt)}
struct P { m: u32, k: u32, n: u32, ldx: u32, ldy: u32, xOff: u32, yOff: u32, accumulate: u32, colBase: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<${wt}>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
fn wr(i: u32) -> f32 { return f32(w[i]); }
${FLAT_INDEX}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let col = flat(gid, nwg);
  if (col >= p.n) { return; }
  let panel = (col / 8u) * (p.k + 1u) * 8u;
  let c = col % 8u;
  var acc: array<f32, ${8}>;
  for (var r = 0u; r < ${8}u; r++) { acc[r] = 0.0; }
  for (var kk = 0u; kk < p.k; kk++) {
    let wv = wr(panel + 8u + kk * 8u + c);
    for (var r = 0u; r < p.m; r++) { acc[r] += x[p.xOff + r * p.ldx + kk] * wv; }
  }
  let b = wr(panel + c);
  for (var r = 0u; r < p.m; r++) {
    let o = p.yOff + r * p.ldy + p.colBase + col;
    var prev = 0.0;
    if (p.accumulate != 0u) { prev = y[o]; }
    y[o] = prev + (acc[r] + b);
  }
}
`;

/** LayerNorm (gamma, beta) or RMSNorm (T5: x·rsqrt(mean(x²)+eps)·w), one workgroup per row; `gb` holds
 *  [gamma | beta] (beta zeros for RMS). In place when `inPlace` (WebGPU forbids binding one buffer twice
 *  when one binding is writable). */
export function normShader(inPlace: boolean): string {
  const src = inPlace ? 'y' : 'x';
  return /* wgsl */ `
struct P { rows: u32, dim: u32, xOff: u32, yOff: u32, eps: f32, rms: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> gb: array<f32>;
${inPlace ? '' : '@group(0) @binding(3) var<storage, read> x: array<f32>;'}
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, ${ROW_THREADS}>;

${wgslReduceSum('reduce')}

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let xr = p.xOff + wg.x * p.dim;
  let yr = p.yOff + wg.x * p.dim;
  let n = f32(p.dim);
  var mean = 0.0;
  if (p.rms == 0u) {
    var s = 0.0;
    for (var i = t; i < p.dim; i += ${ROW_THREADS}u) { s += ${src}[xr + i]; }
    mean = reduce(t, s) / n;
  }
  var q = 0.0; // squared deviations from the mean: two passes, so a large common offset keeps its precision
  for (var i = t; i < p.dim; i += ${ROW_THREADS}u) { let d = ${src}[xr + i] - mean; q += d * d; }
  let inv = inverseSqrt(reduce(t, q) / n + p.eps);
  for (var i = t; i < p.dim; i += ${ROW_THREADS}u) {
    y[yr + i] = (${src}[xr + i] - mean) * inv * gb[i] + gb[p.dim + i];
  }
}
`;
}

/** In-place elementwise ops over n floats at off: op 0..13 an activation, numbered as ACTIVATION_KIND
 *  (../activations.ts); OP_SCALE multiplies by scale. With `gated`, x[off + i] = op(x[off + i]) · x[gateOff + i]
 *  (gated feed-forward blocks: wi_0 and wi_1 halves). The formulas are the wasm kernels' (assembly/activations.ts),
 *  with exp's argument clamped (exp overflow is undefined in WGSL) and erfc by A&S 7.1.26. */
export const OP_SCALE = 100;
export const ELEMENTWISE = /* wgsl */ `
struct P { n: u32, off: u32, op: u32, scale: f32, gated: u32, gateOff: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
${FLAT_INDEX}
// x·sigmoid(z) with exp's argument clamped (exp overflow is undefined in WGSL)
fn mulSigmoid(x: f32, z: f32) -> f32 { return x / (1.0 + exp(clamp(-z, -80.0, 80.0))); }
// erfc(z) for z >= 0, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7 · e^-z²): keeps relative precision in the tail
fn erfcPos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return poly * exp(-min(z * z, 80.0));
}
fn erfc(z: f32) -> f32 { if (z >= 0.0) { return erfcPos(z); } return 2.0 - erfcPos(-z); }
fn gelu(v: f32) -> f32 { return 0.5 * v * erfc(-v * 0.7071067811865476); }
fn geluTanh(v: f32) -> f32 {
  let u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return mulSigmoid(v, 2.0 * u);
}
// tanh without cancellation near 0 (the builtin's accuracy is that of sinh/cosh, and may overflow): Cephes tanhf,
// an odd polynomial below |v| 0.625, 1 − 2/(e^{2|v|} + 1) above (e^80: 1 − 2/(e^80 + 1) is 1 in f32).
fn tanhP(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.625) {
    let z = v * v;
    let q = (((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z - 3.33332819422e-1;
    return v + v * z * q;
  }
  let e = exp(min(a + a, 80.0));
  return sign(v) * (1.0 - 2.0 / (e + 1.0));
}
// mish = v·tanh(softplus(v)) = v·n/(n + 2), n = e^v(e^v + 2): no cancellation at either end; n/(n + 2) is 1 in f32
// above v = 20, and below v = -80 the result (|v|·2e^v) is under 1e-30: 0.
fn mish(v: f32) -> f32 {
  let e = exp(min(v, 20.0));
  let n = e * (e + 2.0);
  return select(v * n / (n + 2.0), 0.0 * v, v < -80.0);
}
fn op(v: f32) -> f32 {
  switch p.op {
    case 0u: { return max(v, 0.0); }
    case 1u: { return gelu(v); }
    case 2u: { return geluTanh(v); }
    case 3u: { return mulSigmoid(v, v); }
    case 4u: { return clamp(gelu(v), -10.0, 10.0); } // gelu_10
    case 5u: { return 0.5 * erfc((0.707107 - v) * 2.506626424383798); } // laplace: 0.5(1 + erf((v − μ)/(σ√2)))
    case 6u: { return select(0.01 * v, v, v > 0.0); } // leaky_relu
    case 7u: { return v; } // linear
    case 8u: { return mish(v); }
    case 9u: { return mulSigmoid(v, 1.702 * v); } // quick_gelu
    case 10u: { let r = max(v, 0.0); return r * r; } // relu2
    case 11u: { return clamp(v, 0.0, 6.0); } // relu6
    case 12u: { return mulSigmoid(1.0, v); } // sigmoid
    case 13u: { return tanhP(v); }
    default: { return v * p.scale; }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.n) { return; }
  let o = p.off + i;
  var y = op(x[o]);
  if (p.gated != 0u) { y *= x[p.gateOff + i]; }
  x[o] = y;
}
`;

/** Strided row copy: dst[r·dstStride + dstOff + j] = src[r·srcStride + srcOff + j] for j < width. Appends each
 *  row's new K|V to its KV-cache row in one dispatch (a buffer copy per row would end the compute pass each time). */
export const COPY_ROWS = /* wgsl */ `
struct P { rows: u32, width: u32, srcOff: u32, srcStride: u32, dstOff: u32, dstStride: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${FLAT_INDEX}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= p.rows * p.width) { return; }
  let r = e / p.width;
  let j = e % p.width;
  dst[p.dstOff + r * p.dstStride + j] = src[p.srcOff + r * p.srcStride + j];
}
`;

/** out[i, :] (+)= scale · E[ids[i], :] for ids in [colBase, colBase + cols): a plain [V, d] table, or rows of a
 *  packed (tied) lm_head chunk. Also adds position rows (scale 1, accumulate). */
export const EMBED = (wt: WeightType) => /* wgsl */ `${enableF16(wt)}
struct P { n: u32, d: u32, outOff: u32, idsOff: u32, scale: f32, accumulate: u32, packed: u32, colBase: u32, cols: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> table: array<${wt}>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${FLAT_INDEX}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat(gid, nwg);
  if (e >= p.n * p.d) { return; }
  let i = e / p.d;
  let j = e % p.d;
  let id = ids[p.idsOff + i];
  if (id < p.colBase || id >= p.colBase + p.cols) { return; }
  let c = id - p.colBase;
  var v = 0.0;
  if (p.packed != 0u) { v = f32(table[(c / 8u) * (p.d + 1u) * 8u + 8u + j * 8u + (c % 8u)]); }
  else { v = f32(table[c * p.d + j]); }
  let o = p.outOff + i * p.d + j;
  var prev = 0.0;
  if (p.accumulate != 0u) { prev = out[o]; }
  out[o] = prev + v * p.scale;
}
`;

/** Scaled dot-product attention for one (query i, head h, group g) per workgroup, over tk keys with an optional
 *  key padding mask (u32 per key, 0 = padding), causal limit and additive bias [H, tq, tk] (T5). Rows of q/k/v/out
 *  are addressed by float offsets and strides, so one kernel serves the encoder (q|k|v fused rows), decoder
 *  self-attention (a row of the KV cache) and cross-attention (group g reads K|V of sentence g / kvDiv).
 *  Masked keys score f32-lowest like the wasm kernel, so a fully masked row is uniform, never NaN. */
export const ATTENTION = /* wgsl */ `
struct P {
  tq: u32, tk: u32, hd: u32, kvDiv: u32,
  qOff: u32, qStride: u32, qGroup: u32, scale: f32,
  kOff: u32, vOff: u32, kvStride: u32, kvGroup: u32,
  outOff: u32, outStride: u32, outGroup: u32, causal: i32,
  maskOff: u32, maskGroup: u32, hasMask: u32, biasOff: u32,
  hasBias: u32,
}
${LOWEST_DEF}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kv: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
var<workgroup> score: array<f32, ${MAX_ATTENTION_KEYS}>;
var<workgroup> red: array<f32, ${ROW_THREADS}>;

fn reduceMax(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_THREADS / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
${wgslReduceSum('reduceSum')}

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = wg.x;
  let h = wg.y;
  let g = wg.z;
  let gkv = g / p.kvDiv;
  let qi = p.qOff + g * p.qGroup + i * p.qStride + h * p.hd;
  let kvRow = gkv * p.kvGroup + h * p.hd;
  var localMax = LOWEST;
  for (var j = t; j < p.tk; j += ${ROW_THREADS}u) {
    var visible = p.causal < 0 || i32(j) <= p.causal + i32(i);
    if (p.hasMask != 0u && mask[p.maskOff + gkv * p.maskGroup + j] == 0u) { visible = false; }
    var s = LOWEST;
    if (visible) {
      let kj = p.kOff + kvRow + j * p.kvStride;
      var dot = 0.0;
      for (var d = 0u; d < p.hd; d++) { dot += q[qi + d] * kv[kj + d]; }
      s = dot * p.scale;
      if (p.hasBias != 0u) { s += bias[p.biasOff + (h * p.tq + i) * p.tk + j]; }
    }
    score[j] = s;
    localMax = max(localMax, s);
  }
  let m = reduceMax(t, localMax);
  var localSum = 0.0;
  for (var j = t; j < p.tk; j += ${ROW_THREADS}u) {
    let e = exp(score[j] - m);
    score[j] = e;
    localSum += e;
  }
  let inv = 1.0 / reduceSum(t, localSum);
  let oi = p.outOff + g * p.outGroup + i * p.outStride + h * p.hd;
  for (var d = t; d < p.hd; d += ${ROW_THREADS}u) {
    var acc = 0.0;
    for (var j = 0u; j < p.tk; j++) { acc += score[j] * kv[p.vOff + kvRow + j * p.kvStride + d]; }
    out[oi + d] = acc * inv;
  }
}
`;
