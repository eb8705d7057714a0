// `wasm-seq2seq convert --to f16|int8 SRC_DIR OUT_DIR`: a model folder with model.safetensors shrunk for shipping
// (a Cloudflare Worker's script limit, a smaller download); every other file is copied unchanged.
//   --to f16   every F32 tensor → F16 (round to nearest even, as torch's .half()); the loader widens it back.
//   --to int8  every linear weight → I8 + a per-output-channel F32 scale; the loader runs int8 kernels on it.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { safetensorsToF16, safetensorsToInt8 } from '../weights/convert.js';
import { show } from '../validate.js';

export const CONVERT_HELP = 'usage: wasm-seq2seq convert --to f16|int8 SRC_DIR OUT_DIR';

/** Writes OUT with SRC's model.safetensors converted and its other files copied; returns OUT. */
export function convertModelDir(src: string, out: string, to: string): string {
  const convert = to === 'f16' ? safetensorsToF16 : to === 'int8' ? safetensorsToInt8 : null;
  if (!convert) throw new InputError(`--to must be f16 or int8, got ${show(to)}`);
  if (!existsSync(join(src, 'model.safetensors'))) throw new InputError(`${src} has no model.safetensors (sharded checkpoints are not converted)`);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(src)) {
    if (f !== 'model.safetensors' && statSync(join(src, f)).isFile()) copyFileSync(join(src, f), join(out, f));
  }
  writeFileSync(join(out, 'model.safetensors'), convert(readFileSync(join(src, 'model.safetensors'))));
  return out;
}

export async function convertCommand(argv: string[]): Promise<number> {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) { console.log(CONVERT_HELP); return 0; }
  const i = args.indexOf('--to');
  const to = i >= 0 ? args.splice(i, 2)[1] : undefined;
  if (!to || args.length !== 2) throw new InputError(CONVERT_HELP);
  const [src, out] = args.map((a) => resolve(a));
  convertModelDir(src, out, to);
  const size = (d: string) => statSync(join(d, 'model.safetensors')).size;
  console.log(`${out}: model.safetensors ${size(src)} → ${size(out)} bytes (${to})`);
  return 0;
}
