// Which JavaScript runtime this is, decided in one place. Deno answers to `process.versions.node` too (its Node
// compatibility layer): code that needs Node's own behaviour (worker_threads, Dawn) asks isNodeJs().

/** Node's APIs are there (fs, worker_threads, ...): Node, or Deno's compatibility layer. */
export function hasNodeApis(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

export function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
}

/** Node.js itself (not Deno). */
export function isNodeJs(): boolean {
  return hasNodeApis() && !isDeno();
}

/**
 * An environment variable (HF_TOKEN, HF_ENDPOINT, ...), or undefined where there is no environment (browsers,
 * Workers) or reading it is not allowed (Deno without --allow-env).
 */
export function envVar(name: string): string | undefined {
  try {
    const v = typeof process !== 'undefined' ? process.env?.[name] : undefined;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
