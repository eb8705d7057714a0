// Small safetensors editing for tests: split a file into header + data, rebuild one from tensors.
export interface RawTensor { dtype: string; shape: number[]; bytes: Uint8Array }

export function readRaw(file: Uint8Array): Map<string, RawTensor> {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  const data = file.subarray(8 + n);
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries<any>(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, bytes: data.subarray(t.data_offsets[0], t.data_offsets[1]) });
  }
  return out;
}

export function writeRaw(tensors: Map<string, RawTensor>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8); // keep tensor data 8-byte aligned
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors.values()) { out.set(t.bytes, p); p += t.bytes.length; }
  return out;
}

/** Re-encode every F32 tensor as F16 or BF16 (round to nearest even). */
export function toHalf(tensors: Map<string, RawTensor>, dtype: 'F16' | 'BF16'): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    const f = new Float32Array(t.bytes.slice().buffer);
    const h = new Uint16Array(f.length);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < f.length; i++) h[i] = dtype === 'BF16' ? bf16(u[i]) : f16(f[i]);
    out.set(name, { dtype, shape: t.shape, bytes: new Uint8Array(h.buffer) });
  }
  return out;
}

function bf16(bits: number): number {
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16(v: number): number {
  // via Math.fround-free exact path: good enough for normal-range weights used in tests
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e++; }
  return sign | ((e + 15) << 10) | m;
}
