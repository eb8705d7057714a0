"""Text for the SentencePiece fixtures: a training corpus and a test corpus (imported by make_spm_fixtures.py).

The training text is the GPL/Apache/MPL licence texts every Debian system ships (/usr/share/common-licenses) plus the
multilingual sentences below, so that the trained models have pieces for several scripts. The test corpus is
deterministic (fixed seed) and deliberately nasty: accents (composed and decomposed), CJK, emoji with ZWJ and
modifiers, digits, runs of spaces and tabs, leading/trailing blanks, and characters that NFKC rewrites (full-width
letters, ligatures, circled numbers, ℃, ½, half-width katakana, U+FF5E), control and zero-width characters.
"""

import random

MULTILINGUAL = [
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "Où est la bibliothèque ? À côté de l'église, près du château.",
    "Ça coûte 12,50 € — c'est très cher, n'est-ce pas ?",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Grüße aus München! Die Straße ist schön, aber die Bäume sind groß.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi.",
    "¿Dónde está la estación? ¡Qué día tan bonito hace hoy, señor!",
    "A rápida raposa marrom salta sobre o cão preguiçoso.",
    "La volpe veloce salta sopra il cane pigro e poi dorme.",
    "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.",
    "Tiếng Việt có nhiều dấu: ắ, ằ, ẳ, ẵ, ặ, ơ, ư, đ.",
    "Съешь же ещё этих мягких французских булок да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "我能吞下玻璃而不伤身体。今天天气很好，我们去公园散步吧。",
    "日本語の文章を書きます。東京は日本の首都です。ひらがなとカタカナ。",
    "다람쥐 헌 쳇바퀴에 타고파. 한국어 문장입니다.",
    "Mpanjaka tsara ny olona rehetra, ary tia ny tanindrazany izy.",
    "I ❤️ emoji 😀😃😄 and 👍🏽 thumbs, 🇫🇷 flags and 👨‍👩‍👧‍👦 families.",
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14159 2024-01-15 +33 1 23 45 67 89",
    "Prices: $5.99, £3, ¥1000, ₹250, 50% off!!! (limited time) [terms apply] {x: y}",
]

LICENSES = ["GPL-3", "Apache-2.0", "MPL-2.0", "LGPL-2.1", "Artistic"]


def training_lines(license_dir="/usr/share/common-licenses"):
    lines = []
    for name in LICENSES:
        with open(f"{license_dir}/{name}", encoding="utf-8") as f:
            lines += [l.strip() for l in f if l.strip()]
    # Repeated so the multilingual pieces survive vocabulary pruning next to ~5000 lines of English legalese.
    return lines + MULTILINGUAL * 20


HAND_WRITTEN = [
    "Hello world",
    "Hello, world! How are you today?",
    "",
    " ",
    "   leading spaces",
    "trailing spaces   ",
    "  both  sides  ",
    "multiple     internal      spaces",
    "tabs\tbetween\t\twords",
    "\tleading tab",
    "trailing tab\t",
    "mixed \t \t whitespace",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ ａｎｄ ｄｉｇｉｔｓ １２３４５",
    "Ｈｅｌｌｏ　Ｗｏｒｌｄ！（全角）",
    "ligatures: ﬁnance ﬂow ﬀ ﬃ ﬄ ﬆ",
    "circled ① ② ③ ⑩ and parenthesized ⑴ ⑵",
    "units ㎏ ㎞ ㎡ ℃ ℉ № ™ ℡",
    "fractions ½ ¼ ¾ ⅓ and superscripts x² y³ H₂O",
    "roman numerals Ⅻ Ⅳ ⅸ",
    "half-width katakana ｶﾀｶﾅ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ",
    "tilde variants ～ 〜 ~ and wave dash",
    "Angstrom Å vs Å and Ohm Ω vs Ω",
    "long s ſ and dz ǅ ǆ",
    "decomposed accents: e\u0301 a\u0300 o\u0308 n\u0303 and composed é à ö ñ",
    "non-breaking\u00a0space, thin\u2009space, em\u2003space, ideographic\u3000space",
    "zero\u200bwidth\u200cjoiners\u200dhere and a soft\u00adhyphen",
    "\ufeffbyte order mark at start",
    "control\u0001chars\u0007in\u001ftext",
    "line\u2028separator and paragraph\u2029separator",
    "the lower one eighth block ▁ appears ▁▁ in input",
    "<sep> user defined <sep>symbol<sep>",
    "<ctrl> is a control symbol and <unk> <s> </s> are special",
    "😀",
    "👨‍👩‍👧‍👦👩🏽‍💻🏳️‍🌈🇯🇵🇺🇸",
    "🦈🦩🥟 newer emoji 🫠🫶",
    "数字123と英語abcの混在テキスト",
    "中文，标点。符号！问号？",
    "한글 자모 ㄱㄴㄷ 와 완성형 가나다",
    "각 decomposed hangul",
    "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 mathematical letters",
    "Ⓐⓑⓒ enclosed letters",
    "a\u0000b null? (no: spm reads lines)".replace("\u0000", ""),
    "1234567890",
    "3.14159265358979323846",
    "phone +1 (555) 123-4567, date 2024-02-29, time 23:59:59",
    "version 1.2.3-beta+build.45",
    "http://example.com/path?query=1&other=two#frag",
    "email: someone@example.org",
    "C:\\Windows\\System32 and /usr/local/bin",
    "quotes “double” ‘single” «guillemets» „German“",
    "dashes - – — ‒ ― and ellipsis … and bullet •",
    "math ≤ ≥ ≠ ± × ÷ ∑ ∫ √ ∞",
    "arrows → ← ↑ ↓ ⇒",
    "ALL CAPS SENTENCE WITH SHOUTING",
    "MiXeD cAsE wOrDs",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "the the the the the the the the",
    "Licensed under the Apache License, Version 2.0 (the \"License\");",
    "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS \"AS IS\"",
    ">>fra<< Hello there",
    ">>deu<<Wie geht's?",
    "Mpanjaka >>mlg<< tsara",
    "x",
    ".",
    "?!",
]

FRAGMENTS = [
    "the", "software", "License", "copyright", "GNU", "permission", "distribute", "source code",
    "ÉTÉ", "naïve", "café", "façade", "Ångström", "smørrebrød", "straße", "ĳssel",
    "東京", "日本語", "中文", "汉字", "한국어", "ひらがな", "カタカナ", "ｶﾀｶﾅ",
    "Ｆｕｌｌ", "ﬁ", "①", "½", "℃", "㎏", "～",
    "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "🦈",
    "0", "42", "1999", "3.5", "10,000", "007",
    "Москва", "Ελλάδα", "مرحبا", "שלום", "नमस्ते", "สวัสดี",
    "e\u0301", "\u00a0", "\u200b", "\t", "  ", "   ",
    "(", ")", ",", ".", "!", "?", "\"", "'", "-", "/", ":", ";",
]


def test_lines(seed=20240215, generated=240):
    rng = random.Random(seed)
    out = list(HAND_WRITTEN) + list(MULTILINGUAL)
    for _ in range(generated):
        n = rng.randint(1, 12)
        parts = [rng.choice(FRAGMENTS) for _ in range(n)]
        seps = [rng.choice([" ", " ", " ", "", "  ", "\t"]) for _ in range(n)]
        line = "".join(p + s for p, s in zip(parts, seps))
        if rng.random() < 0.2:
            line = " " + line
        out.append(line)
    # spm_encode reads one sentence per line: a test line may not hold a line break.
    return [l.replace("\n", " ").replace("\r", " ") for l in out]
