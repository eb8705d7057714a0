// Fuzzing the pytorch_model.bin reader (bindings/weights/pytorch.ts and what it uses): `npm run fuzz:bin`.
// Not part of `npm test`. Each case is a mutation (mutate.ts) of one of the base files — the four transformers
// fixtures (marian/bart × zip/legacy) and the two torch-made forms files — chosen by its seed; the case is parsed
// and every tensor read (f32 for float tensors, raw bytes for the others), and its outcome recorded:
//   loaded (same tensors as the base / other values / other names or shapes), a typed error by class, a raw
//   (untyped) error, a crash (the process died), a hang (over the per-case time limit).
// Cases run in batches in child processes (one per core) that announce each case before running it, so a crash or
// a hang is charged to its seed; the parent kills a child that is silent for longer than the limit and starts a
// new one after that case. Raw errors, crashes and hangs are listed by seed; `--case SEED` replays one case in this
// process with its stack trace.
//
//   npm run fuzz:bin -- [--cases 100000] [--seed 1] [--jobs N] [--batch 2000] [--timeout-ms 5000]
//   npm run fuzz:bin -- --case SEED
//   npm run fuzz:bin -- --cases 4000 --inject      (checks the harness: seeds 1001/2002/3003 error, hang, crash)
import { spawn } from 'node:child_process';
import { readFileSync, writeSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Seq2SeqError } from '../../bindings/errors.js';
import { parsePytorchBin } from '../../bindings/weights/pytorch.js';
import { describeBase, mutate, type Base } from './mutate_bin.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url); // from dist/tools/fuzz/
const BASES = ['marian_tiny_bin_zip/pytorch_model.bin', 'marian_tiny_bin_legacy/pytorch_model.bin', 'bart_tiny_bin_zip/pytorch_model.bin',
  'bart_tiny_bin_legacy/pytorch_model.bin', 'pytorch_bin_forms/forms_zip.bin', 'pytorch_bin_forms/forms_legacy.bin'];
const FLOAT = new Set(['F32', 'F16', 'BF16']);

function loadBases(): Base[] {
  return BASES.map((f) => describeBase(f, new Uint8Array(readFileSync(new URL(f, FIXTURES)))));
}

/** Everything a file yields, for comparing a loaded case with its base. */
function readAll(bytes: Uint8Array, label: string): Map<string, string> {
  const ck = parsePytorchBin(bytes, label);
  const out = new Map<string, string>();
  for (const n of ck.names) {
    const info = ck.info(n);
    const data = FLOAT.has(info.dtype) ? new Uint8Array(ck.f32(n).buffer) : ck.raw(n);
    let h = 0x811c9dc5; // FNV-1a of the values
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193);
    out.set(n, `${info.dtype}${JSON.stringify(info.shape)}#${(h >>> 0).toString(16)}`);
  }
  return out;
}

function outcome(bases: readonly Base[], expected: Map<string, string>[], seed: number): { kinds: string[]; result: string; error?: unknown } {
  const { base, bytes, kinds } = mutate(bases, seed);
  try {
    const got = readAll(bytes, 'fuzz.bin');
    const want = expected[bases.indexOf(base)];
    if (got.size === want.size && [...got].every(([k, v]) => want.get(k) === v)) return { kinds, result: 'loaded: same tensors' };
    const sameShapes = got.size === want.size && [...got].every(([k, v]) => want.get(k)?.split('#')[0] === v.split('#')[0]);
    return { kinds, result: sameShapes ? 'loaded: other values' : 'loaded: other names/shapes' };
  } catch (e) {
    if (e instanceof Seq2SeqError) return { kinds, result: `typed: ${e.name}` };
    return { kinds, result: `RAW: ${e instanceof Error ? e.constructor.name : typeof e}: ${String((e as Error)?.message ?? e).slice(0, 120)}`, error: e };
  }
}

// ---------------------------------------------------------------------------------------------- child
/** `--inject`: seeds 1001, 2002, 3003 raise a raw error, hang and crash, to show that the harness reports each. */
function injected(seed: number): void {
  if (seed === 1001) throw new RangeError('injected raw error');
  if (seed === 2002) for (;;);
  if (seed === 3003) process.abort();
}

function child(from: number, to: number, inject: boolean): void {
  const bases = loadBases();
  const expected = bases.map((b) => readAll(b.bytes, b.name));
  const say = (s: string) => writeSync(1, s + '\n'); // synchronous: the parent sees "begin" before the case runs
  for (let seed = from; seed < to; seed++) {
    say(`B ${seed}`);
    const t0 = performance.now();
    let r: ReturnType<typeof outcome>;
    try {
      if (inject) injected(seed);
      r = outcome(bases, expected, seed);
    } catch (e) {
      r = { kinds: ['injected'], result: `RAW: ${(e as Error).constructor.name}: ${(e as Error).message}` };
    }
    const { kinds, result } = r;
    say(`E ${seed}\t${kinds.join('+')}\t${result}\t${(performance.now() - t0).toFixed(1)}`);
  }
  say('DONE');
}

// ---------------------------------------------------------------------------------------------- parent
interface Totals { outcomes: Map<string, number>; byKind: Map<string, Map<string, number>>; bad: string[]; done: number; slowest: [number, number] }

function runBatch(from: number, to: number, timeoutMs: number, totals: Totals, inject: boolean): Promise<void> {
  return new Promise((resolveBatch) => {
    const start = (first: number) => {
      if (first >= to) { resolveBatch(); return; }
      const proc = spawn(process.execPath, ['--max-old-space-size=1024', fileURLToPath(import.meta.url), '--child', String(first), String(to), inject ? 'inject' : ''],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let current = -1, lastBegin = Date.now(), buf = '', stderr = '', finished = false, killedFor = -1;
      const add = (key: string, kinds: string) => {
        totals.outcomes.set(key, (totals.outcomes.get(key) ?? 0) + 1);
        for (const k of kinds.split('+')) {
          const m = totals.byKind.get(k) ?? new Map<string, number>();
          const short = key.startsWith('RAW') ? 'RAW' : key;
          m.set(short, (m.get(short) ?? 0) + 1);
          totals.byKind.set(k, m);
        }
        totals.done++;
      };
      proc.stdout.setEncoding('utf8');
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
      proc.stdout.on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('B ')) { current = Number(line.slice(2)); lastBegin = Date.now(); }
          else if (line.startsWith('E ')) {
            const [seed, kinds, result, ms] = line.slice(2).split('\t');
            add(result, kinds);
            if (Number(ms) > totals.slowest[1]) totals.slowest = [Number(seed), Number(ms)];
            if (result.startsWith('RAW')) totals.bad.push(`seed ${seed} (${kinds}): ${result}`);
            current = -1;
          } else if (line === 'DONE') finished = true;
        }
      });
      const watchdog = setInterval(() => {
        if (current >= 0 && Date.now() - lastBegin > timeoutMs) { killedFor = current; proc.kill('SIGKILL'); }
      }, 100);
      proc.on('exit', (code, signal) => {
        clearInterval(watchdog);
        if (finished && code === 0) { resolveBatch(); return; }
        const seed = killedFor >= 0 ? killedFor : current;
        if (seed < 0) { totals.bad.push(`child for ${first}..${to} died between cases (${code ?? signal}): ${stderr.trim().split('\n').pop()}`); resolveBatch(); return; }
        const what = killedFor >= 0 ? 'hang' : 'crash';
        add(what, 'unknown');
        totals.bad.push(`seed ${seed}: ${what} (${killedFor >= 0 ? `over ${timeoutMs} ms` : `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`})`);
        start(seed + 1);
      });
    };
    start(from);
  });
}

async function parent(args: Map<string, string>): Promise<number> {
  const cases = Number(args.get('--cases') ?? 100_000), seed0 = Number(args.get('--seed') ?? 1);
  const jobs = Number(args.get('--jobs') ?? cpus().length), batch = Number(args.get('--batch') ?? 2000);
  const timeoutMs = Number(args.get('--timeout-ms') ?? 5000);
  console.log(`fuzz:bin: ${cases} cases from seed ${seed0}, ${jobs} processes, batches of ${batch}, ${timeoutMs} ms per case; bases: ${BASES.join(', ')}`);
  const totals: Totals = { outcomes: new Map(), byKind: new Map(), bad: [], done: 0, slowest: [0, 0] };
  const t0 = Date.now();
  const queue: [number, number][] = [];
  for (let s = seed0; s < seed0 + cases; s += batch) queue.push([s, Math.min(s + batch, seed0 + cases)]);
  const progress = setInterval(() => process.stderr.write(`  ${totals.done}/${cases} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s\r`), 5000);
  await Promise.all(Array.from({ length: jobs }, async () => {
    for (let b = queue.shift(); b; b = queue.shift()) await runBatch(b[0], b[1], timeoutMs, totals, args.has('--inject'));
  }));
  clearInterval(progress);
  const secs = (Date.now() - t0) / 1000;
  console.log(`\n${totals.done} cases in ${secs.toFixed(1)} s (${(totals.done / secs).toFixed(0)}/s); slowest case: seed ${totals.slowest[0]}, ` +
    `${totals.slowest[1]} ms\n\noutcomes:`);
  for (const [k, v] of [...totals.outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(v).padStart(8)}  ${k}`);
  console.log('\nby mutation (a case with several mutations counts under each):');
  for (const [k, m] of [...totals.byKind].sort()) console.log(`  ${k.padEnd(20)} ${[...m].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o.replace(/^typed: /, '')} ${n}`).join(', ')}`);
  const bad = totals.bad.length;
  console.log(bad ? `\n${bad} raw errors / crashes / hangs (replay: npm run fuzz:bin -- --case SEED):\n  ${totals.bad.slice(0, 50).join('\n  ')}` : '\nno raw errors, crashes or hangs');
  return bad ? 1 : 0;
}

function replay(seed: number): number {
  const bases = loadBases();
  const { base, bytes, kinds } = mutate(bases, seed);
  console.log(`seed ${seed}: base ${base.name}, mutations ${kinds.join('+')}, ${bytes.length} bytes`);
  const r = outcome(bases, bases.map((b) => readAll(b.bytes, b.name)), seed);
  console.log(r.result);
  if (r.error) console.log((r.error as Error).stack);
  else try { parsePytorchBin(bytes, 'fuzz.bin'); } catch (e) { console.log((e as Error).message); }
  return r.error ? 1 : 0;
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') child(Number(argv[1]), Number(argv[2]), argv[3] === 'inject');
else {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) args.set(argv[i], argv[i + 1]?.startsWith('--') || argv[i] === '--inject' ? '' : argv[++i]);
  const code = args.has('--case') ? replay(Number(args.get('--case'))) : await parent(args);
  process.exitCode = code;
}
