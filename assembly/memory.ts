// Bulk copies inside linear memory (KV-cache reordering for beam search, moving rows between buffers).

/** memmove semantics: overlapping ranges are fine. */
export function copy_bytes(dst: usize, src: usize, n: usize): void {
  memory.copy(dst, src, n);
}

/** First free byte after the module's static data: where the TypeScript heap may begin. */
export function heap_base(): usize {
  return __heap_base;
}
