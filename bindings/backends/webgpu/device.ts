/// <reference types="@webgpu/types" />
// Getting a GPUDevice: `navigator.gpu` (browsers, Deno), else Node's npm `webgpu` package (Dawn), else nothing.
// Absence is never an exception here: callers get null plus the reason, and decide (backend 'auto' falls back to
// wasm with that reason as its note; backend 'webgpu' throws UnsupportedError naming it).

import { hasNodeApis } from '../../platform.js';
import type { GpuLike } from './types.js';
export type { GpuLike } from './types.js';

export interface GpuDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** Adapter description for notes and logs, e.g. "Google SwiftShader (vulkan)". */
  description: string;
  /** Largest storage binding we may use: big weights are split into chunks no larger than this. */
  maxBinding: number;
  /** The device was created with 'shader-f16' (asked for, and the adapter has it). */
  f16: boolean;
}

export type GpuAcquisition = { ok: true; gpu: GpuDevice } | { ok: false; reason: string };

// Dawn's GPU object must stay referenced for the life of the process: when it is garbage collected while a
// device is alive, Dawn crashes or hangs (measured with webgpu@0.6.2). So it is created once and kept here.
let dawnGpu: Promise<GpuLike | null> | null = null;
let dawnFailure = '';

async function nodeGpu(): Promise<GpuLike | null> {
  dawnGpu ??= (async () => {
    if (!hasNodeApis()) { dawnFailure = 'navigator.gpu is missing (this runtime has no WebGPU)'; return null; }
    try {
      // a variable specifier: bundlers must not pull Dawn's native addon into the web builds
      const name = 'webgpu';
      const mod = (await import(/* @vite-ignore */ name)) as { create(flags: string[]): GpuLike; globals: object };
      Object.assign(globalThis, mod.globals); // GPUBufferUsage, GPUMapMode, ... as in browsers
      return mod.create([]);
    } catch (e) {
      dawnFailure = `navigator.gpu is missing and the npm package 'webgpu' (Dawn for Node) could not be loaded: ${(e as Error).message}`;
      return null;
    }
  })();
  return dawnGpu;
}

/** The platform's WebGPU entry point (navigator.gpu, else Dawn's GPU object, kept alive), or null with the reason. */
export async function platformGpu(): Promise<{ gpu: GpuLike | null; reason: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, reason: '' };
  const gpu = await nodeGpu();
  return { gpu, reason: dawnFailure };
}

/**
 * A device with the adapter's own limits for storage bindings and buffer size (the defaults, 128 MiB, would
 * refuse a Marian-size vocabulary projection in one buffer). `gpu` overrides the platform's entry point.
 */
export async function acquireGpu(gpu?: GpuLike | null, options: { f16?: boolean } = {}): Promise<GpuAcquisition> {
  let entry = gpu;
  if (entry === undefined) {
    const p = await platformGpu();
    if (!p.gpu) return { ok: false, reason: p.reason };
    entry = p.gpu;
  }
  if (!entry) return { ok: false, reason: 'no WebGPU entry point (gpu is null)' };
  let adapter: GPUAdapter | null;
  try {
    adapter = (await entry.requestAdapter({ powerPreference: 'high-performance' })) as GPUAdapter | null;
  } catch (e) {
    return { ok: false, reason: `requestAdapter() failed: ${(e as Error).message}` };
  }
  if (!adapter) {
    return { ok: false, reason: 'WebGPU is present but requestAdapter() returned no adapter (no GPU or driver; on Linux servers a Vulkan ICD such as SwiftShader or lavapipe and libvulkan1)' };
  }
  const lim = adapter.limits;
  const f16 = !!options.f16 && !!adapter.features?.has('shader-f16');
  try {
    const device = await adapter.requestDevice({
      requiredFeatures: f16 ? ['shader-f16'] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
        maxBufferSize: lim.maxBufferSize,
        maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 8),
      },
    });
    const info = (adapter as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }).info;
    const description = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unnamed adapter';
    // what the adapter reports bounds it too (the device may round a small request up to the default)
    const maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    return { ok: true, gpu: { device, adapter, description, maxBinding, f16 } };
  } catch (e) {
    return { ok: false, reason: `requestDevice() failed: ${(e as Error).message}` };
  }
}
