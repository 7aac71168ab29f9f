#!/usr/bin/env python3
"""Check that llama.cpp runs the shipped model as moecoder does: same prompt tokens, same greedy continuation.

For each prompt (plain code, and fill-in-the-middle prompts with our special tokens) it compares
- the prompt's token ids: llama.cpp's tokenizer vs `moecoder tokenize`,
- the last position's logits: llama.cpp (F32 KV cache, flash attention off) vs `moecoder logits` (max |diff|),
- the greedy continuation (32 tokens): llama.cpp vs `moecoder generate --temperature 0`.
Prints one line per prompt and a verdict; exits 1 when any tokens differ.

Needs llama-cpp-python (tools/train/requirements.txt; 0.3.36 vendors llama.cpp 0c1e57098) and a built moecoder:
    python bench/model_llamacpp_check.py [--model models/default.gguf] [--moecoder .build/release/moecoder]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PROMPTS = [
    "import os\nimport sys\n\n\ndef main():\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n",
    "def read_lines(path):\n    with open(path) as f:\n",
    "<fim_prefix>def add(a, b):\n    <fim_suffix>\n\n\nprint(add(1, 2))\n<fim_middle>",
    "<fim_prefix>for i in range(10):\n<fim_suffix>    print(total)\n<fim_middle>",
]
N_TOKENS = 32


def moecoder(binary: str, args: list[str]) -> dict:
    out = subprocess.run([binary, *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO / "models/default.gguf"))
    ap.add_argument("--moecoder", default=None, help="default: .build/release or .build/debug moecoder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    binary = args.moecoder or next((str(p) for p in (REPO / ".build/release/moecoder", REPO / ".build/debug/moecoder")
                                    if p.exists()), None)
    if binary is None:
        sys.exit("no moecoder binary: run `swift build -c release` or pass --moecoder")

    import llama_cpp
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=512, n_threads=args.threads, logits_all=True,
                          flash_attn=False, type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                          verbose=False)
    eos = llm.token_eos()
    failures = 0
    for prompt in PROMPTS:
        ids_l = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        ids_m = moecoder(binary, ["tokenize", "--model", args.model, prompt])["ids"]

        llm.reset()
        llm.eval(ids_l)
        logits_l = np.array(llm.scores[len(ids_l) - 1])
        logits_m = np.array(moecoder(binary, ["logits", "--model", args.model, "--tokens",
                                              ",".join(map(str, ids_m))])["logits"])
        gen_l = []
        for _ in range(N_TOKENS):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            if nxt == eos:
                break
            gen_l.append(nxt)
            llm.eval([nxt])
        gen_m = moecoder(binary, ["generate", "--model", args.model, "--prompt", prompt, "--temperature", "0",
                                  "--max-tokens", str(N_TOKENS), "--threads", str(args.threads)])["tokens"]
        same_prompt, same_gen = ids_l == ids_m, gen_l == gen_m
        diff = float(np.abs(logits_l - logits_m).max()) if logits_l.shape == logits_m.shape else float("inf")
        failures += not (same_prompt and same_gen)
        print(f"{'ok  ' if same_prompt and same_gen else 'FAIL'} prompt {len(ids_l):3d} tokens "
              f"(same ids: {same_prompt}), greedy {len(gen_l):2d} tokens (same: {same_gen}), "
              f"max |logit diff| {diff:.2e}: {prompt[:40]!r}")
        if not same_gen:
            print(f"     llama.cpp: {gen_l}\n     moecoder:  {gen_m}")
    verdict = "PASS" if failures == 0 else "FAIL"
    print(f"{verdict}: {len(PROMPTS) - failures}/{len(PROMPTS)} prompts give the same tokens in llama.cpp "
          f"(llama-cpp-python {llama_cpp.__version__}) and moecoder")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
