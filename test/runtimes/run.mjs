// Run a child process without blocking this one (the test servers live here), with a time limit.
import { spawn } from 'node:child_process';
import { ROOT } from './helpers.mjs';

export function run(cmd, args, { env = {}, timeout = 120_000, cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, out: stdout + stderr });
    });
  });
}

/** The last line of stdout that is a JSON object. */
export function lastJson(stdout) {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (!line) throw new Error(`no JSON in the output:\n${stdout}`);
  return JSON.parse(line);
}
