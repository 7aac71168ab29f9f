#!/usr/bin/env python3
"""The KV cache manager behind `moecoder serve`, measured (issue 16's acceptance).

shared   One request with a PREFIX-token prompt of held-out code, then REQUESTS-1 requests one at a time, each
         the same prefix plus its own TAIL tokens, then REQUESTS-1 more all at once. Time to first token of
         the first vs the others, and the KV cache's bytes after the first and after all REQUESTS of the
         first two rounds (from /metrics: every block counted once).
burst    REQUESTS requests, each the PREFIX plus its own TAIL, sent at once to a cold server: prompt tokens
         computed (the prefix once, not once per request) and times to first token.
budget   As the first round of `shared`, but on a server whose --kv-budget is BUDGET times one request's KV bytes
         (measured first on an unbudgeted server, rounded down to whole MiB): the KV cache's largest size over the
         REQUESTS requests (sampled after each) against one request's, and the times to first token. The prefix's
         blocks, hit by every request, outlive the finished requests' private tails, which eviction takes first.
persist  A PREFIX-token prompt on a fresh server with --persist-kv DIR; the server is stopped and started
         again with the same DIR, and the same prompt is sent: time to first token after the restart, against
         a restart without --persist-kv.

Every request streams (`/v1/completions`, "stream": true, prompts as token ids so lengths are exact), with
max_tokens 4 and temperature 0.

  bench/kv_prefix.py                                  # default model, its context raised to 4096
  bench/kv_prefix.py --model /tmp/moecoder-shapes/deepseek-coder-v2-lite-q4_k_m.gguf --ctx 4096
"""
import argparse
import atexit
import concurrent.futures
import glob
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class Server:
    def __init__(self, binary, model, ctx, extra, threads):
        cmd = [binary, "serve", "--model", model, "--port", "0", "--ctx-size", str(ctx), "--threads", str(threads),
               "--max-batch", "32", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        atexit.register(lambda: self.proc.poll() is None and self.proc.kill())  # also when a check exits early
        self.log = []
        deadline = time.time() + 300
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"serving \S+ on http://[\d.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
        self.proc.kill()
        sys.exit("the server did not start:\n" + "".join(self.log))

    def post(self, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            sys.exit(f"{path}: HTTP {resp.status}: {data[:300]}")
        return json.loads(data)

    def ttft(self, prompt):
        """Seconds to the first streamed token of a completion of `prompt` (token ids)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = {"prompt": prompt, "max_tokens": 4, "temperature": 0, "stream": True}
        start = time.perf_counter()
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            sys.exit(f"HTTP {resp.status}: {resp.read()[:300]}")
        first = None
        while True:
            line = resp.readline()
            if not line:
                break
            if line.strip() == b"data: [DONE]":
                break
            if line.startswith(b"data: "):
                if b'"error"' in line and "error" in json.loads(line[6:]):
                    sys.exit(f"the server answered with an error: {line[6:300].decode(errors='replace')}")
                if first is None:
                    first = time.perf_counter() - start
        resp.read()
        return first

    def metrics(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=30).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=300)
        self.log.append(out or "")
        return self.proc.returncode


def code_tokens(server, count):
    texts = []
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "heldout", "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    ids = server.post("/tokenize", {"content": "\n".join(texts)})["tokens"]
    if len(ids) < count:
        sys.exit(f"only {len(ids)} tokens of held-out code; {count} needed")
    return ids[:count]


def prompts(server, args, count):
    """Held-out code tokens, the PREFIX and `count` TAILs after it."""
    ids = code_tokens(server, args.prefix + args.tail * count)
    tails = [ids[args.prefix + i * args.tail: args.prefix + (i + 1) * args.tail] for i in range(count)]
    return ids, ids[:args.prefix], tails


def shared(args):
    s = Server(args.moecoder, args.model, args.ctx, [], args.threads)
    n = args.requests
    ids, prefix, tails = prompts(s, args, 2 * n - 1)
    s.ttft(ids[-40:])  # warm-up (an unrelated short prompt)
    base = s.metrics().get("moecoder_kv_cache_bytes", 0)
    first = s.ttft(prefix + tails[0])
    one = s.metrics()["moecoder_kv_cache_bytes"] - base
    # Requests 2..N one after another (each alone on the server), then N-1 more with other tails all at once.
    alone = [s.ttft(prefix + tail) for tail in tails[1:n]]
    everything = s.metrics()["moecoder_kv_cache_bytes"] - base
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        together = list(pool.map(lambda tail: s.ttft(prefix + tail), tails[n:]))
    m = s.metrics()
    s.stop()
    generated = 3  # a request's cache holds its prompt and all but its last generated token
    unique = args.prefix + n * (args.tail + generated)

    def ms(values):
        return {"p50": round(statistics.median(values) * 1000, 1), "max": round(max(values) * 1000, 1)}
    return {
        "prefix_tokens": args.prefix, "tail_tokens": args.tail, "requests": n,
        "ttft_first_ms": round(first * 1000, 1),
        "ttft_rest_one_at_a_time_ms": ms(alone),
        "ttft_rest_one_at_a_time_max_over_first": round(max(alone) / first, 3),
        "ttft_rest_all_at_once_ms": ms(together),
        "ttft_rest_all_at_once_max_over_first": round(max(together) / first, 3),
        "kv_bytes_one_request": int(one), "kv_bytes_all": int(everything),
        "kv_all_over_one": round(everything / one, 3),
        "kv_all_over_one_if_stored_once": round(unique / (args.prefix + args.tail + generated), 3),
        "kv_all_over_one_without_sharing": n,
        "hit_tokens": int(m.get("moecoder_kv_hit_tokens_total", 0)),
    }


def burst(args):
    """REQUESTS requests sharing the PREFIX, each with its own tail, all sent at once to a cold server."""
    s = Server(args.moecoder, args.model, args.ctx, [], args.threads)
    n = args.requests
    ids, prefix, tails = prompts(s, args, n)
    s.ttft(ids[-40:])
    before = s.metrics().get("moecoder_prompt_tokens_total", 0)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        ttfts = list(pool.map(lambda tail: s.ttft(prefix + tail), tails))
    wall = time.perf_counter() - start
    computed = s.metrics().get("moecoder_prompt_tokens_total", 0) - before
    s.stop()
    return {
        "requests": n, "prompt_tokens_sent": n * (args.prefix + args.tail), "prompt_tokens_computed": int(computed),
        "ttft_ms": {"p50": round(statistics.median(ttfts) * 1000, 1), "max": round(max(ttfts) * 1000, 1)},
        "all_first_tokens_s": round(wall, 2),
    }


def budget(args):
    """The first round of `shared` under a --kv-budget of BUDGET times one request's KV bytes."""
    s = Server(args.moecoder, args.model, args.ctx, [], args.threads)
    n = args.requests
    ids, prefix, tails = prompts(s, args, n)
    base = s.metrics().get("moecoder_kv_cache_bytes", 0)
    s.ttft(prefix + tails[0])
    one = s.metrics()["moecoder_kv_cache_bytes"] - base
    s.stop()
    mib = int(args.budget * one) >> 20
    s = Server(args.moecoder, args.model, args.ctx, ["--kv-budget", str(mib)], args.threads)
    s.ttft(ids[-40:])  # warm-up (an unrelated short prompt, evicted like any other)
    first = s.ttft(prefix + tails[0])
    sizes, rest = [], []
    for tail in tails[1:]:
        rest.append(s.ttft(prefix + tail))
        sizes.append(s.metrics()["moecoder_kv_cache_bytes"])
    m = s.metrics()
    s.stop()
    return {
        "prefix_tokens": args.prefix, "tail_tokens": args.tail, "requests": n,
        "kv_bytes_one_request": int(one), "kv_budget_mib": mib, "kv_budget_over_one": round((mib << 20) / one, 3),
        "kv_bytes_peak": int(max(sizes)), "kv_peak_over_one": round(max(sizes) / one, 3),
        "ttft_first_ms": round(first * 1000, 1),
        "ttft_rest_ms": {"p50": round(statistics.median(rest) * 1000, 1), "max": round(max(rest) * 1000, 1)},
        "ttft_rest_max_over_first": round(max(rest) / first, 3),
        "ttft_rest_p50_over_first": round(statistics.median(rest) / first, 3),
        "hit_tokens": int(m.get("moecoder_kv_hit_tokens_total", 0)),
        "evicted_blocks": int(m.get("moecoder_kv_evicted_blocks_total", 0)),
    }


def persist(args):
    folder = tempfile.mkdtemp(prefix="moecoder-kv-bench-")
    try:
        s = Server(args.moecoder, args.model, args.ctx, ["--persist-kv", folder], args.threads)
        prompt = code_tokens(s, args.prefix + 1)
        s.ttft(prompt[-40:])
        cold = s.ttft(prompt)
        s.stop()
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, "*.kvcache")))
        results = {}
        for name, extra in [("restart_without_persist", []), ("restart_with_persist", ["--persist-kv", folder])]:
            s = Server(args.moecoder, args.model, args.ctx, extra, args.threads)
            s.ttft(prompt[-40:])  # warm-up: first-use costs of the process, not of the prompt
            results[name] = s.ttft(prompt)
            s.stop()
        return {
            "prompt_tokens": len(prompt), "file_bytes": size,
            "ttft_first_run_ms": round(cold * 1000, 1),
            "ttft_restart_without_persist_ms": round(results["restart_without_persist"] * 1000, 1),
            "ttft_restart_with_persist_ms": round(results["restart_with_persist"] * 1000, 1),
            "speedup": round(results["restart_without_persist"] / results["restart_with_persist"], 2),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moecoder", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    p.add_argument("--model", default=os.path.join(ROOT, "models", "default.gguf"))
    p.add_argument("--ctx", type=int, default=4096, help="--ctx-size for the server")
    p.add_argument("--prefix", type=int, default=2000)
    p.add_argument("--tail", type=int, default=50)
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=1.3, help="the budget scenario's --kv-budget, in one request's KV")
    p.add_argument("--scenario", action="append", choices=["shared", "budget", "burst", "persist"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", help="also write the results as JSON to this file")
    args = p.parse_args()
    scenarios = args.scenario or ["shared", "budget", "burst", "persist"]
    out = {"model": os.path.basename(args.model), "ctx": args.ctx, "threads": args.threads,
           "loadavg_before": os.getloadavg()[0]}
    if "shared" in scenarios:
        out["shared"] = shared(args)
    if "budget" in scenarios:
        out["budget"] = budget(args)
    if "burst" in scenarios:
        out["burst"] = burst(args)
    if "persist" in scenarios:
        out["persist"] = persist(args)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name in ("shared", "budget", "burst", "persist"):
        if name in out:
            print(f"{name}:")
            for k, v in out[name].items():
                print(f"  {k:40} {v}")


if __name__ == "__main__":
    main()
