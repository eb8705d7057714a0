import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WeightsError } from '../../bindings/errors.js';
import { mergeShards, SafeTensors } from '../../bindings/weights/safetensors.js';

// ---- helpers: take a file apart and put it back together, so malformed files derive from a valid one ----

type Header = Record<string, any>;
const fixture = (model: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/${model}/model.safetensors`, import.meta.url)));

function split(bytes: Uint8Array): { header: Header; data: Uint8Array; n: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n), n };
}

function assemble(header: Header | string, data: Uint8Array): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // writers pad to 8 so F32 data stays aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

/** Rewrites the header of a valid file, keeping its data buffer. */
function withHeader(bytes: Uint8Array, edit: (h: Header) => void): Uint8Array {
  const { header, data } = split(bytes);
  edit(header);
  return assemble(header, data);
}

function build(tensors: [string, string, number[], Uint8Array][], extra: Header = {}): Uint8Array {
  const header: Header = { ...extra };
  let offset = 0;
  for (const [name, dtype, shape, bytes] of tensors) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const [, , , bytes] of tensors) {
    data.set(bytes, offset);
    offset += bytes.length;
  }
  return assemble(header, data);
}

const u16le = (vals: number[]) => {
  const b = new Uint8Array(vals.length * 2);
  vals.forEach((v, i) => new DataView(b.buffer).setUint16(i * 2, v, true));
  return b;
};
const f32le = (vals: number[]) => {
  const b = new Uint8Array(vals.length * 4);
  vals.forEach((v, i) => new DataView(b.buffer).setFloat32(i * 4, v, true));
  return b;
};

function expectWeightsError(f: () => unknown, pattern: RegExp) {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WeightsError);
  expect((caught as Error).message).toMatch(pattern);
}

// ---- valid files ----

describe('SafeTensors.parse on a real transformers file', () => {
  const bytes = fixture('marian_tiny');
  const st = SafeTensors.parse(bytes);
  const golden = JSON.parse(readFileSync(new URL('../fixtures/marian_tiny/golden.json', import.meta.url), 'utf8')
    .replace(/-Infinity/g, '-1e999'));

  it('lists exactly the tensors transformers saved, with metadata', () => {
    expect([...st.names].sort()).toEqual([...golden.weights.keys].sort());
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.info('model.decoder.layers.1.fc1.weight')).toEqual({ dtype: 'F32', shape: [128, 64], byteLength: 128 * 64 * 4 });
    expect(st.has('lm_head.weight')).toBe(false);
  });

  it('returns F32 data as a zero-copy view with the values at the header offsets', () => {
    const { header, n } = split(bytes);
    const name = 'model.encoder.layers.0.fc1.weight';
    const [begin] = header[name].data_offsets;
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const a = st.f32(name);
    expect(a.buffer).toBe(bytes.buffer);
    expect(a.length).toBe(128 * 64);
    for (const i of [0, 1, 777, a.length - 1]) expect(a[i]).toBe(dv.getFloat32(8 + n + begin + i * 4, true));
  });

  it('copies F32 data that is not 4-byte aligned, with the same values', () => {
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const st2 = SafeTensors.parse(shifted.subarray(1));
    const a = st2.f32('model.shared.weight');
    expect(a.buffer).not.toBe(shifted.buffer);
    expect(Array.from(a)).toEqual(Array.from(st.f32('model.shared.weight')));
  });

  it('accepts an ArrayBuffer as well as a Uint8Array', () => {
    const st2 = SafeTensors.parse(bytes.slice().buffer);
    expect(st2.names.length).toBe(st.names.length);
  });

  it('accepts empty and scalar tensors, an empty header, and recognises non-float dtypes', () => {
    const f = SafeTensors.parse(build([
      ['empty', 'F32', [0, 3], new Uint8Array(0)],
      ['scalar', 'F32', [], f32le([2.5])],
      ['ids', 'I64', [2], new Uint8Array(16)],
    ]));
    expect(f.f32('empty').length).toBe(0);
    expect(Array.from(f.f32('scalar'))).toEqual([2.5]);
    expect(f.info('ids')).toEqual({ dtype: 'I64', shape: [2], byteLength: 16 });
    expectWeightsError(() => f.f32('ids'), /"ids" has dtype I64.*supported: F32, F16, BF16/);
    expect(SafeTensors.parse(assemble({}, new Uint8Array(0))).names).toEqual([]);
  });

  it('names the tensor when asked for one that does not exist', () => {
    expectWeightsError(() => st.f32('nope.weight'), /no tensor named "nope.weight"/);
    expectWeightsError(() => st.info('nope.weight'), /no tensor named "nope.weight"/);
  });
});

// ---- conversions, checked against values computed independently of the implementation ----

/** IEEE 754 binary16 by its definition (sign, biased exponent, fraction), not by bit shuffling. */
function halfByDefinition(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * (m / 1024) * Math.pow(2, -14);
  return sign * (1 + m / 1024) * Math.pow(2, e - 15);
}

describe('F16 → F32', () => {
  it('converts landmark values: normals, subnormals, limits, ±0, ±inf, NaN', () => {
    const cases: [number, number][] = [
      [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504], [0x0400, 2 ** -14],
      [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24], [0x8001, -(2 ** -24)], [0x7c00, Infinity],
      [0xfc00, -Infinity], [0x0000, 0], [0x8000, -0],
    ];
    const st = SafeTensors.parse(build([['h', 'F16', [cases.length + 2], u16le([...cases.map((c) => c[0]), 0x7e00, 0xfe01])]]));
    const out = st.f32('h');
    cases.forEach(([, want], i) => expect(Object.is(out[i], want), `case ${i}: ${out[i]} vs ${want}`).toBe(true));
    expect(Number.isNaN(out[cases.length])).toBe(true);
    expect(Number.isNaN(out[cases.length + 1])).toBe(true);
  });

  it('matches the definition for all 65536 bit patterns', () => {
    const all = Array.from({ length: 65536 }, (_, i) => i);
    const out = SafeTensors.parse(build([['h', 'F16', [65536], u16le(all)]])).f32('h');
    let bad = 0;
    for (const h of all) {
      const want = halfByDefinition(h);
      if (!(Object.is(out[h], want) || (Number.isNaN(want) && Number.isNaN(out[h])))) bad++;
    }
    expect(bad).toBe(0);
  });

  it('handles a 16-bit tensor at an odd byte offset', () => {
    const st = SafeTensors.parse(build([['pad', 'U8', [1], new Uint8Array([7])], ['h', 'F16', [2], u16le([0x3c00, 0xc500])]]));
    expect(Array.from(st.f32('h'))).toEqual([1, -5]);
  });
});

describe('BF16 → F32', () => {
  // The bf16 pattern of x is the top 16 bits of its float32 encoding (exact for these values).
  const toBf16 = (x: number) => {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, x);
    expect(dv.getUint16(2)).toBe(0); // x must be representable: low half zero
    return dv.getUint16(0);
  };

  it('converts normals, subnormals, ±0, ±inf and NaN exactly', () => {
    const values = [1, -2.5, 3.140625, 1.5 * 2 ** 127, 2 ** -126, 2 ** -130, 2 ** -133, -(2 ** -133), 0, -0, Infinity, -Infinity];
    const bits = [...values.map(toBf16), 0x7fc0, 0xffc1];
    const out = SafeTensors.parse(build([['b', 'BF16', [bits.length], u16le(bits)]])).f32('b');
    values.forEach((v, i) => expect(Object.is(out[i], v), `case ${i}: ${out[i]} vs ${v}`).toBe(true));
    expect(Number.isNaN(out[values.length])).toBe(true);
    expect(Number.isNaN(out[values.length + 1])).toBe(true);
  });

  it('reads a truncated (not representable) value as its bf16 pattern says', () => {
    // 1 + 2^-10 needs 10 fraction bits; bf16 keeps 7, so the stored top half is exactly 1.0.
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, 1 + 2 ** -10);
    const out = SafeTensors.parse(build([['b', 'BF16', [1], u16le([dv.getUint16(0)])]])).f32('b');
    expect(out[0]).toBe(1);
  });
});

// ---- malformed files ----

describe('SafeTensors.parse rejects malformed files with precise messages', () => {
  const valid = fixture('bart_tiny');
  const { header: validHeader, n } = split(valid);
  const tensors = Object.entries(validHeader)
    .filter(([k]) => k !== '__metadata__')
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);

  it('a file shorter than 8 bytes', () => {
    expectWeightsError(() => SafeTensors.parse(valid.subarray(0, 5)), /5 bytes, shorter than the 8-byte/);
  });

  it('a header length beyond the file', () => {
    const bad = valid.slice();
    new DataView(bad.buffer).setBigUint64(0, BigInt(valid.length), true);
    expectWeightsError(() => SafeTensors.parse(bad), new RegExp(`header length ${valid.length} runs past the end of the file \\(${valid.length} bytes`));
    const truncated = valid.subarray(0, 8 + n - 1);
    expectWeightsError(() => SafeTensors.parse(truncated), new RegExp(`header length ${n} runs past the end`));
  });

  it('a header length above the 100 MB limit (including a u64 with high bits set)', () => {
    const bad = valid.slice();
    new DataView(bad.buffer).setBigUint64(0, 2n ** 40n, true);
    expectWeightsError(() => SafeTensors.parse(bad), /header length 1099511627776 exceeds the 100000000-byte limit/);
  });

  it('a header that is not JSON, not UTF-8, or not an object', () => {
    const bad = valid.slice();
    bad[8 + 1] = 0x21; // '!' where the first key's quote is
    expectWeightsError(() => SafeTensors.parse(bad), /header is not valid JSON/);
    const notUtf8 = valid.slice();
    notUtf8[8 + 2] = 0xff;
    expectWeightsError(() => SafeTensors.parse(notUtf8), /not valid UTF-8/);
    // the reference's InvalidHeaderStart: the JSON object starts at the first byte
    expectWeightsError(() => SafeTensors.parse(assemble('[1,2]', new Uint8Array(0))), /must start with "\{", but starts with byte 0x5b/);
    expectWeightsError(() => SafeTensors.parse(assemble('42', new Uint8Array(0))), /must start with "\{"/);
    expectWeightsError(() => SafeTensors.parse(assemble(' {}', new Uint8Array(0))), /must start with "\{", but starts with byte 0x20/);
    expectWeightsError(() => SafeTensors.parse(assemble('\ufeff{}', new Uint8Array(0))), /starts with a UTF-8 byte order mark/);
  });

  it('an unknown dtype, naming it and the supported ones', () => {
    const bad = withHeader(valid, (h) => (h['model.shared.weight'].dtype = 'Q4_K'));
    expectWeightsError(() => SafeTensors.parse(bad), /"model.shared.weight": unknown dtype "Q4_K"; supported: F32, F16, BF16/);
  });

  it('a shape that is not an array of non-negative integers', () => {
    for (const shape of [[-1, 64], [1.5], '64', null]) {
      const bad = withHeader(valid, (h) => (h['model.shared.weight'].shape = shape));
      expectWeightsError(() => SafeTensors.parse(bad), /"model.shared.weight": shape must be an array of non-negative integers/);
    }
  });

  it('malformed data_offsets', () => {
    for (const off of [[0], [0, 1, 2], [-4, 0], ['0', '4']]) {
      const bad = withHeader(valid, (h) => (h['final_logits_bias'].data_offsets = off));
      expectWeightsError(() => SafeTensors.parse(bad), /"final_logits_bias": data_offsets must be \[begin, end\]/);
    }
    const reversed = withHeader(valid, (h) => (h['final_logits_bias'].data_offsets = [8, 4]));
    expectWeightsError(() => SafeTensors.parse(reversed), /data_offsets \[8, 4\] end before they begin/);
  });

  it('data_offsets that do not match shape × dtype size', () => {
    const bad = withHeader(valid, (h) => (h['model.shared.weight'].shape = [100, 64]));
    const [b, e] = validHeader['model.shared.weight'].data_offsets;
    expectWeightsError(() => SafeTensors.parse(bad),
      new RegExp(`"model.shared.weight": data_offsets \\[${b}, ${e}\\] hold ${101 * 256} bytes but shape \\[100,64\\] of F32 needs ${100 * 256}`));
    const f16 = withHeader(valid, (h) => (h['model.shared.weight'].dtype = 'F16'));
    expectWeightsError(() => SafeTensors.parse(f16), /shape \[101,64\] of F16 needs 12928/);
  });

  it('offsets running past the end of the file', () => {
    const [lastName, last] = tensors[tensors.length - 1];
    const [b, e] = last.data_offsets;
    const bad = withHeader(valid, (h) => (h[lastName].data_offsets = [b + 4, e + 4]));
    expectWeightsError(() => SafeTensors.parse(bad),
      new RegExp(`"${lastName.replace(/\./g, '\\.')}": data_offsets \\[${b + 4}, ${e + 4}\\] run past the end of the file \\(the data buffer has ${e} bytes\\)`));
  });

  it('overlapping tensors', () => {
    // Two tensors of the same size made to share one region.
    const same = tensors.filter(([, t]) => t.data_offsets[1] - t.data_offsets[0] === 256);
    const [aName, a] = same[0];
    const [bName] = same[1];
    const bad = withHeader(valid, (h) => (h[bName].data_offsets = [...a.data_offsets]));
    expectWeightsError(() => SafeTensors.parse(bad), /overlaps tensor "model\.[^"]+" which ends at byte \d+/);
    let msg = '';
    try {
      SafeTensors.parse(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg.includes(aName) && msg.includes(bName)).toBe(true);

    // A partial overlap: b starts inside a (and the file grows so b still fits).
    const two = build([['a', 'F32', [2], f32le([1, 2])], ['b', 'F32', [2], f32le([3, 4])]]);
    expect(SafeTensors.parse(two).names).toEqual(['a', 'b']);
    const overlapping = withHeader(two, (h) => (h.b.data_offsets = [4, 12]));
    expectWeightsError(() => SafeTensors.parse(overlapping), /tensor "b" \(bytes 4\.\.12\) overlaps tensor "a" which ends at byte 8/);
  });

  it('gaps and trailing bytes (the reference implementation requires an exact tiling)', () => {
    const two = build([['a', 'F32', [1], f32le([1])], ['b', 'F32', [1], f32le([2])]]);
    const gap = withHeader(two, (h) => {
      h.a.data_offsets = [0, 4];
      h.b.data_offsets = [8, 12];
    });
    const { data } = split(two);
    const gapFile = assemble(split(gap).header, new Uint8Array([...data, 0, 0, 0, 0]));
    expectWeightsError(() => SafeTensors.parse(gapFile), /4 unused bytes between tensor "a" \(ends at byte 4\) and tensor "b" \(starts at byte 8\)/);
    const leading = withHeader(two, (h) => {
      h.a.data_offsets = [4, 8];
      h.b.data_offsets = [8, 12];
    });
    const leadingFile = assemble(split(leading).header, new Uint8Array([...data, 0, 0, 0, 0]));
    expectWeightsError(() => SafeTensors.parse(leadingFile), /4 unused bytes between the start of the data and tensor "a"/);
    const trailing = new Uint8Array([...valid, 1, 2, 3]);
    expectWeightsError(() => SafeTensors.parse(trailing), /3 unused bytes after the last tensor/);
  });

  it('a __metadata__ that is not a string → string map', () => {
    const bad = withHeader(valid, (h) => (h.__metadata__ = { format: 'pt', step: 3 }));
    expectWeightsError(() => SafeTensors.parse(bad), /"__metadata__" values must be strings, "step" is 3/);
  });

  it('labels errors with the file name it is given', () => {
    expectWeightsError(() => SafeTensors.parse(new Uint8Array(3), 'model-00002-of-00003.safetensors'), /^model-00002-of-00003\.safetensors: /);
  });
});

describe('mergeShards', () => {
  const whole = SafeTensors.parse(fixture('t5_v1_0_tiny'));
  const names = [...whole.names];
  const half = Math.floor(names.length / 2);
  const shardOf = (part: string[]) => SafeTensors.parse(build(part.map((nm) => {
    const i = whole.info(nm);
    return [nm, i.dtype, [...i.shape], whole.raw(nm)] as [string, string, number[], Uint8Array];
  })));
  const files = { 'model-00001-of-00002.safetensors': shardOf(names.slice(0, half)), 'model-00002-of-00002.safetensors': shardOf(names.slice(half)) };
  const index = { metadata: {}, weight_map: Object.fromEntries(names.map((nm, i) => [nm, i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors'])) };

  it('serves every tensor of every shard', () => {
    const merged = mergeShards(index, files);
    expect([...merged.names].sort()).toEqual([...names].sort());
    const last = names[names.length - 1];
    expect(Array.from(merged.f32(last))).toEqual(Array.from(whole.f32(last)));
    expect(merged.info(names[0])).toEqual(whole.info(names[0]));
  });

  it('reports a missing shard, a tensor absent from its shard, and duplicates', () => {
    expectWeightsError(() => mergeShards(index, { 'model-00001-of-00002.safetensors': files['model-00001-of-00002.safetensors'] }),
      /shard "model-00002-of-00002.safetensors" \(holding "[^"]+"\) was not provided/);
    const wrong = { weight_map: { ...index.weight_map, [names[0]]: 'model-00002-of-00002.safetensors' } };
    expectWeightsError(() => mergeShards(wrong, files), new RegExp(`"${names[0]}" is missing from shard "model-00002-of-00002.safetensors"`));
    const dup = { ...files, 'extra.safetensors': shardOf([names[0]]) };
    expectWeightsError(() => mergeShards(index, dup), new RegExp(`"${names[0]}" is stored in more than one shard`));
    expectWeightsError(() => mergeShards({}, files), /"weight_map" must be an object/);
  });
});
