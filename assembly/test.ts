// The test build (build/kernels-test*.wasm, never shipped): the library's kernels plus each fast kernel's scalar
// reference, kernels only the tests call, and the benchmark's multiply-add probe.
export * from './index';
export { gemm_f32_4x8, gemv_f32_1x24, gemm_f32_ref } from './gemm';
export { layer_norm_f32_ref, rms_norm_f32_ref } from './norm';
export { softmax_f32, softmax_f32_ref } from './softmax';
export { add_f32, exp_f32, activation_f32_ref } from './activations';
export { attention_f32_ref } from './attention';
export { gemv_i8_dot_1x8, gemm_i8_dot_4x8, gemm_i8_ref } from './gemm_i8';
export { topk_rows_f32_ref } from './topk';
export { simd_peak_probe } from './probe';
