// Top-k selection for beam search: the k best candidates fround(x[r][v] + addend[r]) over `rows` rows of n
// (log-probs + running beam scores), ranked by score, exact ties by the lower flat index r*n + v (what
// torch.topk gives the fixtures). NaN never ranks. Done here rather than in JS because it scans
// rows x vocabulary floats every step (4 x 58101 for a Marian 4-beam step: ~0.85 ms in JS).

/**
 * Writes the best min(k, candidates) scores (f32) and flat indices (i32) best first; returns how many.
 * One pass, 4 lanes at a time against the current k-th best: once k candidates are kept almost every vector
 * is rejected by one compare. Scanning in index order means a candidate that only ties the k-th best always
 * has the higher index and loses, so a kept list that is full admits strictly better scores only.
 */
export function topk_rows_f32(x: usize, rows: i32, n: i32, addend: usize, k: i32, outScore: usize, outIndex: usize): i32 {
  if (k <= 0) return 0;
  let size = 0;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>n << 2);
    const add = load<f32>(addend + (<usize>r << 2));
    const addv = f32x4.splat(add);
    let v = 0;
    for (; v + 4 <= n; v += 4) {
      // while fewer than k are kept, anything but NaN enters (-inf too); after that only a better score
      const s = f32x4.add(v128.load(row + (<usize>v << 2)), addv);
      const hit = size < k ? f32x4.eq(s, s) : f32x4.gt(s, f32x4.splat(load<f32>(outScore + (<usize>(k - 1) << 2))));
      if (!v128.any_true(hit)) continue;
      for (let l = 0; l < 4; l++) size = offer(load<f32>(row + (<usize>(v + l) << 2)) + add, r * n + v + l, size, k, outScore, outIndex);
    }
    for (; v < n; v++) size = offer(load<f32>(row + (<usize>v << 2)) + add, r * n + v, size, k, outScore, outIndex);
  }
  return size;
}

/** Keeps `sc` if it ranks among the k best so far (NaN never does); returns the new count kept. */
// @ts-ignore: decorator
@inline function offer(sc: f32, idx: i32, size: i32, k: i32, outScore: usize, outIndex: usize): i32 {
  if (size < k ? sc != sc : !(sc > load<f32>(outScore + (<usize>(k - 1) << 2)))) return size;
  return insert(sc, idx, size, k, outScore, outIndex);
}

/** Insert into the sorted kept list (best first; equal scores keep arrival = index order); drops the k+1-th. */
// @ts-ignore: decorator
@inline function insert(sc: f32, idx: i32, size: i32, k: i32, outScore: usize, outIndex: usize): i32 {
  let i = size < k ? size : k - 1; // the slot freed at the end
  while (i > 0 && load<f32>(outScore + (<usize>(i - 1) << 2)) < sc) {
    store<f32>(outScore + (<usize>i << 2), load<f32>(outScore + (<usize>(i - 1) << 2)));
    store<i32>(outIndex + (<usize>i << 2), load<i32>(outIndex + (<usize>(i - 1) << 2)));
    i--;
  }
  store<f32>(outScore + (<usize>i << 2), sc);
  store<i32>(outIndex + (<usize>i << 2), idx);
  return size < k ? size + 1 : size;
}

/** Scalar reference: every candidate through the same ordering, no vector pre-filter. */
export function topk_rows_f32_ref(x: usize, rows: i32, n: i32, addend: usize, k: i32, outScore: usize, outIndex: usize): i32 {
  if (k <= 0) return 0;
  let size = 0;
  for (let r = 0; r < rows; r++) {
    const add = load<f32>(addend + (<usize>r << 2));
    for (let v = 0; v < n; v++) {
      const sc = load<f32>(x + (<usize>(r * n + v) << 2)) + add;
      if (isNaN(sc)) continue;
      if (size == k && !(sc > load<f32>(outScore + (<usize>(k - 1) << 2)))) continue;
      size = insert(sc, r * n + v, size, k, outScore, outIndex);
    }
  }
  return size;
}
