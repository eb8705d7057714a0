// Run by deno_webgpu.test.ts: in Deno (its own WebGPU, wgpu/naga rather than Dawn/Tint), each fixture named on the
// command line through the built Deno bundle with backend 'webgpu' (GPU_WEIGHTS=f16: f16 linear layers) and with wasm;
// prints one JSON line per fixture.
const root = new URL('../../', import.meta.url);
const { loadModel } = await import(new URL('dist/deno/wasm-seq2seq.js', root).href);
const maxDiff = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
for (const name of Deno.args) {
  const dir = new URL(`test/fixtures/${name}/`, root).pathname;
  const g = JSON.parse(Deno.readTextFileSync(dir + 'golden.json').replace(/-Infinity/g, '-1e999').replace(/\bNaN\b/g, 'null'));
  const ids = g.inputs.input_ids, mask = g.inputs.attention_mask;
  const gpu = await loadModel(dir, { backend: 'webgpu', tokenizer: false, gpuWeights: Deno.env.get('GPU_WEIGHTS') ?? 'f32' });
  const wasm = await loadModel(dir, { tokenizer: false });
  const dec = g.decoder_teacher_forced.decoder_input_ids;
  const out = { name, logitsDiff: maxDiff((await gpu.decoderLogits(ids, dec, mask)).data, (await wasm.decoderLogits(ids, dec, mask)).data) };
  for (const numBeams of [1, 4]) {
    const o = { maxNewTokens: 12, numBeams, attentionMask: mask };
    const [x, y] = [await gpu.generate(ids, o), await wasm.generate(ids, o)];
    out[`tokens${numBeams}`] = JSON.stringify(x.sequences) === JSON.stringify(y.sequences) ? 'equal' : `${JSON.stringify(x.sequences)} != ${JSON.stringify(y.sequences)}`;
    if (y.scores) out[`scoresDiff${numBeams}`] = maxDiff(x.scores, y.scores);
  }
  out.backend = gpu.backend; // still 'webgpu' unless a GPU error moved it to wasm
  out.note = gpu.backendNote;
  console.log(JSON.stringify(out));
}
