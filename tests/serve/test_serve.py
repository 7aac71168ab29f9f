"""`moecoder serve` with real clients: the openai package, curl, raw HTTP as llama.vim sends it."""
import concurrent.futures
import http.client
import json
import math
import signal
import subprocess
import time
import urllib.error
import urllib.request

import openai
import pytest


def post(server, path, body, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def client(server, key="unused"):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=120)


def test_models_and_health(server):
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["default"]
    with urllib.request.urlopen(server.url + "/health") as r:
        assert json.loads(r.read()) == {"status": "ok"}


def test_completion_with_openai_client(server):
    c = client(server)
    r = c.completions.create(model="default", prompt="def fibonacci(n):", max_tokens=12, temperature=0, seed=1)
    assert r.choices[0].finish_reason in ("length", "stop")
    assert r.usage.completion_tokens >= 1 and r.usage.prompt_tokens > 0
    again = c.completions.create(model="default", prompt="def fibonacci(n):", max_tokens=12, temperature=0, seed=1)
    assert again.choices[0].text == r.choices[0].text


def test_n_choices_and_seeded_sampling(server):
    c = client(server)
    r = c.completions.create(model="default", prompt="import os\n", max_tokens=10, temperature=0.9, seed=7, n=3)
    assert [ch.index for ch in r.choices] == [0, 1, 2]
    r2 = c.completions.create(model="default", prompt="import os\n", max_tokens=10, temperature=0.9, seed=7, n=3)
    assert [ch.text for ch in r.choices] == [ch.text for ch in r2.choices]


def test_streaming_completion_matches_non_streaming(server):
    c = client(server)
    whole = c.completions.create(model="default", prompt="class Stack:\n", max_tokens=16, temperature=0)
    pieces, reasons = [], []
    for chunk in c.completions.create(model="default", prompt="class Stack:\n", max_tokens=16, temperature=0,
                                      stream=True):
        pieces.append(chunk.choices[0].text)
        reasons.append(chunk.choices[0].finish_reason)
    assert "".join(pieces) == whole.choices[0].text
    assert reasons[-1] == whole.choices[0].finish_reason and all(r is None for r in reasons[:-1])


def test_fill_in_the_middle_via_suffix(server):
    r = client(server).completions.create(model="default", prompt="def add(a, b):\n    return ",
                                          suffix="\n\nprint(add(1, 2))\n", max_tokens=8, temperature=0)
    assert r.usage.prompt_tokens > 10
    assert r.choices[0].finish_reason in ("length", "stop")


def test_chat_completion_and_stream(server):
    c = client(server)
    msgs = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "Sort a list."}]
    r = c.chat.completions.create(model="default", messages=msgs, max_tokens=10, temperature=0)
    assert r.choices[0].message.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in
                   c.chat.completions.create(model="default", messages=msgs, max_tokens=10, temperature=0, stream=True))
    assert text == r.choices[0].message.content


def test_constrained_completion_parses(server):
    r = client(server).completions.create(model="default", prompt="def f(x):\n    return (x +", max_tokens=24,
                                          temperature=1.0, seed=3, extra_body={"constrain": "python"})
    assert r.choices[0].finish_reason in ("length", "stop")
    status, body, _ = post(server, "/v1/completions", {"prompt": "x", "constrain": "cobol"})
    assert status == 400 and "python" in body["error"]["message"]


def test_curl_sse(server):
    out = subprocess.run(["curl", "-sN", server.url + "/v1/completions", "-H", "Content-Type: application/json",
                          "-d", json.dumps({"prompt": "for i in", "max_tokens": 6, "stream": True, "temperature": 0})],
                         capture_output=True, text=True, timeout=60).stdout
    events = [line[len("data: "):] for line in out.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] is not None


def test_infill_as_llama_vim_sends_it(server):
    # The fields llama.vim's llama#fim sends.
    body = {
        "input_prefix": "import math\n\ndef area(r):\n", "input_suffix": "\n\nprint(area(2))\n",
        "input_extra": [{"filename": "util.py", "text": "def square(x):\n    return x * x\n"}],
        "prompt": "    return ", "n_predict": 16, "top_k": 40, "top_p": 0.99, "stream": False, "samplers": ["top_k", "top_p", "infill"],
        "cache_prompt": True, "t_max_prompt_ms": 500, "t_max_predict_ms": 1000,
    }
    status, r, _ = post(server, "/infill", body)
    assert status == 200, r
    assert isinstance(r["content"], str) and r["stop"] is True
    assert r["tokens_predicted"] <= 16 and r["timings"]["prompt_n"] == r["tokens_evaluated"] > 0
    status, r, _ = post(server, "/completion", {"prompt": "def f():", "n_predict": 4})
    assert status == 200 and r["tokens_predicted"] <= 4


def test_tokenize_detokenize(server):
    status, r, _ = post(server, "/tokenize", {"content": "def main():\n    pass\n"})
    assert status == 200 and r["tokens"]
    status, d, _ = post(server, "/detokenize", {"tokens": r["tokens"]})
    assert d["content"] == "def main():\n    pass\n"
    status, bad, _ = post(server, "/detokenize", {"tokens": [10 ** 9]})
    assert status == 400


def test_code_complete_route(server):
    status, r, _ = post(server, "/v1/code/complete",
                        {"source": "def add(a, b):\n    return \n", "language": "python", "line": 2, "column": 12})
    assert status == 200, r
    assert set(r) >= {"completion", "tokens", "constrained", "parse_ok", "stop_reason", "ms", "prompt_tokens"}


@pytest.mark.parametrize("body,param", [
    ({"prompt": 5}, "prompt"),
    ({"prompt": "x", "max_tokens": "ten"}, "max_tokens"),
    ({"prompt": "x", "max_tokens": 10 ** 7}, "max_tokens"),
    ({"prompt": "x", "temperature": -1}, "temperature"),
    ({"prompt": "x", "n": 0}, "n"),
    ({"prompt": "x", "stream": "yes"}, "stream"),
    ({"prompt": "x", "stop": [1, 2]}, "stop"),
    ({"prompt": "word " * 5000}, "prompt"),
    ({}, "prompt"),
])
def test_bad_input_is_a_400_that_names_the_field(server, body, param):
    status, r, _ = post(server, "/v1/completions", body)
    assert status == 400, r
    assert r["error"]["param"] == param and r["error"]["message"] and r["error"]["type"] == "invalid_request_error"


def test_malformed_json_unknown_model_and_huge_body(server):
    assert post(server, "/v1/completions", None, raw=b"{not json")[0] == 400
    assert post(server, "/v1/completions", None, raw=b"[1, 2]")[0] == 400
    status, r, _ = post(server, "/v1/completions", {"model": "gpt-4", "prompt": "x"})
    assert status == 404 and r["error"]["code"] == "model_not_found"
    status, r, _ = post(server, "/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]})
    assert status == 400
    status, r, _ = post(server, "/v1/completions", None, raw=b'{"prompt": "' + b"a" * (9 << 20) + b'"}')
    assert status == 413
    with pytest.raises(openai.NotFoundError):
        client(server).completions.create(model="nope", prompt="x", max_tokens=1)
    # Still serving.
    assert client(server).completions.create(model="default", prompt="x", max_tokens=2).choices


def test_concurrent_requests_equal_their_solo_answers(server):
    c = client(server)
    prompts = [f"def function_{i}(x):\n    " for i in range(12)]
    solo = [c.completions.create(model="default", prompt=p, max_tokens=12, temperature=0.7, seed=i).choices[0].text
            for i, p in enumerate(prompts)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda ip: c.completions.create(
            model="default", prompt=ip[1], max_tokens=12, temperature=0.7, seed=ip[0]).choices[0].text,
            enumerate(prompts)))
    assert together == solo
    m = server.metrics()
    assert m.get("moecoder_generated_tokens_total", 0) > 0


def test_disconnect_cancels_and_frees(server):
    before = server.metrics().get("moecoder_generated_tokens_total", 0)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/v1/completions", json.dumps(
        {"prompt": "def long():\n", "max_tokens": 400, "temperature": 1.0, "ignore_eos": True, "stream": True}),
        {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    resp.fp.readline()
    conn.sock.close()
    conn.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        m = server.metrics()
        if m.get("moecoder_running_sequences") == 0 and m.get('moecoder_kv_blocks{state="held"}') == 0:
            break
        time.sleep(0.2)
    m = server.metrics()
    # Its blocks are released (what it computed stays cached for later requests until evicted).
    assert m.get("moecoder_running_sequences") == 0 and m.get('moecoder_kv_blocks{state="held"}') == 0
    # Cancelled at the next step: far fewer than the 400 tokens asked for were generated.
    assert m.get("moecoder_generated_tokens_total", 0) - before < 300


def test_api_key(start_server):
    s = start_server("--api-key", "sekret")
    with pytest.raises(openai.AuthenticationError):
        client(s, "wrong").completions.create(model="default", prompt="x", max_tokens=1)
    assert client(s, "sekret").completions.create(model="default", prompt="x", max_tokens=1).choices
    with urllib.request.urlopen(s.url + "/health") as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(s.url + "/metrics")
    assert e.value.code == 401


def test_full_queue_is_503_with_retry_after(start_server):
    s = start_server("--parallel", "1", "--max-queue", "1")
    body = {"prompt": "def f():", "max_tokens": 200, "ignore_eos": True}
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: post(s, "/v1/completions", body), range(6)))
    statuses = sorted(r[0] for r in results)
    assert 200 in statuses and 503 in statuses, statuses
    busy = next(r for r in results if r[0] == 503)
    assert busy[2].get("Retry-After") and busy[1]["error"]["code"] == "queue_full"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero(start_server, sig):
    s = start_server()
    assert client(s).completions.create(model="default", prompt="x", max_tokens=2).choices
    assert s.stop(sig) == 0


def test_logprobs_as_openai_reports_them(server):
    c = client(server)
    r = c.completions.create(model="default", prompt="def add(a, b):\n    return", max_tokens=6, temperature=0,
                             logprobs=3)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert "".join(lp.tokens).startswith(r.choices[0].text) or r.choices[0].text.startswith("".join(lp.tokens)[:1])
    for chosen, top in zip(lp.token_logprobs, lp.top_logprobs):
        assert chosen <= 0 and len(top) <= 3
        # Greedy: the chosen token is the most likely one, and the alternatives are a distribution's part.
        assert abs(chosen - max(top.values())) < 1e-4
        assert sum(math.exp(v) for v in top.values()) <= 1 + 1e-4
    assert lp.text_offset[0] == len("def add(a, b):\n    return")
    # Streamed: every token's log-probability comes with the last chunk.
    streamed = [ch for ch in c.completions.create(model="default", prompt="def add(a, b):\n    return", max_tokens=6,
                                                  temperature=0, logprobs=3, stream=True)]
    # (The same to rounding: the second request takes its prompt from the KV cache.)
    assert streamed[-1].choices[0].logprobs.token_logprobs == pytest.approx(lp.token_logprobs, abs=1e-3)
    chat = c.chat.completions.create(model="default", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
                                     temperature=0, logprobs=True, top_logprobs=2)
    content = chat.choices[0].logprobs.content
    assert len(content) == chat.usage.completion_tokens and all(len(t.top_logprobs) <= 2 for t in content)
    assert all(t.logprob <= 0 and bytes(t.bytes).decode("utf-8", "replace") for t in content)
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="default", messages=[{"role": "user", "content": "hi"}], max_tokens=2,
                                  top_logprobs=2)
