// `npm run fuzz`: mutates every fixture file kind and the public API's arguments (kinds.ts), each case a pure
// function of its seed, and counts outcomes: an answer, a typed error by class, a raw (untyped) error, a crash,
// a hang. Cases run in child processes (child.ts), in chunks, two at a time: the cheap path stays in-process
// within a child (thousands of cases a second), while a child that dies or stops answering is caught, its
// case reported by seed, and a fresh child goes on after it.
//
//   npm run fuzz                                   100,000 cases of every kind
//   npm run fuzz -- --cases 2000 --kinds api,config.json
//   npm run fuzz -- --kinds safetensors --from 1234 --cases 1     reproduce one seed (in this process, with its error)
//   options: --jobs N (default 2), --chunk N (cases per child, default 5000), --hang-ms N (default 30000)
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCase, type Report } from './child.js';
import { KINDS } from './kinds.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' }, kinds: { type: 'string' }, from: { type: 'string', default: '0' },
    jobs: { type: 'string', default: '2' }, chunk: { type: 'string', default: '5000' }, 'hang-ms': { type: 'string', default: '30000' },
  },
});
const cases = Number(values.cases), from = Number(values.from), jobs = Number(values.jobs), chunk = Number(values.chunk);
const hangMs = Number(values['hang-ms']);
const kinds = values.kinds ? values.kinds.split(',') : KINDS.map((k) => k.name);
for (const k of kinds) if (!KINDS.some((x) => x.name === k)) throw new Error(`unknown kind ${k}; kinds: ${KINDS.map((x) => x.name).join(', ')}`);

interface Tally { counts: Record<string, number>; findings: string[]; ms: number; done: number }

const CHILD = new URL('./child.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fuzz-'));

/** Runs seeds [lo, hi) of `kind` in child processes, restarting after a crash or hang. */
function runRange(kind: string, lo: number, hi: number, tally: Tally, slot: number, skip: number[] = []): Promise<void> {
  return new Promise((resolve) => {
    const progress = join(dir, `progress-${slot}`);
    let reported = lo; // the seeds before this one have been counted (the child reports them in order)
    const child = fork(CHILD, [kind, String(lo), String(hi), progress, skip.join(',')], { execArgv: ['--max-old-space-size=3072'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let finished = false, lastSeed = '', lastChange = Date.now(), stderr = '';
    child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    const current = () => { try { return readFileSync(progress, 'ascii').trim(); } catch { return ''; } };
    let failed: number | null = null; // the seed of a crash or hang: go on after it once the child is gone
    const watchdog = setInterval(() => {
      const s = current();
      if (s !== lastSeed) { lastSeed = s; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > hangMs && s !== '') {
        clearInterval(watchdog);
        record('hang', Number(s), `no answer in ${hangMs} ms`);
        child.kill('SIGKILL');
      }
    }, 250);
    const record = (what: 'hang' | 'crash', seed: number, why: string) => {
      failed = seed;
      tally.counts[what] = (tally.counts[what] ?? 0) + 1;
      tally.done++;
      tally.findings.push(`${what} ${kind} seed ${seed}: ${why}\n    reproduce: npm run fuzz -- --kinds ${kind} --from ${seed} --cases 1`);
    };
    child.on('message', (m: Report) => {
      tally.done += m.done;
      reported = m.next;
      for (const [k, n] of Object.entries(m.counts)) tally.counts[k] = (tally.counts[k] ?? 0) + n;
      for (const f of m.raw) tally.findings.push(`${f.outcome} ${kind} seed ${f.seed}: ${f.message}\n${f.stack}\n    reproduce: npm run fuzz -- --kinds ${kind} --from ${f.seed} --cases 1`);
      if (m.final) finished = true;
    });
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      if (failed === null && !finished) record('crash', Number(current()), `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      // the cases after the last report ran unreported: run them again (they are deterministic), without the failed one
      if (failed !== null) void runRange(kind, reported, hi, tally, slot, [...skip, failed]).then(resolve);
      else resolve();
    });
  });
}

async function runKind(kind: string): Promise<Tally> {
  const tally: Tally = { counts: {}, findings: [], ms: 0, done: 0 };
  const t0 = Date.now();
  const ranges: [number, number][] = [];
  for (let lo = from; lo < from + cases; lo += chunk) ranges.push([lo, Math.min(lo + chunk, from + cases)]);
  let next = 0;
  const progress = setInterval(() => process.stderr.write(`\r${kind}: ${tally.done}/${cases} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s`), 2000);
  await Promise.all(Array.from({ length: jobs }, async (_, slot) => {
    while (next < ranges.length) {
      const [lo, hi] = ranges[next++];
      await runRange(kind, lo, hi, tally, slot);
    }
  }));
  clearInterval(progress);
  process.stderr.write('\n');
  tally.ms = Date.now() - t0;
  return tally;
}

async function reproduce(kind: string, seed: number): Promise<void> {
  const { outcome, error } = await runCase(kind, seed);
  console.log(`${kind} seed ${seed}: ${outcome}`);
  if (error) console.log(error);
}

if (cases === 1) {
  for (const k of kinds) await reproduce(k, from);
} else {
  const rows: string[] = [];
  let bad = 0;
  for (const kind of kinds) {
    const t = await runKind(kind);
    const typed = Object.entries(t.counts).filter(([k]) => k !== 'answer' && k !== 'crash' && k !== 'hang' && !k.startsWith('raw ')).sort((a, b) => b[1] - a[1]);
    const raw = Object.entries(t.counts).filter(([k]) => k.startsWith('raw ')).reduce((n, [, c]) => n + c, 0);
    const crash = t.counts.crash ?? 0, hang = t.counts.hang ?? 0;
    bad += raw + crash + hang;
    rows.push(`${kind.padEnd(24)} ${String(t.done).padStart(7)} cases ${(t.ms / 1000).toFixed(0).padStart(5)} s | answer ${t.counts.answer ?? 0} | ` +
      `${typed.map(([k, n]) => `${k} ${n}`).join(', ')} | raw ${raw} | crash ${crash} | hang ${hang}`);
    console.log(rows[rows.length - 1]);
    for (const f of t.findings.slice(0, 30)) console.log(`  ${f}`);
  }
  console.log(`\n${'kind'.padEnd(24)}   cases, time | outcomes (answer = returned without error; typed errors by class)\n${rows.join('\n')}`);
  console.log(bad === 0 ? '\n0 raw errors, 0 crashes, 0 hangs' : `\n${bad} raw errors, crashes or hangs: see above`);
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = bad === 0 ? 0 : 1;
}
