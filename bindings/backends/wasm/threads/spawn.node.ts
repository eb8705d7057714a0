// Node's side of pool.ts: the worker is the shared worker text plus Node's start line, run with eval (no
// separate file to locate, in dist/ and under vitest alike). Kept in its own *.node module so that browser and
// edge bundles, which replace imports of *.node.js, never contain Node-specific code.
import type { Worker } from 'node:worker_threads';

export async function spawnNodeWorker(source: string): Promise<Worker> {
  // dynamic even here: the Deno bundle inlines this module and must name Node modules only dynamically
  const { Worker } = await import('node:worker_threads');
  // The start line uses import(), not require(): the worker inherits the parent's flags, and under
  // `node --input-type=module` (or a default type of module) eval'd code is an ES module without require.
  // Messages posted meanwhile wait in the port's queue.
  const start = "import('node:worker_threads').then((w) => w.parentPort.once('message', serve));";
  const w = new Worker(`${source}\n${start}\n`, { eval: true });
  w.unref();   // an idle pool never keeps the process alive
  return w;
}
