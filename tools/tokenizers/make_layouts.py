"""The tokenizer file layouts of real Hub repos, as small fixtures: test/fixtures/tokenizers/layouts/.

For each family, the set of tokenizer files one of its well-known Hub repos ships, with tokenizer_config.json and
special_tokens_map.json shaped as those repos have them (the fields transformers reads: tokenizer_class, special
tokens written as strings or AddedToken objects, additional_special_tokens lists, src_lang/tgt_lang null, legacy
flags), written here rather than copied (their SentencePiece models are hundreds of MB to MB; the repos are not
reachable from here). The large files are the repo's own small stand-ins, named in layouts.json and copied in
by test/tokenizers/layouts.test.ts: unigram.model for spiece.model (T5 ids), bpe.model for sentencepiece.bpe.model
(fairseq ids), bart/ for vocab.json + merges.txt, opus-mt-en-mg/ for a real Marian repo, and tokenizer.json built
from those models by test/tokenizers/convert.ts (as transformers' converters write them). The expected ids are
families.json's (tools/tokenizers/families.py), bart.json's and marian_opus_mt_en_mg.json's: the same models
loaded from a repo laid out as on the Hub must give the same ids.

Run: python3 tools/tokenizers/make_layouts.py   (from the repository root)
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizers", "layouts")


def codes(name):
    """The language code lists of bindings/tokenizers/languages.ts (one copy of them)."""
    src = open(os.path.join(ROOT, "bindings", "tokenizers", "languages.ts"), encoding="utf-8").read()
    m = re.search(r"export const " + name + r": readonly string\[\] = \(\n(.*?)\n\)\.split", src, re.S)
    return "".join(re.findall(r"'([^']*)'", m.group(1))).split(" ")


def added(content, lstrip=False, normalized=True):
    return {"__type": "AddedToken", "content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": False,
            "single_word": False}


def main():
    nllb, m2m, mbart50 = codes("NLLB_CODES"), codes("M2M100_CODES"), codes("MBART50_CODES")
    extra = [f"<extra_id_{i}>" for i in range(100)]
    layouts = {
        # Helsinki-NLP/opus-mt-*: no tokenizer_class, family from config.json; the real en-mg files
        "opus-mt-en-mg": {
            "family": "marian", "expect": "marian_opus_mt_en_mg.json:cases",
            "copy": {"source.spm": "opus-mt-en-mg/source.spm", "target.spm": "opus-mt-en-mg/target.spm",
                     "vocab.json": "opus-mt-en-mg/vocab.json", "tokenizer_config.json": "opus-mt-en-mg/tokenizer_config.json",
                     "config.json": "opus-mt-en-mg/config.json"},
        },
        # google-t5/t5-small: spiece.model + tokenizer.json, no tokenizer_config.json
        "t5-small": {
            "family": "t5", "expect": "families.json:t5", "copy": {"spiece.model": "unigram.model"},
            "tokenizer.json": "t5", "config": {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]},
        },
        # google/flan-t5-*: + tokenizer_config.json (T5Tokenizer, the 100 sentinels listed) and special_tokens_map.json
        "flan-t5": {
            "family": "t5", "expect": "families.json:t5", "copy": {"spiece.model": "unigram.model"}, "tokenizer.json": "t5",
            "config": {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]},
            "files": {
                "tokenizer_config.json": {"additional_special_tokens": extra, "eos_token": "</s>", "extra_ids": 100,
                                          "model_max_length": 512, "pad_token": "<pad>", "sp_model_kwargs": {},
                                          "tokenizer_class": "T5Tokenizer", "unk_token": "<unk>"},
                "special_tokens_map.json": {"additional_special_tokens": extra, "eos_token": "</s>", "pad_token": "<pad>",
                                            "unk_token": "<unk>"},
            },
        },
        # a T5 fine-tune that ships only the fast file
        "t5-fast-only": {
            "family": "t5", "expect": "families.json:t5", "tokenizer.json": "t5",
            "config": {"model_type": "t5"}, "files": {"tokenizer_config.json": {"tokenizer_class": "T5TokenizerFast"}},
        },
        # facebook/bart-large-cnn: vocab.json + merges.txt (byte-level BPE), no tokenizer_config.json
        "bart-large-cnn": {
            "family": "bart", "expect": "bart.json:cases", "copy": {"vocab.json": "bart/vocab.json", "merges.txt": "bart/merges.txt"},
            "config": {"model_type": "bart", "architectures": ["BartForConditionalGeneration"]},
        },
        # facebook/mbart-large-cc25: sentencepiece.bpe.model, family from config.json
        "mbart-large-cc25": {
            "family": "mbart", "expect": "families.json:mbart", "copy": {"sentencepiece.bpe.model": "bpe.model"},
            "config": {"model_type": "mbart", "architectures": ["MBartForConditionalGeneration"]},
        },
        # facebook/mbart-large-50-many-to-many-mmt
        "mbart-large-50-many-to-many-mmt": {
            "family": "mbart50", "expect": "families.json:mbart50", "srcLang": "ro_RO",
            "copy": {"sentencepiece.bpe.model": "bpe.model"},
            "config": {"model_type": "mbart", "architectures": ["MBartForConditionalGeneration"]},
            "files": {
                "tokenizer_config.json": {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
                                          "mask_token": added("<mask>", lstrip=True), "pad_token": "<pad>", "sep_token": "</s>",
                                          "sp_model_kwargs": {}, "src_lang": None, "tgt_lang": None,
                                          "tokenizer_class": "MBart50Tokenizer", "unk_token": "<unk>"},
                "special_tokens_map.json": {"additional_special_tokens": mbart50, "bos_token": "<s>", "cls_token": "<s>",
                                            "eos_token": "</s>", "mask_token": "<mask>", "pad_token": "<pad>",
                                            "sep_token": "</s>", "unk_token": "<unk>"},
            },
        },
        # facebook/m2m100_418M: sentencepiece.bpe.model + vocab.json
        "m2m100_418M": {
            "family": "m2m_100", "expect": "families.json:m2m100",
            "copy": {"sentencepiece.bpe.model": "bpe.model", "vocab.json": "m2m100_vocab.json"},
            "config": {"model_type": "m2m_100", "architectures": ["M2M100ForConditionalGeneration"]},
            "files": {
                "tokenizer_config.json": {"bos_token": "<s>", "eos_token": "</s>", "language_codes": "m2m100",
                                          "model_max_length": 1024, "num_madeup_words": 8, "pad_token": "<pad>",
                                          "sep_token": "</s>", "sp_model_kwargs": {}, "src_lang": None, "tgt_lang": None,
                                          "tokenizer_class": "M2M100Tokenizer", "unk_token": "<unk>"},
                "special_tokens_map.json": {"additional_special_tokens": [f"__{c}__" for c in m2m], "bos_token": "<s>",
                                            "eos_token": "</s>", "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"},
            },
        },
        # facebook/nllb-200-distilled-600M: sentencepiece.bpe.model + tokenizer.json
        "nllb-200-distilled-600M": {
            "family": "nllb", "expect": "families.json:nllb", "copy": {"sentencepiece.bpe.model": "bpe.model"},
            "tokenizer.json": "nllb",
            "config": {"model_type": "m2m_100", "architectures": ["M2M100ForConditionalGeneration"]},
            "files": {
                "tokenizer_config.json": {"additional_special_tokens": None, "bos_token": "<s>", "cls_token": "<s>",
                                          "eos_token": "</s>", "mask_token": added("<mask>", lstrip=True),
                                          "model_max_length": 1024, "pad_token": "<pad>", "sep_token": "</s>",
                                          "sp_model_kwargs": {}, "src_lang": None, "tgt_lang": None,
                                          "tokenizer_class": "NllbTokenizer", "unk_token": "<unk>"},
                "special_tokens_map.json": {"additional_special_tokens": nllb, "bos_token": "<s>", "cls_token": "<s>",
                                            "eos_token": "</s>", "mask_token": added("<mask>", lstrip=True),
                                            "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"},
            },
        },
    }
    manifest = {}
    for name, layout in layouts.items():
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        files = dict(layout.pop("files", {}))
        if "config" in layout:
            files["config.json"] = layout.pop("config")
        for file, obj in files.items():
            with open(os.path.join(folder, file), "w", encoding="utf-8", newline="\n") as f:
                json.dump(obj, f, ensure_ascii=False, indent=2)
                f.write("\n")
        manifest[name] = {**layout, "written": sorted(files)}
    with open(os.path.join(OUT, "layouts.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
