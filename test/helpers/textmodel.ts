// A model source with tokenizer files for text tests: the marian_tiny fixture (vocab 101) paired with the small
// unigram SentencePiece model of the tokenizer fixtures and a vocab.json of 101 ids.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SentencePiece } from '../../bindings/tokenizers/index.js';
import { fixtureDir } from './fixtures.js';

export function textModelFiles(): Record<string, string | Uint8Array> {
  const dir = fixtureDir('marian_tiny');
  const spm = new Uint8Array(readFileSync(new URL('../fixtures/tokenizers/unigram.model', import.meta.url)));
  const sp = SentencePiece.load(spm, 'unigram.model');
  // unigram.model pieces 5..102 → ids 2..99; </s> 0, <unk> 1, <pad> 100 (= the fixture's pad / decoder start)
  const vocab: Record<string, number> = { '</s>': 0, '<unk>': 1 };
  for (let i = 0; i < 98; i++) vocab[sp.idToPiece(5 + i)] = 2 + i;
  vocab['<pad>'] = 100;
  return {
    'config.json': readFileSync(`${dir}config.json`, 'utf8'),
    'generation_config.json': readFileSync(`${dir}generation_config.json`, 'utf8'),
    'model.safetensors': new Uint8Array(readFileSync(`${dir}model.safetensors`)),
    'source.spm': spm, 'target.spm': spm,
    'vocab.json': JSON.stringify(vocab),
    'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'MarianTokenizer', model_max_length: 64 }),
  };
}

/** The same files in a fresh temporary folder. */
export function textModelDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-text-'));
  for (const [name, data] of Object.entries(textModelFiles())) writeFileSync(join(d, name), data);
  return d;
}
