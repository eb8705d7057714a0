// Non-finite detection: whether a model's numbers went wrong (broken weights, or float32 overflow in an
// activation) before a search acts on them. Run over each decoder step's logits: a bit test, 16 floats per
// iteration, on data the output head just wrote (in cache), so it costs a small fraction of the head's GEMM.

const NEG_INF: u32 = 0xff800000;

/** Index of the first NaN or ±Inf in x[0, n), or -1: the load-time check of every weight. */
export function first_nonfinite_f32(x: usize, n: i32): i32 {
  const m = i32x4.splat(0x7f800000);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = x + (<usize>i << 2);
    const a = i32x4.eq(v128.and(v128.load(o), m), m);
    const b = i32x4.eq(v128.and(v128.load(o + 16), m), m);
    const c = i32x4.eq(v128.and(v128.load(o + 32), m), m);
    const d = i32x4.eq(v128.and(v128.load(o + 48), m), m);
    if (v128.any_true(v128.or(v128.or(a, b), v128.or(c, d)))) break; // the scalar loop below finds which
  }
  for (; i < n; i++) if ((load<u32>(x + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return i;
  return -1;
}

/**
 * The first of `rows` rows of n floats at x that holds a NaN or +Inf, or only -Inf (no token possible), or -1.
 * A -Inf among finite values is allowed: it only says that token is impossible.
 */
export function find_broken_row_f32(x: usize, rows: i32, n: i32): i32 {
  const m = i32x4.splat(0x7f800000);
  const ninf = i32x4.splat(<i32>NEG_INF);
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>n << 2);
    let special = i32x4.splat(0); // lanes whose exponent bits are all ones (NaN, ±Inf)
    let live = i32x4.splat(0); // lanes that are not -Inf
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      const a = v128.load(row + (<usize>i << 2));
      const b = v128.load(row + (<usize>i << 2) + 16);
      special = v128.or(special, v128.or(i32x4.eq(v128.and(a, m), m), i32x4.eq(v128.and(b, m), m)));
      live = v128.or(live, v128.or(i32x4.ne(a, ninf), i32x4.ne(b, ninf)));
    }
    let bad = false, alive = v128.any_true(live);
    if (v128.any_true(special)) i = 0; // something special: the scalar loop looks at the whole row
    for (; i < n; i++) {
      const bits = load<u32>(row + (<usize>i << 2));
      if (bits != NEG_INF) {
        alive = true;
        if ((bits & 0x7f800000) == 0x7f800000) bad = true;
      }
    }
    if (bad || !alive) return r;
  }
  return -1;
}
