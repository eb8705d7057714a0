// Embedding lookups and position tables. Ids are validated by the caller (bindings) before they get here.

/** out[i, :] = table[ids[i], :] * scale   (ids: i32[n], table [V, dim]) */
export function embed_f32(table: usize, ids: usize, n: i32, dim: i32, scale: f32, out: usize): void {
  const rowBytes = <usize>dim << 2;
  const sv = f32x4.splat(scale);
  for (let i = 0; i < n; i++) {
    const src = table + <usize>load<i32>(ids + (<usize>i << 2)) * rowBytes;
    const dst = out + <usize>i * rowBytes;
    let j = 0;
    for (; j + 4 <= dim; j += 4) v128.store(dst + (<usize>j << 2), f32x4.mul(v128.load(src + (<usize>j << 2)), sv));
    for (; j < dim; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)) * scale);
  }
}

/** out[i, :] += table[ids[i], :]   (position rows chosen per token: learned, sinusoidal or padding-aware) */
export function gather_add_f32(table: usize, ids: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = <usize>dim << 2;
  for (let i = 0; i < n; i++) {
    const src = table + <usize>load<i32>(ids + (<usize>i << 2)) * rowBytes;
    const dst = out + <usize>i * rowBytes;
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      const o = <usize>j << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; j < dim; j++) {
      const o = <usize>j << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  }
}

/**
 * out[i, :] = W[ids[i], :] * scale, reading W [n, k] from its packed panels (pack_f32_n8 layout: element (r, c)
 * at panel r/8, float 8 + c*8 + r%8). A tied model keeps only the packed lm_head and gathers its embeddings
 * from it: one copy of the largest matrix instead of two.
 */
export function embed_packed_f32(packed: usize, ids: usize, n: i32, k: i32, scale: f32, out: usize): void {
  const panelBytes = <usize>(k + 1) * 8 << 2;
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    const src = packed + <usize>(id >> 3) * panelBytes + (<usize>(8 + (id & 7)) << 2);
    const dst = out + (<usize>i * <usize>k << 2);
    for (let j = 0; j < k; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 5)) * scale);
  }
}
