// Git LFS pointer files: what a repository cloned without Git LFS holds in place of every large file
// (model.safetensors, pytorch_model.bin, *.spm, spiece.model, tokenizer.json, ...):
//
//   version https://git-lfs.github.com/spec/v1
//   oid sha256:4d7a...
//   size 298766528
//
// Read as weights it fails deep inside a parser ("header length 2336927755350992400 exceeds ..."), so every
// file a source hands out is checked here first, in one place (`guardLfs`, applied by toModelSource), and the
// user is told what the file is and how to get the real one.

import { LfsPointerError } from '../errors.js';
import type { ModelSource } from './source.js';

/** Pointer files are ~130 bytes; the spec caps them at 1024. */
export const LFS_POINTER_MAX = 1024;
const MAGIC = 'version https://git-lfs.github.com/spec/v1';

export interface LfsPointer {
  readonly oid: string;
  /** The real file's size in bytes, from the pointer. */
  readonly size: number | undefined;
}

/** The pointer's fields when `bytes` is a Git LFS pointer file, else undefined. */
export function lfsPointer(bytes: Uint8Array): LfsPointer | undefined {
  if (bytes.length > LFS_POINTER_MAX || bytes.length < MAGIC.length) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC.charCodeAt(i)) return undefined;
  const text = new TextDecoder().decode(bytes);
  const oid = /^oid (\S+)$/m.exec(text)?.[1] ?? 'unknown';
  const size = /^size (\d+)$/m.exec(text)?.[1];
  return { oid, size: size === undefined ? undefined : Number(size) };
}

function humanSize(n: number): string {
  if (n < 1e3) return `${n} bytes`;
  const [v, u] = n < 1e6 ? [n / 1e3, 'KB'] : n < 1e9 ? [n / 1e6, 'MB'] : [n / 1e9, 'GB'];
  return `${v.toFixed(1)} ${u} (${n} bytes)`;
}

/** Throws LfsPointerError when `bytes` is a pointer file; returns them otherwise. */
export function checkNotLfsPointer<T extends Uint8Array | undefined>(bytes: T, file: string, where: string): T {
  const p = bytes && lfsPointer(bytes);
  if (!p) return bytes;
  const real = p.size === undefined ? 'the real file' : `the real ${humanSize(p.size)} file`;
  throw new LfsPointerError(
    `${file} from ${where} is a Git LFS pointer (a ${bytes!.length}-byte text file standing for ${real}, oid ${p.oid}), ` +
    'not the file itself: the repository was cloned or copied without Git LFS. Fetch the real files with ' +
    '`git lfs install && git lfs pull` inside the clone (install git-lfs first; `git lfs install` before cloning ' +
    'gets them at clone time), or load the model by its Hub id instead of the folder.',
    { file, size: p.size, oid: p.oid });
}

const GUARDED = Symbol('lfs-guarded');

/**
 * The same source, but every file it reads is checked for being an LFS pointer. A Proxy rather than a new object
 * so that everything else a source has (a cache's hits and storage(), a getter for its description, methods
 * added later) is reached as before.
 */
export function guardLfs<S extends ModelSource>(source: S): S {
  if ((source as unknown as Record<symbol, unknown>)[GUARDED]) return source;
  const read: ModelSource['read'] = async (file, opts) => checkNotLfsPointer(await source.read(file, opts), file, source.description);
  return new Proxy(source, {
    get(target, prop) {
      if (prop === GUARDED) return true;
      if (prop === 'read') return read;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
