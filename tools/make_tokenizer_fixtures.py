#!/usr/bin/env python3
"""Golden fixtures for the Swift `Tokenizer` module.

Pinned versions (also in tools/requirements-fixtures.txt):
    tokenizers==0.22.2

For every pre-tokenizer family this trains a small byte-level BPE with HF `tokenizers`, using the
family's real pre_tokenizer structure (the regexes llama.cpp's src/llama-vocab.cpp lists per
`tokenizer.ggml.pre`, arranged the way the published tokenizer.json files arrange them), adds the
family's special and FIM tokens, and writes

    Tests/Fixtures/tokenizers/corpus.json            the stress corpus (list of strings)
    Tests/Fixtures/tokenizers/<family>/tokenizer.json
    Tests/Fixtures/tokenizers/<family>/expected.json {"encode": [...], "decode": [...]}

Run: /path/to/python tools/make_tokenizer_fixtures.py   (deterministic: RAYON_NUM_THREADS=1, no
randomness in BpeTrainer; rerunning must reproduce the committed files byte for byte).
"""
import json
import os
import sys

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tokenizers")
VOCAB_SIZE = 1500

# --- Pre-tokenizer regexes (facts from llama.cpp src/llama-vocab.cpp and the HF tokenizer.json files) ---

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CJK_CLASS = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"


def char_class(ranges):
    def esc(c):
        ch = chr(c)
        return "\\" + ch if ch in "\\]-^[" else ch
    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in ranges)


DEEPSEEK_LLM_LETTERS = [
    (0x41, 0x5A), (0x61, 0x7A), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA), (0x1BC, 0x1BF),
    (0x1C4, 0x293), (0x295, 0x2AF), (0x370, 0x373), (0x376, 0x377), (0x37B, 0x37D), (0x37F, 0x37F),
    (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C), (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481),
    (0x48A, 0x52F), (0x531, 0x556), (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1C90, 0x1CBA),
    (0x1CBD, 0x1CBF), (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D),
    (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D),
    (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC),
    (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102),
    (0x2107, 0x2107), (0x210A, 0x2113), (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126),
    (0x2128, 0x2128), (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149),
    (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF3),
    (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787), (0xA78B, 0xA78E), (0xAB70, 0xABBF),
    (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3),
    (0x104D8, 0x104FB), (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
]
DEEPSEEK_LLM_PUNCT = [(0x21, 0x2F), (0x3A, 0x7E), (0xFF01, 0xFF0F), (0xFF1A, 0xFF5E), (0x2018, 0x201F), (0x3000, 0x3002)]


def split(pattern):
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)


def byte_level(use_regex):
    return pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=use_regex)


def bos_template(bos, bos_id):
    return processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)])


FAMILIES = {
    # GPT-2: the regex lives inside the ByteLevel pre-tokenizer itself.
    "gpt2": dict(
        pre=lambda: byte_level(True),
        specials=["<|endoftext|>"],
    ),
    # Llama 3: Split(regex) + ByteLevel(use_regex=False); BPE model with ignore_merges.
    "llama3": dict(
        pre=lambda: pre_tokenizers.Sequence([split(LLAMA3_PATTERN), byte_level(False)]),
        specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                  "<|reserved_special_token_0|>"],
        bos="<|begin_of_text|>",
        ignore_merges=True,
    ),
    # DeepSeek LLM (and Coder-V2): five Splits, Digits grouped, ByteLevel(use_regex=False).
    "deepseek-llm": dict(
        pre=lambda: pre_tokenizers.Sequence([
            split(r"[\r\n]"),
            split(r"\s?[" + char_class(DEEPSEEK_LLM_LETTERS) + "]+"),
            split(r"\s?[" + char_class(DEEPSEEK_LLM_PUNCT) + "]+"),
            split(r"\s+$"),
            split(CJK_CLASS),
            pre_tokenizers.Digits(individual_digits=False),
            byte_level(False),
        ]),
        specials=["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>",
                  "<｜fim▁end｜>", "<|User|>", "<|Assistant|>", "<|EOT|>"],
        bos="<｜begin▁of▁sentence｜>",
    ),
    # DeepSeek Coder (v1): four Splits, single Digits, ByteLevel(use_regex=False).
    "deepseek-coder": dict(
        pre=lambda: pre_tokenizers.Sequence([
            split(r"[\r\n]"),
            split(r"\s?\p{L}+"),
            split(r"\s?\p{P}+"),
            split(CJK_CLASS),
            pre_tokenizers.Digits(individual_digits=True),
            byte_level(False),
        ]),
        specials=["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>",
                  "<｜fim▁end｜>", "<pad>", "<|EOT|>"],
        bos="<｜begin▁of▁sentence｜>",
    ),
    # Qwen2 / Qwen2.5-Coder: NFC normalizer, Split(regex) + ByteLevel(use_regex=False).
    "qwen2": dict(
        pre=lambda: pre_tokenizers.Sequence([split(QWEN2_PATTERN), byte_level(False)]),
        normalizer=lambda: normalizers.NFC(),
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                  "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
    ),
    # StarCoder2: Digits(individual) + ByteLevel(use_regex=True).
    "starcoder": dict(
        pre=lambda: pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level(True)]),
        specials=["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<repo_name>",
                  "<file_sep>", "<issue_start>"],
    ),
}

# --- Training text: ordinary code in several languages ---

TRAIN_CODE = r'''
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class Config:
    """Hyper-parameters read from config.json."""
    hidden_size: int = 4096
    num_layers: int = 32
    num_heads: int = 32
    vocab_size: int = 32000
    rope_theta: float = 10000.0
    layers: List[int] = field(default_factory=list)

    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def load_config(path: str) -> Optional[Config]:
    if not os.path.exists(path):
        print(f"missing config: {path}", file=sys.stderr)
        return None
    with open(path, "r", encoding="utf-8") as f:
        data: Dict[str, object] = json.load(f)
    return Config(**{k: v for k, v in data.items() if k in Config.__annotations__})


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.merges = {tuple(m.split()): i for i, m in enumerate(merges)}
        self.cache = {}

    def encode(self, text):
        ids = []
        for word in self.pre_tokenize(text):
            if word in self.cache:
                ids.extend(self.cache[word])
                continue
            ids.extend(self.bpe(word))
        return ids

for i in range(10):
    for j in range(i, 100):
        if (i * j) % 7 == 0 and j != 42:
            total += i * j - 1
        elif i > j:
            break
        else:
            continue

public struct Matrix<Element: Numeric> {
    public let rows: Int
    public let columns: Int
    private var storage: [Element]

    public init(rows: Int, columns: Int, repeating value: Element = 0) {
        precondition(rows > 0 && columns > 0, "empty matrix")
        self.rows = rows
        self.columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    public subscript(row: Int, column: Int) -> Element {
        get { storage[row * columns + column] }
        set { storage[row * columns + column] = newValue }
    }
}

func softmax(_ x: inout [Float]) {
    let maxValue = x.max() ?? 0
    var sum: Float = 0
    for i in x.indices {
        x[i] = expf(x[i] - maxValue)
        sum += x[i]
    }
    for i in x.indices { x[i] /= sum }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: tool <file>")?;
    let text = std::fs::read_to_string(path)?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0) += 1;
    }
    let mut pairs: Vec<_> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (word, count) in pairs.iter().take(10) {
        println!("{:>8} {}", count, word);
    }
    Ok(())
}

export async function fetchJSON(url, { retries = 3, timeout = 5000 } = {}) {
  for (let attempt = 0; attempt < retries; attempt++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    try {
      const response = await fetch(url, { signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return await response.json();
    } catch (err) {
      console.warn(`attempt ${attempt + 1} failed: ${err.message}`);
    } finally {
      clearTimeout(timer);
    }
  }
  return null;
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b) {
    const int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 16;
    int *values = malloc(sizeof(int) * (size_t)n);
    if (values == NULL) { perror("malloc"); return 1; }
    for (int i = 0; i < n; ++i) values[i] = (i * 7919) % 1009;
    qsort(values, (size_t)n, sizeof(int), compare);
    for (int i = 0; i < n; ++i) printf("%d%c", values[i], i + 1 == n ? '\n' : ' ');
    free(values);
    return 0;
}

package main

import (
	"fmt"
	"net/http"
	"strings"
)

type Server struct {
	addr    string
	handler http.Handler
}

func (s *Server) ListenAndServe() error {
	fmt.Printf("listening on %s\n", s.addr)
	return http.ListenAndServe(s.addr, s.handler)
}

func greet(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/hello/")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "Hello, %s!\n", name)
}
SELECT id, name, created_at FROM users WHERE age >= 18 AND email LIKE '%@example.com' ORDER BY created_at DESC LIMIT 100;
<div class="container"><p>It's a test &amp; it isn't over — they're here, we'll see, I'd say you've won, I'm done.</p></div>
# Notes: the model's tokenizer doesn't split "don't" the way you'd think. Numbers: 3.14159, 2024-06-01, 0xFF, 1e-9, 1_000_000.
'''

# --- Stress corpus ---

CORPUS = [
    "",
    "a",
    " ",
    "hello world",
    "Hello, World!",
    "def add(a, b):\n    return a + b\n",
    "def f():\n\tif x:\n\t\treturn 1\n  \t  # mixed indentation\n\treturn 0\n",
    "fn main() {\n    let x: u64 = 1_000_000;\n    println!(\"{x:>8}\");\n}\n",
    "int main(void) {\r\n    return 0;\r\n}\r\n",
    "func greet(_ name: String) -> String {\n    \"Hello, \\(name)!\"\n}\n",
    "const f = async (x) => { await g(x?.y ?? 0); };  // trailing spaces   \n",
    "SELECT * FROM t WHERE a<>b AND c>=10;\n",
    "x" + " " * 1 + "y" + " " * 2 + "z" + " " * 3 + "w" + " " * 4 + "v" + " " * 5 + "u" + " " * 8 + "t" + " " * 16 + "s",
    "trailing one ",
    "trailing many      ",
    "   leading",
    " \n \n  \n   \n",
    "\n\n\n",
    "\t\t\tx\t\ty\t",
    "line\r\nline\rline\n\r\nend\r\n\r\n",
    "  \r\n  \t\n\u00a0\u2003x\u3000y\u2028z\u0085w",
    "1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 12345678901",
    "v1.2.3 3.14159 -42 +7 1e10 0x1F 0b1010 1_000 ٣٤٥ ⅫⅣ ½ ²³ ①②",
    "a1b22c333d4444e55555",
    "中文字符测试，你好世界！这是一个测试。",
    "日本語のテキスト、カタカナ、ひらがな。한국어 텍스트입니다.",
    "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷 ✨🚀",
    "combining: e\u0301 a\u0300 n\u0303 o\u0308\u0304 \u1e9b\u0323 Å Å",
    "accents: café naïve résumé Ærøskøbing Straße façade señor Ελληνικά Русский",
    "arabic: مرحبا بالعالم ١٢٣ والعربية",
    "hindi/thai: नमस्ते दुनिया สวัสดีชาวโลก",
    "contractions: it's don't we're they've I'm we'll he'd",
    "DON'T WE'LL IT'S THEY'RE I'M YOU'VE SHE'D",
    "Don'T we'LL It'S tHeY'Re i'M yOu'vE sHe'D",
    "odd: '' 's 'S 'x ' s x's x'S 'ſ 'ſt 'LL's",
    "quotes: `code` \"str\" 'str' «guillemets» “curly” ‘single’",
    "punct runs: !!! ??? ... --- === +++ *** /// \\\\ ||| &&& ::: ;;; ,,,",
    "symbols: $100 €50 £3 ¥7 © ® ™ ° ± × ÷ → ⇒ ∀ ∃ ∑ √ ∞ ≠ ≤ ≥",
    "mixed: foo_bar fooBar FooBar FOO_BAR foo-bar foo.bar foo::bar foo->bar",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "  <|endoftext|>  <|endoftext|><|endoftext|>\n",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "<fim_prefix>int a = <fim_suffix>;<fim_middle>",
    "<｜fim▁begin｜>def f():\n    <｜fim▁hole｜>\n<｜fim▁end｜>",
    "<|begin_of_text|>hello<|eot_id|>",
    "<｜begin▁of▁sentence｜>x<｜end▁of▁sentence｜>",
    "<|file_sep|>src/main.py\nprint(1)\n<file_sep>a.c\n<|im_start|>user\nhi<|im_end|>",
    "not special: <|endoftext|  <|endof <fim_prefix <|fim_prefix> |> <>",
    "replacement char: \ufffd and \ufffd\ufffd in text",
    "zero width: a\u200bb\u200cc\u200dd\ufeffe",
    "private use: \ue000\uf8ff and noncharacter-ish \U0010fffd",
    "math: ∫₀^∞ e^{-x²} dx = 1; α+β=γ; 𝔽𝕠𝕠 𝒳",
    "path/to/file.swift:42:17: error: cannot find 'x' in scope",
    "https://example.com/a/b?c=1&d=2#frag user@example.org",
    "    \n        \n            x = 1  \n",
    "{\n  \"key\": [1, 2, 3],\n  \"nested\": {\"a\": null, \"b\": true}\n}\n",
    "# Title\n\n- item **bold** _it_\n- `x`\n\n```python\nprint('hi')\n```\n",
    TRAIN_CODE[:1500],
]

# Byte sequences for decode-side U+FFFD checks: (description, bytes).
INVALID_BYTE_SEQUENCES = [
    ("lone lead byte", b"\xc3"),
    ("truncated 3-byte", b"\xe2\x82"),
    ("truncated 4-byte then ascii", b"\xf0\x9f\x98a"),
    ("lone continuation", b"\x80"),
    ("two continuations", b"ab\x80\xbfcd"),
    ("overlong", b"\xc0\xaf"),
    ("surrogate encoding", b"\xed\xa0\x80"),
    ("invalid f5", b"\xf5\x80\x80\x80"),
    ("valid then truncated", "é€".encode() + b"\xe2\x82"),
    ("e0 bad second", b"\xe0\x80\x80"),
    ("f4 too big", b"\xf4\x90\x80\x80"),
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def build(family, spec):
    tok = Tokenizer(models.BPE())
    if "normalizer" in spec:
        tok.normalizer = spec["normalizer"]()
    tok.pre_tokenizer = spec["pre"]()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator([TRAIN_CODE] + CORPUS, trainer=trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in spec["specials"]])
    if "bos" in spec:
        template = bos_template(spec["bos"], tok.token_to_id(spec["bos"]))
        tok.post_processor = (processors.Sequence([processors.ByteLevel(trim_offsets=False), template])
                              if family == "llama3" else template)
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    if spec.get("ignore_merges"):
        data = json.loads(tok.to_str())
        data["model"]["ignore_merges"] = True
        tok = Tokenizer.from_str(json.dumps(data))
    return tok


def expected(tok):
    entries = []
    for text in CORPUS:
        tok.encode_special_tokens = False
        ids = tok.encode(text, add_special_tokens=False).ids
        with_special = tok.encode(text, add_special_tokens=True).ids
        tok.encode_special_tokens = True
        plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        entries.append(dict(text=text, ids=ids, ids_add_special=with_special, ids_no_parse_special=plain,
                            decoded=tok.decode(ids, skip_special_tokens=False),
                            decoded_skip_special=tok.decode(ids, skip_special_tokens=True)))
    byte_char = bytes_to_unicode()
    decode_cases = []
    for name, raw in INVALID_BYTE_SEQUENCES:
        ids = [tok.token_to_id(byte_char[b]) for b in raw]
        decode_cases.append(dict(name=name, ids=ids, text=tok.decode(ids)))
    return dict(encode=entries, decode=decode_cases)


def write_json(path, obj, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent, separators=(",", ":") if indent is None else None)
        f.write("\n")


def main():
    os.makedirs(ROOT, exist_ok=True)
    write_json(os.path.join(ROOT, "corpus.json"), CORPUS, indent=1)
    for family, spec in FAMILIES.items():
        tok = build(family, spec)
        out = os.path.join(ROOT, family)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(tok.to_str(pretty=False))
            f.write("\n")
        write_json(os.path.join(out, "expected.json"), expected(tok))
        print(f"{family}: vocab {tok.get_vocab_size()}", file=sys.stderr)


if __name__ == "__main__":
    main()
