// `wasm-seq2seq generate --model DIR|HUB_ID --input-ids '[[...]]' [options] [--json]`
// Unset options fall back to the model's generation_config.json, as in transformers.
import { parseArgs } from 'node:util';
import { InputError } from '../errors.js';
import { loadModel } from '../model/load.js';
import type { ModelGenerateOptions } from '../model/model.js';

export const GENERATE_HELP = `usage: wasm-seq2seq generate --model DIR|HUB_ID --input-ids '[[ids...], ...]' [options]
       wasm-seq2seq generate --model DIR|HUB_ID [options] "text" ["more text" ...]   (the repo's tokenizer; stdin if "-")

  --model DIR|HUB_ID           Hugging Face folder (config.json, model.safetensors[, generation_config.json]), or a
                               Hub id such as Helsinki-NLP/opus-mt-en-de (downloaded once into the Hugging Face cache;
                               an existing folder of that name wins; HF_ENDPOINT, HF_HUB_OFFLINE=1 as in huggingface_hub)
  --revision REV               Hub ids: branch, tag or commit (default main)
  --token TOKEN                Hub ids: access token for gated/private models (default: HF_TOKEN)
  --input-ids JSON             token id rows (may differ in length: padded and masked)
  --attention-mask JSON        1 = token, 0 = padding (default: from row lengths / pad ids)
  --num-beams N                1 = greedy
  --num-return-sequences N     hypotheses per input (<= num beams)
  --max-new-tokens N | --max-length N
  --min-new-tokens N | --min-length N
  --length-penalty X           beam score = sum logprobs / length^X
  --early-stopping true|false|never
  --repetition-penalty X       --no-repeat-ngram-size N
  --decoder-start-token-id N   --forced-bos-token-id N   --forced-eos-token-id N
  --src-lang CODE --tgt-lang CODE   text input to NLLB / M2M100 / mBART (e.g. eng_Latn fra_Latn)
  --quantize int8|none         int8: quantise the linear layers at load (default: as the weights are stored)
  --threads N|auto             kernel threads (default auto: up to 4 for models of 8M+ parameters)
  --backend wasm|webgpu|auto   where it runs (default wasm; auto = WebGPU when an adapter exists)
  --stream                     greedy: print each step's tokens as they are generated
  --json                       print {"sequences": [[...]], "scores": [...] | null} (+ "text" for text input)
  --timing                     print load and generation times to stderr`;

const OPTIONS = {
  model: { type: 'string' }, revision: { type: 'string' }, token: { type: 'string' }, 'input-ids': { type: 'string' }, 'attention-mask': { type: 'string' },
  'num-beams': { type: 'string' }, 'num-return-sequences': { type: 'string' },
  'max-new-tokens': { type: 'string' }, 'max-length': { type: 'string' },
  'min-new-tokens': { type: 'string' }, 'min-length': { type: 'string' },
  'length-penalty': { type: 'string' }, 'early-stopping': { type: 'string' },
  'repetition-penalty': { type: 'string' }, 'no-repeat-ngram-size': { type: 'string' },
  'decoder-start-token-id': { type: 'string' }, 'forced-bos-token-id': { type: 'string' }, 'forced-eos-token-id': { type: 'string' },
  'src-lang': { type: 'string' }, 'tgt-lang': { type: 'string' },
  quantize: { type: 'string' }, threads: { type: 'string' }, backend: { type: 'string' },
  stream: { type: 'boolean' }, json: { type: 'boolean' }, timing: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InputError(`--${name} must be an integer, got '${v}'`);
  return n;
}

/** --threads: a count or 'auto'. */
function threads(v: string | undefined): number | 'auto' | undefined {
  return v === undefined || v === 'auto' ? v : int('threads', v);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InputError(`--${name} must be a number, got '${v}'`);
  return n;
}

function rows(name: string, v: string | undefined): number[][] | undefined {
  if (v === undefined) return undefined;
  let parsed: unknown;
  try { parsed = JSON.parse(v); } catch { throw new InputError(`--${name} must be JSON like [[1,2,3],[4,5]], got '${v}'`); }
  if (!Array.isArray(parsed) || !parsed.every((r) => Array.isArray(r) && r.every((x) => typeof x === 'number'))) {
    throw new InputError(`--${name} must be a JSON array of arrays of numbers`);
  }
  return parsed as number[][];
}

export async function generateCommand(argv: string[]): Promise<number> {
  let values, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (e) {
    throw new InputError(`${(e as Error).message}\n\n${GENERATE_HELP}`);
  }
  if (values.help) { console.log(GENERATE_HELP); return 0; }
  if (!values.model) throw new InputError(`--model is required\n\n${GENERATE_HELP}`);
  const inputIds = rows('input-ids', values['input-ids']);
  if (inputIds && positionals.length) throw new InputError('give either --input-ids or text, not both');
  let texts: string[] | undefined;
  if (positionals.length === 1 && positionals[0] === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    texts = Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  } else if (positionals.length) texts = positionals;
  if (!inputIds && !texts?.length) throw new InputError(`--input-ids or text is required\n\n${GENERATE_HELP}`);
  const input = texts ?? inputIds!;
  const es = values['early-stopping'];
  if (es !== undefined && !['true', 'false', 'never'].includes(es)) throw new InputError(`--early-stopping must be true, false or never, got '${es}'`);

  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const t0 = performance.now();
    const model = await loadModel(values.model, {
      quantize: values.quantize as 'int8' | 'none' | undefined,
      threads: threads(values.threads),
      backend: values.backend as 'wasm' | 'webgpu' | 'auto' | undefined,
      revision: values.revision,
      token: values.token,
    });
    const t1 = performance.now();
    const opts: ModelGenerateOptions = {
      attentionMask: rows('attention-mask', values['attention-mask']),
      numBeams: int('num-beams', values['num-beams']),
      numReturnSequences: int('num-return-sequences', values['num-return-sequences']),
      maxNewTokens: int('max-new-tokens', values['max-new-tokens']),
      maxLength: int('max-length', values['max-length']),
      minNewTokens: int('min-new-tokens', values['min-new-tokens']),
      minLength: int('min-length', values['min-length']),
      lengthPenalty: num('length-penalty', values['length-penalty']),
      earlyStopping: es === undefined ? undefined : es === 'never' ? 'never' : es === 'true',
      repetitionPenalty: num('repetition-penalty', values['repetition-penalty']),
      noRepeatNgramSize: int('no-repeat-ngram-size', values['no-repeat-ngram-size']),
      decoderStartTokenId: int('decoder-start-token-id', values['decoder-start-token-id']),
      forcedBosTokenId: int('forced-bos-token-id', values['forced-bos-token-id']),
      forcedEosTokenId: int('forced-eos-token-id', values['forced-eos-token-id']),
      srcLang: values['src-lang'],
      tgtLang: values['tgt-lang'],
      signal: controller.signal,
    };
    let out;
    if (values.stream) {
      const it = model.stream(input, opts);
      for (;;) {
        const r = await it.next();
        if (r.done) { out = r.value; break; }
        const ev = r.value;
        if (ev.type === 'tokens' && !values.json) {
          if (texts && input.length === 1) process.stdout.write(ev.text?.[0] ?? '');
          else console.log(`step ${ev.step}: ${ev.tokens.map((t, b) => (ev.emitted[b] ? String(t) : '-')).join(' ')}`);
        }
      }
    } else {
      out = await model.generate(input, opts);
    }
    const t2 = performance.now();
    if (values.json) console.log(JSON.stringify({ sequences: out.sequences, scores: out.scores, ...(out.text ? { text: out.text } : {}) }));
    else if (out.text) {
      if (values.stream && input.length === 1) process.stdout.write('\n');
      else out.text.forEach((t, i) => console.log(`${out.scores ? `${out.scores[i].toFixed(5)}\t` : ''}${t}`));
    } else {
      out.sequences.forEach((s, i) => console.log(`${out.scores ? `${out.scores[i].toFixed(5)}\t` : ''}${s.join(' ')}`));
    }
    if (values.timing) console.error(`load ${(t1 - t0).toFixed(1)} ms, generate ${(t2 - t1).toFixed(1)} ms on ${model.backendNote}`);
    model.dispose();
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
