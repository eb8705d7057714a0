// The activation functions both backends implement, numbered as the wasm kernels (assembly/activations.ts) and
// the WGSL elementwise shader (webgpu/shaders.ts) number them.
import type { Activation } from '../config.js';

export const ACTIVATION_KIND: Readonly<Record<Activation, number>> = { relu: 0, gelu: 1, gelu_new: 2, silu: 3 };
