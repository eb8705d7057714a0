// Half-precision floats, both ways, in one place: widening F16/BF16 tensors at load, and narrowing f32 to f16
// (WebGPU f16 weights) or to f16/bf16 (writing test files and converted models). Narrowing rounds to nearest even,
// as numpy's astype(float16) and torch's .half() / .bfloat16() do.

let f16Table: Float32Array | undefined;

/** IEEE binary16 → float32 for all 65536 patterns, built once on first use (256 KB) so conversion is a lookup. */
function f16Lookup(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN (payload kept)
    else if (exp !== 0) bits[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 → 127
    else bits[h] = (sign | 0) >>> 0; // ±0 here; subnormals below
    if (exp === 0 && mant !== 0) table[h] = (sign ? -mant : mant) * 2 ** -24; // exact in float32
  }
  f16Table = table;
  return table;
}

export function f16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = f16Lookup();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** bfloat16 is the top half of a float32, so widening is a shift (exact, NaN payloads kept). */
export function bf16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

const f32Scratch = new Float32Array(1);
const bitsScratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of x, rounded to nearest even (subnormals kept, too large → ±inf, NaN stays NaN). */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = bitsScratch[0], sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) { // subnormal half: h · 2^-24
    if (e < -10) return sign;
    m |= 0x800000;
    const shift = 14 - e, half = 1 << (shift - 1), rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // a carry into the exponent is the right rounding
  return sign | h;
}

/** bfloat16 bits of x: the top half of its float32 bits, rounded to nearest even (NaN kept quiet). */
export function f32ToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = bitsScratch[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** An f32 array narrowed to f16 bits. */
export function toF16(a: Float32Array): Uint16Array {
  const h = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) h[i] = f32ToF16Bits(a[i]);
  return h;
}
