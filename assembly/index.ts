// The kernels module: every export takes byte offsets into this module's one linear memory plus sizes.
// The module allocates nothing (runtime stub); the TypeScript side owns the memory layout
// (bindings/backends/wasm/heap.ts) and lists these exports once, with their signatures (KERNELS in
// bindings/backends/wasm/kernels.ts). Only what the library calls is exported here; the scalar references, the
// benchmark probe and kernels kept for tests are exported by the test build (assembly/test.ts).
export { packed_size_f32, pack_f32_n8, linear_f32 } from './gemm';
export { layer_norm_f32, rms_norm_f32 } from './norm';
export { log_softmax_f32 } from './softmax';
export { activation_f32, gated_activation_f32, scale_f32 } from './activations';
export { embed_f32, embed_packed_f32, gather_add_f32 } from './embed';
export { attention_f32 } from './attention';
export { copy_bytes, heap_base } from './memory';
export { packed_size_i8, quantize_pack_i8_n8, quantize_rows_i16, linear_i8, linear_i8_rows, embed_packed_i8 } from './gemm_i8';
export { topk_rows_f32 } from './topk';
export { find_broken_row_f32, first_nonfinite_f32 } from './finite';
