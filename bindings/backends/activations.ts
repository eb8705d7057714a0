// The activation functions both backends implement, numbered as the wasm kernels (assembly/activations.ts) and
// the WGSL elementwise shader (webgpu/shaders.ts) number them. One kind per distinct function; the other names
// transformers accepts are aliases (config.ts ACTIVATION_ALIASES).
import type { Activation } from '../config.js';

export const ACTIVATION_KIND: Readonly<Record<Activation, number>> = {
  relu: 0, gelu: 1, gelu_new: 2, silu: 3, gelu_10: 4, laplace: 5, leaky_relu: 6, linear: 7, mish: 8, quick_gelu: 9,
  relu2: 10, relu6: 11, sigmoid: 12, tanh: 13,
};
