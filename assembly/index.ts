// The kernels module: every export takes byte offsets into this module's one linear memory plus sizes.
// The module allocates nothing (runtime stub); the TypeScript side owns the memory layout (bindings/arena.ts).
export { packed_size_f32, pack_f32_n8, gemm_f32_4x8, gemv_f32_1x24, linear_f32, gemm_f32_ref } from './gemm';
export { layer_norm_f32, rms_norm_f32, layer_norm_f32_ref, rms_norm_f32_ref } from './norm';
export { softmax_f32, log_softmax_f32, softmax_f32_ref } from './softmax';
export { relu_f32, gelu_f32, gelu_tanh_f32, silu_f32, gated_gelu_f32, add_f32, scale_f32, exp_f32, activation_f32_ref } from './activations';
export { embed_f32, embed_packed_f32, gather_add_f32, sinusoidal_positions_f32 } from './embed';
export { attention_f32, attention_f32_ref } from './attention';
export { copy_bytes, heap_base } from './memory';
export { simd_peak_probe } from './probe';
export { packed_size_i8, quantize_pack_i8_n8, quantize_rows_i16, gemv_i8_dot_1x8, gemm_i8_dot_4x8, linear_i8, linear_i8_rows, embed_packed_i8, gemm_i8_ref } from './gemm_i8';
export { topk_rows_f32, topk_rows_f32_ref } from './topk';
