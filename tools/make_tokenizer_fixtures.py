#!/usr/bin/env python3
"""Golden fixtures for the Swift `Tokenizer` module.

Pinned versions (also in tools/requirements-fixtures.txt):
    tokenizers==0.22.2
    sentencepiece==0.2.3   (the SentencePiece fixture)
    gguf==0.19.0           (its vocab-only GGUF)
Optional cross-check: llama-cpp-python==0.3.36 (if importable, the SentencePiece fixture's GGUF is tokenized by
llama.cpp too and the agreement is recorded in spm/expected.json under "cross_checks").

For every pre-tokenizer family this trains a small byte-level BPE with HF `tokenizers`, using the
family's real pre_tokenizer structure (the regexes llama.cpp's src/llama-vocab.cpp lists per
`tokenizer.ggml.pre`, arranged the way the published tokenizer.json files arrange them), adds the
family's special and FIM tokens, and writes

    Tests/Fixtures/tokenizers/corpus.json            the stress corpus (list of strings)
    Tests/Fixtures/tokenizers/<family>/tokenizer.json
    Tests/Fixtures/tokenizers/<family>/expected.json {"encode": [...], "decode": [...]}

and a SentencePiece-style fixture (GGUF `tokenizer.ggml.model = llama`, as Llama 2 / Mistral / Mixtral):

    Tests/Fixtures/tokenizers/spm/vocab.json      what llama.cpp's converter writes into the GGUF: tokens, scores,
                                                  token_type, special ids, add_bos_token, add_space_prefix
    Tests/Fixtures/tokenizers/spm/vocab.gguf      the same as a vocab-only GGUF
    Tests/Fixtures/tokenizers/spm/tokenizer.json  the HF tokenizer built from it (legacy Llama layout)
    Tests/Fixtures/tokenizers/spm/expected.json

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
# o200k (gpt-oss, GPT-4o): the regex of the published tokenizer.json (llama.cpp lists it as the original of
# LLAMA_VOCAB_PRE_TYPE_GPT4O, `tokenizer.ggml.pre` "gpt-4o").
O200K_PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                 r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
                 r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen3.5 (`qwen35`): Qwen2's regex with combining marks kept with letters.
QWEN35_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# DeepSeek-V3 (`deepseek-v3`; also what llama.cpp maps hunyuan-dense, joyai-llm, hy_v4 to): three Splits.
DEEPSEEK_V3_PATTERNS = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*"""
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
]


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
    # gpt-oss / GPT-4o: Split(o200k) + ByteLevel(use_regex=False).
    "gpt-4o": dict(
        pre=lambda: pre_tokenizers.Sequence([split(O200K_PATTERN), byte_level(False)]),
        splits=lambda: split(O200K_PATTERN),
        specials=["<|startoftext|>", "<|endoftext|>", "<|return|>", "<|constrain|>", "<|channel|>", "<|start|>",
                  "<|end|>", "<|message|>", "<|call|>"],
    ),
    # DeepSeek-V3 / R1: three Splits + ByteLevel(use_regex=False).
    "deepseek-v3": dict(
        pre=lambda: pre_tokenizers.Sequence([split(p) for p in DEEPSEEK_V3_PATTERNS] + [byte_level(False)]),
        splits=lambda: pre_tokenizers.Sequence([split(p) for p in DEEPSEEK_V3_PATTERNS]),
        specials=["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<｜fim▁begin｜>",
                  "<｜fim▁end｜>", "<｜User｜>", "<｜Assistant｜>"],
        bos="<｜begin▁of▁sentence｜>",
    ),
    # Qwen3.5: NFC normalizer, Split(regex) + ByteLevel(use_regex=False).
    "qwen35": dict(
        pre=lambda: pre_tokenizers.Sequence([split(QWEN35_PATTERN), byte_level(False)]),
        splits=lambda: split(QWEN35_PATTERN),
        normalizer=lambda: normalizers.NFC(),
        specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                  "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
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

# Evaluated (in every family's expected.json and the corpus) but not trained on, so that adding them leaves the
# older families' vocabularies as they were: cases for the o200k / DeepSeek-V3 / Qwen3.5 / SentencePiece rules.
EXTRA_CASES = [
    "camelCase HTTPServer parseJSONValue getHTTPResponseCode ABC abc Ab aB XMLHttpRequest",
    "don't DON'T Don't it's O'Neil rock'n'roll we'LL they'RE 'twas",
    "marks: e\u0301x \u0301lead a\u0308\u0308b Ǆǅǆ ǈ ʰʲ ᾈ ﬁ \u0915\u094d\u0937 \u0e01\u0e34\u0e19",
    "slashes: a/b/c //x\n/// y\r\n/ \n",
    "digits: 1 22 333 4444 55555 666666 ٣٤٥٦ ①②③④ 1,234,567.89",
    "kana: ひらがなカタカナ漢字テスト、かな。ｶﾀｶﾅ",
    "    leading spaces and\ttabs\t\tinside  double  spaces   ",
    "\u200d\u2060\ue000 lone format chars and \U0001f600\U0001f600 emoji",
    "user<sep>defined<sep> and <s>control</s> texts <unk>",
    "▁ already escaped ▁▁ and <0x41> text",
]
EVAL_CORPUS = CORPUS + EXTRA_CASES

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


def expected(tok, splits=None, byte_level=True):
    entries = []
    for text in EVAL_CORPUS:
        tok.encode_special_tokens = False
        ids = tok.encode(text, add_special_tokens=False).ids
        with_special = tok.encode(text, add_special_tokens=True).ids
        tok.encode_special_tokens = True
        plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        entries.append(dict(text=text, ids=ids, ids_add_special=with_special, ids_no_parse_special=plain,
                            decoded=tok.decode(ids, skip_special_tokens=False),
                            decoded_skip_special=tok.decode(ids, skip_special_tokens=True)))
        if splits is not None:
            # The regex pieces alone (HF pre_tokenize_str on the raw text, before ByteLevel).
            entries[-1]["pieces"] = [piece for piece, _ in splits.pre_tokenize_str(text)]
    byte_char = bytes_to_unicode()
    decode_cases = []
    for name, raw in INVALID_BYTE_SEQUENCES if byte_level else []:
        ids = [tok.token_to_id(byte_char[b]) for b in raw]
        decode_cases.append(dict(name=name, ids=ids, text=tok.decode(ids)))
    return dict(encode=entries, decode=decode_cases)


def write_json(path, obj, indent=None):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent, separators=(",", ":") if indent is None else None)
        f.write("\n")


# --- SentencePiece-style fixture ---

SPM_VOCAB_SIZE = 1000
# Tokens added after the SentencePiece model, as a tokenizer_config.json's added_tokens_decoder adds them:
# (text, special). Special ones become CONTROL in the GGUF, the other USER_DEFINED (llama.cpp's converter).
SPM_ADDED = [("▁<PRE>", True), ("▁<SUF>", True), ("▁<MID>", True), ("▁<EOT>", True), ("<sep>", False)]
# GGUF token types (gguf.TokenType).
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def train_sentencepiece():
    """A small BPE SentencePiece model with Llama 2's trainer settings (byte fallback, split digits, whitespace
    kept as is), trained on the lines of the training code and the corpus."""
    import io
    import sentencepiece as spm
    lines = [line for line in (TRAIN_CODE + "\n" + "\n".join(CORPUS)).split("\n") if line.strip()]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="bpe", vocab_size=SPM_VOCAB_SIZE,
        byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", character_coverage=0.995, add_dummy_prefix=True, num_threads=1,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    return spm.SentencePieceProcessor(model_proto=model.getvalue())


def spm_vocab(sp):
    """tokens, scores, token types as llama.cpp's converter (_create_vocab_sentencepiece) writes them."""
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i) else UNUSED if sp.is_unused(i)
                     else BYTE if sp.is_byte(i) else NORMAL)
    for text, special in SPM_ADDED:
        tokens.append(text)
        scores.append(-1000.0)
        types.append(CONTROL if special else USER_DEFINED)
    return tokens, scores, types


def spm_merges(tokens, scores, types):
    """BPE merges equivalent to score-ordered merging: every split of a normal piece into two normal pieces,
    the best-scoring pieces' splits first."""
    ids = {t: i for i, t in enumerate(tokens) if types[i] == NORMAL}
    found = []
    for i, piece in enumerate(tokens):
        if types[i] != NORMAL:
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in ids and right in ids:
                found.append((-scores[i], ids[left], ids[right], left, right))
    found.sort()
    return [(left, right) for *_, left, right in found]


def build_spm(tokens, scores, types):
    """The HF tokenizer of the vocabulary in the legacy Llama layout (what transformers' LlamaConverter makes):
    BPE with byte fallback, "▁" prepended to and replacing spaces in each run of text, BOS template."""
    n = len(tokens) - len(SPM_ADDED)
    vocab = {tokens[i]: i for i in range(n)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=spm_merges(tokens[:n], scores[:n], types[:n]), unk_token="<unk>",
                               fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in range(n)
                            if types[i] in (CONTROL, UNKNOWN)])
    for text, special in SPM_ADDED:
        if special:
            tok.add_special_tokens([AddedToken(text, special=True, normalized=False)])
        else:
            tok.add_tokens([AddedToken(text, special=False, normalized=False)])
    for i, text in enumerate(tokens):
        assert tok.token_to_id(text) == i, (i, text, tok.token_to_id(text))
    tok.post_processor = bos_template("<s>", 1)
    return tok


def write_vocab_gguf(path, meta):
    import gguf
    writer = gguf.GGUFWriter(path, arch="llama")
    # Minimal hyper-parameters so that llama.cpp opens the file with vocab_only.
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_feed_forward_length(16)
    writer.add_head_count(1)
    writer.add_head_count_kv(1)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(meta["tokens"])
    writer.add_token_scores(meta["scores"])
    writer.add_token_types(meta["token_type"])
    writer.add_bos_token_id(meta["bos_token_id"])
    writer.add_eos_token_id(meta["eos_token_id"])
    writer.add_unk_token_id(meta["unknown_token_id"])
    writer.add_add_bos_token(meta["add_bos_token"])
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(meta["add_space_prefix"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def cross_check_llama_cpp(path, entries):
    """Tokenizes every corpus text with llama.cpp's SPM tokenizer; None if llama-cpp-python is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    differ = []
    for entry in entries:
        raw = entry["text"].encode("utf-8")
        got = (llm.tokenize(raw, add_bos=False, special=True), llm.tokenize(raw, add_bos=True, special=True),
               llm.tokenize(raw, add_bos=False, special=False))
        want = (entry["ids"], entry["ids_add_special"], entry["ids_no_parse_special"])
        if list(map(list, got)) != list(want):
            differ.append(entry["text"])
    return dict(engine=f"llama-cpp-python {llama_cpp.__version__}", compared=len(entries),
                agree=len(entries) - len(differ), differ=differ)


def cross_check_sentencepiece(sp, entries):
    """SentencePiece itself, on texts without added-token texts (it knows nothing of those, and puts the dummy
    prefix only at the start)."""
    names = [t for t, _ in SPM_ADDED] + ["<s>", "</s>", "<unk>"]
    compared, differ = 0, []
    for entry in entries:
        if entry["text"] == "" or any(name in entry["text"] for name in names):
            continue
        compared += 1
        if sp.encode(entry["text"]) != entry["ids"]:
            differ.append(entry["text"])
    return dict(engine="sentencepiece " + __import__("sentencepiece").__version__, compared=compared,
                agree=compared - len(differ), differ=differ)


def make_spm():
    sp = train_sentencepiece()
    tokens, scores, types = spm_vocab(sp)
    meta = dict(model="llama", tokens=tokens, scores=scores, token_type=types, bos_token_id=sp.bos_id(),
                eos_token_id=sp.eos_id(), unknown_token_id=sp.unk_id(), add_bos_token=True, add_space_prefix=True)
    tok = build_spm(tokens, scores, types)
    out = os.path.join(ROOT, "spm")
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "vocab.json"), meta)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok.to_str(pretty=False))
        f.write("\n")
    gguf_path = os.path.join(out, "vocab.gguf")
    write_vocab_gguf(gguf_path, meta)

    result = expected(tok, byte_level=False)
    # Decoding byte tokens: HF's ByteFallback decoder writes one U+FFFD per byte of an invalid sequence, while
    # llama.cpp hands out the raw bytes (and moecoder decodes them like every other family: one U+FFFD per
    # maximal invalid subsequence, Python's errors="replace"). "text" is the latter, "hf_text" HF's.
    result["decode"] = []
    for name, raw in INVALID_BYTE_SEQUENCES:
        ids = [tokens.index("<0x%02X>" % b) for b in raw]
        result["decode"].append(dict(name=name, ids=ids, text=raw.decode("utf-8", errors="replace"),
                                     hf_text=tok.decode(ids)))
    checks = dict(sentencepiece=cross_check_sentencepiece(sp, result["encode"]))
    llama = cross_check_llama_cpp(gguf_path, result["encode"])
    if llama is not None:
        checks["llama_cpp"] = llama
    result["cross_checks"] = checks
    write_json(os.path.join(out, "expected.json"), result)
    for name, check in checks.items():
        print(f"spm vs {name}: {check['agree']}/{check['compared']} agree", file=sys.stderr)
    print(f"spm: vocab {len(tokens)}", file=sys.stderr)


def main():
    os.makedirs(ROOT, exist_ok=True)
    write_json(os.path.join(ROOT, "corpus.json"), EVAL_CORPUS, indent=1)
    for family, spec in FAMILIES.items():
        tok = build(family, spec)
        out = os.path.join(ROOT, family)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(tok.to_str(pretty=False))
            f.write("\n")
        write_json(os.path.join(out, "expected.json"), expected(tok, spec["splits"]() if "splits" in spec else None))
        print(f"{family}: vocab {tok.get_vocab_size()}", file=sys.stderr)
    make_spm()


if __name__ == "__main__":
    main()
