#!/usr/bin/env python3
"""Load test for `moecoder serve` (and llama.cpp's llama-server as the peer), two scenarios.

cold    prompts of 32-256 tokens cut from held-out code (models/heldout), max_tokens 16.
        Closed loop: CLIENTS clients send as fast as they are answered for DURATION s -> maximum requests/s.
        Open loop: Poisson arrivals at half that rate -> latency at a sustainable load.
editor  CLIENTS clients, each with its own file (~FILE_TOKENS tokens), appending 1-20 characters between
        requests as typing does and asking for 16 tokens at the end: a team's editors. The window before the
        cursor starts at a fixed line while the user types (restarting when it has grown by a fifth), as editor
        plugins send it, so servers with a prefix cache compute only the new tokens.

Every request streams (`/v1/completions`, "stream": true) so time to first token is measured.
Reports requests/s, time to first token and total latency p50/p95/p99, and errors, as a table and --json,
with where the CPU went: the load generator's own CPU (cores busy, ms a request) and the server's (when this
script started it, or --server-pid), since on a small host they share the cores.

  bench/serve_load.py --server moecoder                  # starts .build/release/moecoder serve
  bench/serve_load.py --url http://127.0.0.1:8080        # an already running server (e.g. llama-server)
  bench/serve_load.py --server moecoder --server llama --llama-server PATH/llama-server
"""
import argparse
import glob
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def load_code():
    texts = []
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "heldout", "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    if not texts:
        sys.exit("no held-out code under models/heldout")
    return texts


class Client:
    """One keep-alive connection that streams completions."""

    def __init__(self, url, key=None):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port or 80
        self.key = key
        self.conn = None

    def complete(self, prompt, max_tokens):
        """Returns (ttft seconds, total seconds, error or None)."""
        body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                           "cache_prompt": True})
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = "Bearer " + self.key
        start = time.perf_counter()
        ttft = None
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.request("POST", "/v1/completions", body, headers)
                resp = self.conn.getresponse()
                if resp.status != 200:
                    resp.read()
                    return None, time.perf_counter() - start, f"HTTP {resp.status}"
                while True:
                    line = resp.readline()
                    if not line:
                        break
                    if line.startswith(b"data: "):
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        if line.strip() == b"data: [DONE]":
                            break
                resp.read()
                return ttft, time.perf_counter() - start, None
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.conn = None
                if attempt == 1:
                    return None, time.perf_counter() - start, type(e).__name__
        return None, 0, "unreachable"


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.ttft, self.total, self.errors, self.count = [], [], 0, 0
        self.kinds = {}

    def add(self, ttft, total, error):
        with self.lock:
            self.count += 1
            if error:
                self.errors += 1
                self.kinds[error] = self.kinds.get(error, 0) + 1
            else:
                self.ttft.append(ttft if ttft is not None else total)
                self.total.append(total)

    def summary(self, seconds):
        ok = len(self.total)
        return {
            "requests": self.count, "errors": self.errors, "error_kinds": self.kinds,
            "error_rate": self.errors / self.count if self.count else 0,
            "requests_per_s": ok / seconds if seconds else 0,
            "ttft_ms": {p: round(percentile(self.ttft, p) * 1000, 1) for p in (50, 95, 99)},
            "latency_ms": {p: round(percentile(self.total, p) * 1000, 1) for p in (50, 95, 99)},
        }


def cold_prompts(code, tokens_per_char=0.3, count=2000, seed=1):
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        text = rng.choice(code)
        want = rng.randint(32, 256)
        chars = int(want / tokens_per_char)
        start = rng.randint(0, max(0, len(text) - chars))
        prompts.append(text[start:start + chars])
    return prompts


def closed_loop(url, key, clients, duration, next_prompt, requests=None):
    """CLIENTS clients send as fast as they are answered for `duration` s, or (with `requests`) until that many
    requests have been sent in all."""
    rec = Recorder()
    stop = time.perf_counter() + duration
    sent = [0]
    lock = threading.Lock()

    def more():
        if requests is None:
            return time.perf_counter() < stop
        with lock:
            sent[0] += 1
            return sent[0] <= requests

    def run(i):
        c = Client(url, key)
        while more():
            prompt = next_prompt(i)
            rec.add(*c.complete(prompt, 16))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rec.summary(time.perf_counter() - start)


def open_loop(url, key, rate, duration, prompts, workers=128):
    """Poisson arrivals at `rate`/s, each sent on a free connection from a pool."""
    rec = Recorder()
    rng = random.Random(2)
    arrivals, t = [], 0.0
    while t < duration:
        t += rng.expovariate(rate)
        arrivals.append(t)
    lock = threading.Lock()
    index = [0]
    start = time.perf_counter()

    def worker():
        c = Client(url, key)
        while True:
            with lock:
                if index[0] >= len(arrivals):
                    return
                i = index[0]
                index[0] += 1
            delay = start + arrivals[i] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            ttft, total, error = c.complete(prompts[i % len(prompts)], 16)
            # Latency counts from the scheduled arrival (queueing in the client pool included).
            lag = sent - (start + arrivals[i])
            rec.add(None if ttft is None else ttft + max(0, lag), total + max(0, lag), error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return rec.summary(time.perf_counter() - start)


def editor(url, key, clients, duration, code, file_chars, seed=3, requests=None, warm=False):
    """The editor scenario; with `warm`, every client's first request (its whole window, with no cached prefix)
    is sent before the measured run starts, which then sees the steady state of typing; returns the measured run
    as a function."""
    rng = random.Random(seed)
    files = []
    for i in range(clients):
        text = code[i % len(code)]
        start = rng.randint(0, max(0, len(text) - file_chars))
        files.append(text[start:start + file_chars])
    alphabet = "abcdefghijklmnopqrstuvwxyz_ ().,:=\n    "

    starts = [0] * clients

    def next_prompt(i):
        files[i] += "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        # An editor plugin sends the code before the cursor from a window start that stays put while the user
        # types (as llama.vim's line windows and moecoder's own LSP do), so a server's prefix cache can serve it;
        # when the window has grown to 1.2x `file_chars` it restarts at a line about `file_chars` from the end
        # (typed characters are random and tokenize densely: the window stays within 512 positions).
        if len(files[i]) - starts[i] > file_chars * 6 // 5:
            cut = files[i].find("\n", len(files[i]) - file_chars)
            starts[i] = cut + 1 if cut >= 0 else len(files[i]) - file_chars
        return files[i][starts[i]:]

    if warm:
        def first(i):
            Client(url, key).complete(next_prompt(i), 16)
        threads = [threading.Thread(target=first, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return lambda: closed_loop(url, key, clients, duration, next_prompt, requests)


def start_server(kind, args):
    port = args.port_base + (0 if kind == "moecoder" else 1)
    if kind == "moecoder":
        cmd = [args.moecoder, "serve", "--model", args.model, "--port", str(port), "--threads", str(args.threads),
               "--max-batch", "32", *args.moecoder_arg]
    else:
        cmd = [args.llama_server, "-m", args.model, "--port", str(port), "-t", str(args.threads), "--parallel", "32",
               "-c", str(args.llama_ctx), "--cont-batching", "--log-disable"]
    if args.cache_reuse:
        cmd += ["--cache-reuse", str(args.cache_reuse)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except Exception:
            time.sleep(0.5)
    proc.kill()
    sys.exit(f"{kind} did not start: {' '.join(cmd)}")


def server_cpu_seconds(pid):
    """CPU seconds (user + system, all threads) the process `pid` has used, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def with_cpu(pid, run):
    """Runs a scenario and adds where the CPU went: this load generator's CPU seconds and the server's (when its
    pid is known), each per request and as cores busy; on a 2-core host they share the same cores."""
    c0, s0, t0 = time.process_time(), server_cpu_seconds(pid) if pid else None, time.perf_counter()
    result = run()
    c1, s1, t1 = time.process_time(), server_cpu_seconds(pid) if pid else None, time.perf_counter()
    n = max(1, result["requests"])
    result["wall_s"] = round(t1 - t0, 2)
    result["client_cpu_s"] = round(c1 - c0, 2)
    result["client_cpu_ms_per_request"] = round((c1 - c0) * 1000 / n, 3)
    result["client_cores"] = round((c1 - c0) / (t1 - t0), 2)
    if s0 is not None and s1 is not None:
        result["server_cpu_s"] = round(s1 - s0, 2)
        result["server_cpu_ms_per_request"] = round((s1 - s0) * 1000 / n, 3)
        result["server_cores"] = round((s1 - s0) / (t1 - t0), 2)
    return result


def run_all(url, key, args, code, pid=None):
    results = {}
    prompts = cold_prompts(code)
    counter = [0]
    lock = threading.Lock()

    def next_cold(_):
        with lock:
            counter[0] += 1
            return prompts[counter[0] % len(prompts)]

    # Warm-up.
    closed_loop(url, key, 4, 2, next_cold)
    if "cold" in args.scenario:
        peak = with_cpu(pid, lambda: closed_loop(url, key, args.clients, args.duration, next_cold))
        results["cold_closed"] = peak
        rate = max(0.5, peak["requests_per_s"] / 2)
        results["cold_open"] = with_cpu(pid, lambda: open_loop(url, key, rate, args.duration, prompts))
        results["cold_open"]["offered_rate"] = round(rate, 2)
    if "editor" in args.scenario:
        run = editor(url, key, args.clients, args.duration, code, args.file_chars, requests=args.requests,
                     warm=args.requests is not None)
        results["editor"] = with_cpu(pid, run)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", action="append", choices=["moecoder", "llama"], help="start this server (repeatable)")
    p.add_argument("--url", help="measure an already running server instead")
    p.add_argument("--api-key")
    p.add_argument("--model", default=os.path.join(ROOT, "models", "default.gguf"))
    p.add_argument("--moecoder", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    p.add_argument("--llama-server", default="llama-server")
    p.add_argument("--llama-ctx", type=int, default=32 * 512, help="llama-server -c (shared by its 32 slots)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--requests", type=int,
                   help="editor: send this many requests in all instead of running for --duration, after a first "
                        "request from every client that is not measured (its whole window, before typing starts); "
                        "for CPU per request on a busy host, where a fixed duration measures the load instead")
    p.add_argument("--file-chars", type=int, default=700,
                   help="editor: characters before the cursor sent with each request (keep within the context; "
                        "700 characters are ~200 tokens of Python, and the window grows to 1.2x that: within the default model's 512 positions)")
    p.add_argument("--scenario", action="append", choices=["cold", "editor"])
    p.add_argument("--port-base", type=int, default=18431)
    p.add_argument("--server-pid", type=int, help="with --url: the server's process id, to report its CPU time")
    p.add_argument("--moecoder-arg", action="append", default=[],
                   help="an extra argument for `moecoder serve` (repeatable), e.g. --moecoder-arg=--kv-type=f32")
    p.add_argument("--cache-reuse", type=int, default=0,
                   help="pass --cache-reuse N to the servers started (moecoder and llama-server alike): reuse cached "
                        "chunks of at least N tokens at shifted positions (approximate; 0: exact prefixes only)")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    args.scenario = args.scenario or ["cold", "editor"]
    load = os.getloadavg()[0]
    if load > 0.5 and not args.url:
        print(f"warning: load average {load:.2f}: the machine is busy, figures will be low", file=sys.stderr)
    code = load_code()
    report = {"clients": args.clients, "duration_s": args.duration, "load_before": load, "cache_reuse": args.cache_reuse,
              "servers": {}}
    targets = [("url", args.url)] if args.url else [(k, None) for k in (args.server or ["moecoder"])]
    for kind, url in targets:
        proc = None
        if url is None:
            proc, url = start_server(kind, args)
        try:
            print(f"measuring {kind} at {url} ...", file=sys.stderr)
            report["servers"][kind] = run_all(url, args.api_key, args, code, proc.pid if proc else args.server_pid)
        finally:
            if proc:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"{'server':10} {'scenario':12} {'req/s':>8} {'ttft p50/p95/p99 ms':>24} {'latency p50/p95/p99 ms':>26} {'errors':>7}"
          f" {'client cores':>12} {'server cores':>12} {'server CPU ms/req':>17}")
    for kind, results in report["servers"].items():
        for scenario, r in results.items():
            t, l = r["ttft_ms"], r["latency_ms"]
            print(f"{kind:10} {scenario:12} {r['requests_per_s']:8.1f} {t[50]:8.0f}/{t[95]:.0f}/{t[99]:.0f}".ljust(45)
                  + f" {l[50]:10.0f}/{l[95]:.0f}/{l[99]:.0f}".ljust(27) + f" {r['errors']:7d}"
                  + f" {r.get('client_cores', float('nan')):12.2f} {r.get('server_cores', float('nan')):12.2f}"
                  + f" {r.get('server_cpu_ms_per_request', float('nan')):17.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
