// Text in, text out: a model source with tokenizer files. The fixture model (vocab 101) is paired with a small
// SentencePiece model and a vocab.json of 101 ids, so generate("text") must equal encode → generate(ids) → decode.
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../bindings/model/load.js';
import { InputError } from '../../bindings/errors.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { textModelFiles } from '../helpers/textmodel.js';

const dir = fixtureDir('marian_tiny');
const files = textModelFiles();

describe('generate with text', () => {
  it('text in equals ids in, and the output is decoded', async () => {
    const model = await loadModel(files);
    expect(model.tokenizer?.family).toBe('marian');
    const texts = ['the history of the', 'of the'];
    const ids = texts.map((t) => model.tokenizer!.encode(t));
    expect(ids[0].at(-1)).toBe(0); // </s> appended, as MarianTokenizer does
    for (const numBeams of [1, 3]) {
      const byText = await model.generate(texts, { numBeams, maxNewTokens: 8 });
      const byIds = await model.generate(ids, { numBeams, maxNewTokens: 8 });
      expect(byText.sequences).toEqual(byIds.sequences);
      expect(byText.text).toEqual(byIds.sequences.map((s) => model.tokenizer!.decode(s)));
      expect(byIds.text).toBeUndefined();
    }
    // streaming pieces join into the final text
    const it = model.stream('the history of the', { maxNewTokens: 8 });
    let joined = '', final;
    for (;;) {
      const r = await it.next();
      if (r.done) { final = r.value; break; }
      if (r.value.type === 'tokens') joined += r.value.text![0];
    }
    expect(joined).toBe(final.text![0]);
  });

  it('text without a tokenizer, and language options with ids, are refused clearly', async () => {
    const model = await loadModel(dir);
    expect(model.tokenizer).toBeNull();
    await expect(model.generate('hello')).rejects.toThrow(/no tokenizer files/);
    await expect(model.generate([[1, 2]], { tgtLang: 'fr' })).rejects.toThrow(InputError);
  });
});
