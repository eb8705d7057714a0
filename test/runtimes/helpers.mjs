// Shared by the runtime tests (test/runtimes/*.spec.mjs, run by `npm run test:runtimes` after `npm run build`).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Phonemizer } from '../../dist/bindings/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS = join(ROOT, 'test-results');
export const MODEL_FILES = ['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors'];
export const LEXICON = 'lexicon.tsv.gz';
export const CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/**
 * A runtime that is missing: in CI (CI=true) that is a failure; on a dev machine without it, the test is skipped
 * with the reason printed.
 */
export function need(ctx, ok, reason) {
  if (ok) return;
  if (CI) throw new Error(`${reason} — CI must have it (.ci/run installs it)`);
  console.warn(`SKIPPED (not CI): ${reason}`);
  ctx.skip(reason);
}

/**
 * A private copy of the default model (weights/g2p-en may be rewritten by training while the tests run): the
 * files are copied, then loaded once in Node to be sure the copy is whole.
 */
export async function snapshotModel(src = join(ROOT, 'weights/g2p-en')) {
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-model-'));
    for (const f of MODEL_FILES) copyFileSync(join(src, f), join(dir, f));
    if (existsSync(join(src, LEXICON))) copyFileSync(join(src, LEXICON), join(dir, LEXICON));
    try {
      await Phonemizer.load(dir);
      return dir;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  throw lastError;
}

/** Phonemes in Node (dist/bindings), the reference every runtime is compared with; lexicon: false = the model
 *  alone (for runtimes given only the model files). */
export async function nodePhonemes(modelDir, texts, { lexicon = true } = {}) {
  const out = {};
  for (const text of texts) {
    const p = await Phonemizer.load(modelDir, { lexicon });   // fresh cache per text
    out[text] = (await p.phonemize(text)).map((w) => ({ text: w.text, phonemes: w.phonemes }));
  }
  return out;
}

/** Adds one runtime's measurements to test-results/runtimes.json and prints them. */
export function record(name, data) {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, 'runtimes.json');
  const all = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  all[name] = { ...data, at: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(all, null, 2) + '\n');
  console.log(`[runtime] ${name}: ${JSON.stringify(data)}`);
}

export const round = (ms) => (typeof ms === 'number' ? Math.round(ms) : ms);
