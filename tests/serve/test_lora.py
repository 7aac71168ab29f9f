"""LoRA adapters in `moecoder serve`: defaults from --lora, others from --lora-choice, chosen per request with
the "lora" field, requests with different adapters decoded in the same batches.

The model and adapters are the golden fixtures (tools/make_lora_fixtures.py): the greedy next token after the
fixture prompt is the arg-max of PEFT's logits with the adapter and of the base model's logits without it.
"""
import concurrent.futures
import json
import os

import pytest

from conftest import ROOT
from test_serve import post

FIX = os.path.join(ROOT, "Tests", "Fixtures")
MODEL = os.path.join(FIX, "models", "llama.gguf")
ADAPTER = os.path.join(FIX, "lora", "llama", "adapter.gguf")
PEFT = os.path.join(FIX, "lora", "llama", "peft")


def reference():
    with open(os.path.join(FIX, "lora", "llama", "reference.json")) as f:
        doc = json.load(f)
    with open(os.path.join(FIX, "models", "llama.json")) as f:
        base = json.load(f)["prompts"][0]
    assert base["tokens"] == doc["tokens"] and doc["positions"][-1] == len(doc["tokens"]) - 1
    argmax = lambda row: max(range(len(row)), key=row.__getitem__)
    return doc["tokens"], argmax(doc["peft_logits"][-1]), argmax(base["logits"][-1])


def next_token(server, tokens, lora=None):
    body = {"prompt": tokens, "max_tokens": 1, "temperature": 0, "logprobs": 0}
    if lora is not None:
        body["lora"] = lora
    status, answer, _ = post(server, "/v1/completions", body)
    assert status == 200, answer
    return answer["choices"][0]["text"]


def piece(server, token):
    status, answer, _ = post(server, "/detokenize", {"tokens": [token]})
    assert status == 200, answer
    return answer["content"]


def test_adapters_per_request(start_server):
    tokens, adapted, base = reference()
    assert adapted != base
    s = start_server("--lora", ADAPTER, "--lora-choice", PEFT + ":0.5", model=MODEL)
    import urllib.request
    with urllib.request.urlopen(s.url + "/lora-adapters") as r:
        listed = json.loads(r.read())["data"]
    assert [(a["id"], a["name"], a["scale"], a["default"]) for a in listed] == [
        (0, "adapter", 1.0, True), (1, "peft", 0.5, False)]
    want_adapted, want_base = piece(s, adapted), piece(s, base)
    assert next_token(s, tokens) == want_adapted                                   # the --lora default
    assert next_token(s, tokens, []) == want_base                                  # no adapter
    assert next_token(s, tokens, [{"id": "peft", "scale": 1.0}]) == want_adapted   # the PEFT form at 1
    assert next_token(s, tokens, [{"id": 1, "scale": 0.0}]) == want_base
    # Mixed requests at once: the scheduler batches them, each row with its own adapters.
    choices = [None, [], [{"id": 1, "scale": 1}], [], None, [{"id": "adapter"}]] * 2
    with concurrent.futures.ThreadPoolExecutor(len(choices)) as pool:
        got = list(pool.map(lambda lora: next_token(s, tokens, lora), choices))
    assert got == [want_base if c == [] else want_adapted for c in choices]


def test_unknown_adapter_is_refused(start_server):
    tokens, _, _ = reference()
    s = start_server("--lora", ADAPTER, model=MODEL)
    status, answer, _ = post(s, "/v1/completions", {"prompt": tokens, "max_tokens": 1, "lora": [{"id": "nope"}]})
    assert status == 400 and answer["error"]["code"] == "adapter_not_found", answer
    assert "0 (adapter)" in answer["error"]["message"]
    status, answer, _ = post(s, "/v1/completions", {"prompt": tokens, "max_tokens": 1, "lora": {"id": 0}})
    assert status == 400 and answer["error"]["param"] == "lora", answer


def test_bad_adapter_stops_the_server_at_start():
    import subprocess
    from conftest import BIN
    qwen = os.path.join(FIX, "models", "qwen2moe.gguf")
    r = subprocess.run([BIN, "serve", "--model", qwen, "--port", "0", "--lora", ADAPTER],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "'llama' model" in r.stderr and "'qwen2moe'" in r.stderr, r.stderr
