// `wasm-seq2seq phonemize "The quick brown fox"`: English text → ARPAbet with the shipped G2P model.
// Reads lines from stdin when no text is given (or text is "-").
import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { Phonemizer, type PhonemizedWord } from '../g2p/phonemizer.js';

export const PHONEMIZE_HELP = `usage: wasm-seq2seq phonemize [options] [TEXT...]
       echo "some text" | wasm-seq2seq phonemize [options]

English spelling → ARPAbet phonemes (with stress digits), one line per word:  word  PH ON EH M Z
Words in the CMU Pronouncing Dictionary get its primary pronunciation; other words go through the model.
Numbers are spelled out ("1984" → nineteen eighty four, "3.5%" → three point five percent), accents stripped,
punctuation not pronounced; tokens with nothing pronounceable (other scripts, emoji) print "?".

  --json             one JSON object per input line: {"text": ..., "words": [{"text","word","phonemes","source"}]}
                     (source: "lexicon", "model" or "none")
  --no-lexicon       the model alone, also for dictionary words (how its WER is measured)
  --line             one line per input line: word/PH-ON-EH-M-Z ...
  --num-beams N      beam width (default 4, from the model's generation_config.json; 1 = greedy)
  --model DIR|ID     another G2P model: a folder or a Hub id (default: the shipped weights/g2p-en)
  --revision REV     Hub ids: branch, tag or commit (default main); --token TOKEN: for gated/private ones (default HF_TOKEN)
  --progress         show a progress bar on stderr (default: on for long input when stderr is a terminal)`;

const OPTIONS = {
  json: { type: 'boolean' }, line: { type: 'boolean' }, 'num-beams': { type: 'string' }, model: { type: 'string' },
  revision: { type: 'string' }, token: { type: 'string' },
  progress: { type: 'boolean' }, 'no-lexicon': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function format(words: PhonemizedWord[], json: boolean, line: boolean, text: string): string {
  if (json) return JSON.stringify({ text, words });
  if (line) return words.map((w) => `${w.word || w.text}/${w.phonemes.length ? w.phonemes.join('-') : '?'}`).join(' ');
  const width = words.reduce((m, w) => Math.max(m, (w.word || w.text).length), 0);
  return words.map((w) => `${(w.word || w.text).padEnd(width)}  ${w.phonemes.length ? w.phonemes.join(' ') : '?'}`).join('\n');
}

export async function phonemizeCommand(argv: string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (e) {
    throw new InputError(`${(e as Error).message}\n\n${PHONEMIZE_HELP}`);
  }
  if (values.help) { console.log(PHONEMIZE_HELP); return 0; }
  const beams = values['num-beams'] === undefined ? undefined : Number(values['num-beams']);
  if (beams !== undefined && !(Number.isInteger(beams) && beams >= 1)) throw new InputError(`--num-beams must be a positive integer, got '${values['num-beams']}'`);

  const fromStdin = positionals.length === 0 || (positionals.length === 1 && positionals[0] === '-');
  if (fromStdin && process.stdin.isTTY) throw new InputError(`no text given\n\n${PHONEMIZE_HELP}`);
  const lines = fromStdin ? (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '') : [positionals.join(' ')];

  const g2p = await Phonemizer.load(values.model, { lexicon: values['no-lexicon'] !== true, revision: values.revision, token: values.token });
  // Pronounce every distinct word of the whole input first (batched, with progress), then print per line.
  const { textToWords } = await import('../g2p/text.js');
  const perLine = lines.map((l) => textToWords(l));
  const allWords = perLine.flatMap((ws) => ws.map((w) => w.word));
  const showProgress = values.progress ?? (process.stderr.isTTY === true && allWords.length > 200);
  const bar = (done: number, total: number) => {
    const w = 30, f = total ? Math.round((w * done) / total) : w;
    process.stderr.write(`\r[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${done}/${total} distinct words`);
    if (done === total) process.stderr.write('\n');
  };
  const phones = await g2p.phonemizeWords(allWords, { numBeams: beams, onProgress: showProgress ? bar : undefined });
  let at = 0;
  lines.forEach((text, i) => {
    const words: PhonemizedWord[] = perLine[i].map((w) => ({ text: w.text, word: w.word, phonemes: phones[at++], source: g2p.sourceOf(w.word) }));
    console.log(format(words, values.json === true, values.line === true, text));
  });
  g2p.dispose();
  return 0;
}
