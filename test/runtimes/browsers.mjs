// Drives the demo page (examples/browser) in a browser and reports what the page reported (window.__demo).
// Chromium: Debian's /usr/bin/chromium through playwright-core. WebKit: Debian's WebKitGTK MiniBrowser through
// WebKitWebDriver (W3C WebDriver over HTTP; needs an X display: run under xvfb-run). Only 127.0.0.1 is used.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const DEMO_STATE = 'const d = window.__demo; if (!d) return null; const { phonemizer, source, ...r } = d; return JSON.stringify(r);';

export async function chromiumDriver() {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e}`));
  return {
    name: 'chromium',
    version: ctx.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent)),
    log,
    goto: (url) => page.goto(url),
    state: async () => JSON.parse(await page.evaluate(new Function(DEMO_STATE)) ?? 'null'),
    async submit(text) { await page.fill('#text', text); await page.click('#go'); },
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    async close() { await ctx.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function webkitDriver() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const drv = spawn('WebKitWebDriver', [`--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  drv.stderr.on('data', (d) => { stderr += d; });
  const call = async (method, path, body) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(j)}`);
    return j.value;
  };
  let sess;
  for (let i = 0; i < 100 && !sess; i++) {
    try {
      sess = await call('POST', '/session', { capabilities: { alwaysMatch: {
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', ...(process.env.WK_ARGS ? process.env.WK_ARGS.split(' ') : [])] } } } });
    } catch (e) {
      if (!String(e).includes('fetch failed')) { drv.kill('SIGTERM'); throw e; }
      await sleep(100);
    }
  }
  if (!sess) { drv.kill('SIGTERM'); throw new Error(`WebKitWebDriver did not start: ${stderr}`); }
  const S = `/session/${sess.sessionId}`;
  const exec = (script) => call('POST', `${S}/execute/sync`, { script, args: [] });
  const element = async (css) => Object.values(await call('POST', `${S}/element`, { using: 'css selector', value: css }))[0];
  return {
    name: 'webkit',
    version: `WebKitGTK ${sess.capabilities.browserVersion}`,
    log: [],
    goto: (url) => call('POST', `${S}/url`, { url }),
    state: async () => JSON.parse((await exec(DEMO_STATE)) ?? 'null'),
    async submit(text) {
      const input = await element('#text');
      await call('POST', `${S}/element/${input}/clear`, {});
      await call('POST', `${S}/element/${input}/value`, { text });
      await call('POST', `${S}/element/${await element('#go')}/click`, {});
    },
    async screenshot(path) {
      await call('POST', `${S}/execute/async`, { script: 'const d = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => d(1)))', args: [] });
      writeFileSync(path, Buffer.from(await call('GET', `${S}/screenshot`), 'base64'));
    },
    execAsync: (script) => call('POST', `${S}/execute/async`, { script, args: [] }),
    async close() { try { await call('DELETE', S); } finally { drv.kill('SIGTERM'); } },
  };
}

async function waitFor(driver, pred, what, timeoutMs = 90_000) {
  const t0 = Date.now();
  for (;;) {
    const s = await driver.state().catch(() => null);
    if (s && pred(s)) return s;
    if (s?.state === 'error') throw new Error(`${driver.name}: the demo page failed: ${s.error}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`${driver.name}: timed out waiting for ${what}; page state ${JSON.stringify(s)}; console:\n${driver.log.join('\n')}`);
    await sleep(50);
  }
}

/**
 * Loads the page (model downloaded and stored), phonemizes `text2` typed into the page, takes a screenshot,
 * then loads the page again with the server refusing every model request (the model must come from the copy).
 */
export async function runScenario(driver, { server, prefix = '', storage = 'auto', threads, text1, text2, shot }) {
  const cache = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const url = `${server}${prefix}?storage=${storage}&cache=${cache}&text=${encodeURIComponent(text1)}${threads ? `&threads=${threads}` : ''}`;
  await fetch(`${server}__offline?on=0`);
  const t0 = Date.now();
  await driver.goto(url);
  const first = await waitFor(driver, (s) => s.state === 'ready', 'the first load');
  first.pageMs = Date.now() - t0;
  await driver.submit(text2);
  const typed = await waitFor(driver, (s) => s.runs >= 2, 'the typed text to be phonemized');
  if (shot) await driver.screenshot(shot);
  // A second visit: leave for another page first. (WebKitGTK 2.50 loses Cache API entries for a page that is
  // reloaded, or navigated to again, straight from the page that stored them: the new page sees an empty cache.)
  await driver.goto(`${server}blank`);
  await fetch(`${server}__offline?on=1`);
  try {
    const t1 = Date.now();
    await driver.goto(url);
    const offline = await waitFor(driver, (s) => s.state === 'ready', 'the offline reload');
    offline.pageMs = Date.now() - t1;
    return { browser: driver.version, first, typed, offline };
  } finally {
    await fetch(`${server}__offline?on=0`);
  }
}

// `node test/runtimes/browsers.mjs webkit|chromium <server url> <json options>`: one scenario, the result as JSON
// on the last line (the WebKit test runs this under xvfb-run, which provides the X display).
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*[\\/]/, '/'))) {
  const [, , which, server, opts] = process.argv;
  const driver = which === 'webkit' ? await webkitDriver() : await chromiumDriver();
  try {
    console.log(JSON.stringify(await runScenario(driver, { server, ...JSON.parse(opts ?? '{}') })));
  } finally {
    await driver.close();
  }
}
export const haveChromium = () => existsSync(CHROMIUM);
export const haveWebKit = () => existsSync(MINIBROWSER) && ['/usr/bin/WebKitWebDriver', '/usr/bin/xvfb-run'].every(existsSync);
