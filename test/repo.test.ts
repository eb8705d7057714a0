// The repository stands alone and its module graph has no cycles.
//  (a) Nothing reads the sibling `shared` checkout (one directory up) or an absolute path under the machine's work
//      directory, and nothing cites the two reference documents kept there (its architecture notes and its NumPy
//      checker): docs/model-spec.md and tools/reference/numpy_model.py are the repo's own. Checked in every file
//      (comments included) under bindings/, test/ (minus the fixture data in test/fixtures), tools/, bench/, bin/,
//      examples/, and the root package.json and configs.
//      The patterns are spelled in pieces below so that this file does not match itself.
//  (b) No import cycle among the TypeScript/JavaScript modules of bindings/, test/, tools/, bench/ (relative
//      imports, `./x.js` resolved to the `.ts` source), nor among the Python modules of tools/.
//      Type-only imports (`import type`, `export type … from`, or an import whose every name is `type`) are
//      ignored: TypeScript erases them, so they cannot make one module's evaluation wait for another's, and
//      a type-level reference in both directions is ordinary. Dynamic `import()` is ignored too: it runs
//      after both modules have finished loading. Every other static import/export-from counts.
//      Python: every `import x` / `from x import …` counts, also the deferred ones inside functions (a cycle
//      that only works because an import was pushed into a function body is what this catches).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.git', '__pycache__', '.models', '.deno']);

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) {
      if (!SKIP_DIRS.has(name) && rel !== join('test', 'fixtures')) walk(rel, out);
    } else out.push(rel);
  }
  return out;
}

const TEXT = /\.(ts|mts|cts|js|mjs|cjs|py|json|md|sh|html|capnp|jsonc|toml|txt|ya?ml)$/;
const SCRIPT = /\.(ts|mts|cts|js|mjs|cjs)$/;

// Spelled in pieces so that this file does not match itself.
const SHARED = ['..', 'shared'].join('/');
const WORK = `/${'work'}/`;
const ARCH = ['ARCHIT', 'ECTURES'].join('');
const FORBIDDEN: [string, RegExp][] = [
  ['the sibling shared checkout', new RegExp(`\\.\\.[/\\\\]+${'shared'}\\b`)],
  ['an absolute path in the work directory', new RegExp(`(^|[^\\w.~-])${WORK}`)],
  ['the shared architecture notes (not in this repo: cite docs/model-spec.md)', new RegExp(`${ARCH}\\.md`)],
  ['the shared NumPy checker (not in this repo: use tools/reference/numpy_model.py)', new RegExp(['check', 'fixtures', 'numpy'].join('_'))],
];

function offenders(files: string[], read: (f: string) => string): string[] {
  const found: string[] = [];
  for (const f of files) {
    read(f).split('\n').forEach((line, i) => {
      for (const [what, re] of FORBIDDEN) if (re.test(line)) found.push(`${f}:${i + 1} refers to ${what}: ${line.trim()}`);
    });
  }
  return found;
}

// ---------------------------------------------------------------------------------------------- cycles
/** Nodes on cycles, one list per cycle found by a depth-first search (each cycle reported once). */
function findCycles(graph: Map<string, Set<string>>): string[][] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (u: string) => {
    state.set(u, 1);
    stack.push(u);
    for (const v of [...(graph.get(u) ?? [])].sort()) {
      if (state.get(v) === 1) cycles.push([...stack.slice(stack.indexOf(v)), v]);
      else if (!state.has(v)) visit(v);
    }
    stack.pop();
    state.set(u, 2);
  };
  for (const u of [...graph.keys()].sort()) if (!state.has(u)) visit(u);
  return cycles;
}

/** Runtime (non type-only, static) relative module specifiers of a TS/JS source. */
function runtimeImports(text: string, file = 'x.ts'): string[] {
  const kind = /\.(js|mjs|cjs)$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const clause = st.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const allTypes = clause && !clause.name && named && ts.isNamedImports(named) && named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      if (!allTypes) out.push(st.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      const named = st.exportClause;
      const allTypes = named && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (!st.isTypeOnly && !allTypes) out.push(st.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(st) && !st.isTypeOnly && ts.isExternalModuleReference(st.moduleReference) &&
      ts.isStringLiteral(st.moduleReference.expression)) {
      out.push(st.moduleReference.expression.text);
    }
  }
  return out.filter((s) => s.startsWith('./') || s.startsWith('../'));
}

/** `./x.js` → the source file that defines it (x.ts beside a compiled name), or null (outside the repo, assets). */
function resolveScript(from: string, spec: string, exists: (f: string) => boolean): string | null {
  const target = join(dirname(from), spec);
  const ext = extname(target);
  const stem = ext ? target.slice(0, -ext.length) : target;
  const candidates = [target, ...({ '.js': ['.ts', '.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'], '': ['.ts', '.js', '/index.ts', '/index.js'] }[ext] ?? [])
    .map((e) => stem + e)];
  return candidates.find(exists) ?? null;
}

/** Top-level Python modules a file imports (docstrings, strings and comments removed first). */
function pythonImports(text: string): string[] {
  const code = text.replace(/("""|''')[\s\S]*?\1/g, '').replace(/#.*$/gm, '');
  const out: string[] = [];
  for (const line of code.split('\n')) {
    const from = /^\s*from\s+([A-Za-z_][\w.]*)\s+import\b/.exec(line);
    if (from) out.push(from[1].split('.')[0]);
    const imp = /^\s*import\s+(.+)$/.exec(line);
    if (imp) for (const part of imp[1].split(',')) out.push(part.trim().split(/\s+/)[0].split('.')[0]);
  }
  return out.filter(Boolean);
}

/** Python module name → file: the importing file's own folder first (its sys.path[0]), else the one tools/ file of
 *  that name (the tools put sibling folders such as tools/reference on sys.path). */
function pythonGraph(files: string[], read: (f: string) => string): Map<string, Set<string>> {
  const byName = new Map<string, string[]>();
  for (const f of files) {
    const name = f.split('/').pop()!.replace(/\.py$/, '');
    byName.set(name, [...(byName.get(name) ?? []), f]);
  }
  const graph = new Map<string, Set<string>>();
  for (const f of files) {
    const deps = new Set<string>();
    for (const mod of pythonImports(read(f))) {
      const candidates = byName.get(mod) ?? [];
      const local = candidates.filter((c) => dirname(c) === dirname(f));
      const target = local.length === 1 ? local[0] : candidates.length === 1 ? candidates[0] : null;
      if (target && target !== f) deps.add(target);
    }
    graph.set(f, deps);
  }
  return graph;
}

// Cycles tolerated for now, each as the sorted list of its files with a `// KNOWN: <why, and who removes it>` note.
const KNOWN_CYCLES: string[][] = [];

// ---------------------------------------------------------------------------------------------- the checks
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const exists = (f: string) => {
  try {
    return statSync(join(ROOT, f)).isFile();
  } catch {
    return false;
  }
};

describe('the repository stands alone', () => {
  const areas = ['bindings', 'test', 'tools', 'bench', 'bin', 'examples'];
  const files = [
    ...areas.flatMap((d) => walk(d)).filter((f) => TEXT.test(f)),
    ...readdirSync(ROOT).filter((f) => statSync(join(ROOT, f)).isFile() && /\.(json|mjs|cjs|js|ts)$/.test(f) &&
      f !== 'package-lock.json'),
  ];

  it('scans the files it is meant to', () => {
    for (const f of ['package.json', 'bindings/index.ts', 'tools/gen_reference.py', 'tools/reference/numpy_model.py',
      'test/config.test.ts', 'bench/compare.ts', 'vitest.config.ts']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith('test/fixtures/'))).toBe(false);
  });

  it('nothing reads the shared checkout or the work directory, nor cites their documents', () => {
    expect(offenders(files, read)).toEqual([]);
  });

  it('the check finds what it looks for', () => {
    const fake = new Map([
      ['tools/a.py', `REF = "${SHARED}/reference"\n`],
      ['test/b.ts', `const p = '${WORK}x/config.json';\n`],
      ['bindings/c.ts', `// see the docs\nconst u = 'file://${WORK}y';\n`],
      ['bindings/f.ts', `/* ${SHARED}/x in a comment */ const ok = 1;\n`],
      ['tools/g.py', `p = "..\\\\${'shared'}\\\\data"\n`],
      ['tools/d.py', `# ${ARCH}.md §1\n`],
      ['tools/e.py', `x = "/workspace/a" + "${SHARED}lib" + "/home${WORK}x"  # no match\n`],
    ]);
    const found = offenders([...fake.keys()], (f) => fake.get(f)!);
    expect(found.map((l) => l.split(' refers')[0])).toEqual(['tools/a.py:1', 'test/b.ts:1', 'bindings/c.ts:2', 'bindings/f.ts:1', 'tools/g.py:1', 'tools/d.py:1']);
  });
});

describe('the npm package', () => {
  it('ships the model, not its training record or the data splits (npm pack --dry-run)', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const paths: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
    expect(paths).toContain('package.json');
    // the model folder: exactly what the runtime reads (plus the dictionary's license) and the model card
    expect(paths.filter((p) => p.startsWith('weights/')).sort()).toEqual([
      'weights/README.md', 'weights/g2p-en/CMUDICT-COPYING', 'weights/g2p-en/config.json',
      'weights/g2p-en/generation_config.json', 'weights/g2p-en/lexicon.tsv.gz', 'weights/g2p-en/model.safetensors',
      'weights/g2p-en/vocab.json',
    ]);
    expect(paths.filter((p) => /\.tsv$|train_state|reference_sample|metrics\.json|^(test|tools|bench)\//.test(p))).toEqual([]);
  });
});

describe('no import cycles', () => {
  it('among the TypeScript/JavaScript modules of bindings/, test/, tools/, bench/', () => {
    const scripts = ['bindings', 'test', 'tools', 'bench'].flatMap((d) => walk(d)).filter((f) => SCRIPT.test(f) && !f.endsWith('.d.ts'));
    expect(scripts.length).toBeGreaterThan(50);
    const graph = new Map<string, Set<string>>();
    for (const f of scripts) {
      graph.set(f, new Set(runtimeImports(read(f), f).map((s) => resolveScript(f, s, exists)).filter((t): t is string => t !== null)));
    }
    expect(graph.get('bindings/index.ts')?.size, 'imports are resolved').toBeGreaterThan(0);
    const cycles = findCycles(graph).filter((c) => !KNOWN_CYCLES.some((k) => k.join() === [...new Set(c)].sort().join()));
    expect(cycles.map((c) => c.join(' -> '))).toEqual([]);
  });

  it('among the Python modules of tools/', () => {
    const py = walk('tools').filter((f) => f.endsWith('.py'));
    const graph = pythonGraph(py, read);
    expect(graph.get('tools/gen_reference.py')).toContain('tools/reference/numpy_model.py');
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('the checks find cycles', () => {
    const ts1 = `import { a } from './b.js';\nimport type { T } from './c.js';\nimport { type U, type V } from './d.js';\n` +
      `export { x } from './e.js';\nexport type { Y } from './f.js';\nimport './g.js';\nconst m = await import('./h.js');\n` +
      `import { type W, z } from './i.js';\nimport dflt, { type Q } from './j.js';\nimport lib from 'node:fs';\n`;
    expect(runtimeImports(ts1)).toEqual(['./b.js', './e.js', './g.js', './i.js', './j.js']);
    expect(pythonImports('"""\nimport nothing\n"""\nimport os, data as d\nfrom fixture_io import ROOT\n' +
      'def f():\n    import train  # deferred\n    from .rel import x\n')).toEqual(['os', 'data', 'fixture_io', 'train']);
    const g = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', new Set(['b'])], ['b', new Set<string>()]]))).toEqual([]);
    // the cycle tools/tokenizers had: families imported make_spm_fixtures, which imports families
    const py = new Map([
      ['tools/tokenizers/make_spm_fixtures.py', 'import families\n'],
      ['tools/tokenizers/families.py', 'def write_all():\n    from make_spm_fixtures import write_cases\n'],
    ]);
    expect(findCycles(pythonGraph([...py.keys()], (f) => py.get(f)!)).length).toBe(1);
  });
});

