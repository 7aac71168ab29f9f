#!/usr/bin/env python3
"""What `moecoder serve --cache-reuse N` changes on the editor scenario of bench/serve_load.py: replays its kind of
prompts (CLIENTS clients at once, each with its own file, appending 1-20 characters between requests, the same window
rule, 16 tokens at temperature 0, non-streamed so that `usage` comes back) against each server given, in turn, and
reports per server the prompt tokens it computed a request (prompt_tokens - cached_tokens) and, against the first
server (run it without --cache-reuse: the exact answers), the fraction of completions that are identical, over all
requests and over the window restarts (the requests whose prompt shares less than half of the previous one's tokens,
where chunks are moved) and the rest.

  bench/serve_cache_reuse.py --url http://127.0.0.1:8080 --url http://127.0.0.1:8081 [--json out.json]
"""
import argparse
import http.client
import json
import os
import random
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_load  # noqa: E402


def replay(url, clients, requests_per_client, file_chars, code):
    """Per client, per request: (completion text, prompt tokens, cached tokens, restart?)."""
    u = urllib.parse.urlparse(url)
    rng0 = random.Random(3)
    files = []
    for i in range(clients):
        text = code[i % len(code)]
        start = rng0.randint(0, max(0, len(text) - file_chars))
        files.append(text[start:start + file_chars])
    alphabet = "abcdefghijklmnopqrstuvwxyz_ ().,:=\n    "
    records = [[] for _ in range(clients)]

    def run(i):
        rng = random.Random(100 + i)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=300)
        start, text, previous = 0, files[i], None
        for _ in range(requests_per_client + 1):
            text += "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
            restart = False
            if len(text) - start > file_chars * 6 // 5:
                cut = text.find("\n", len(text) - file_chars)
                start = cut + 1 if cut >= 0 else len(text) - file_chars
                restart = previous is not None
            prompt = text[start:]
            conn.request("POST", "/v1/completions",
                         json.dumps({"prompt": prompt, "max_tokens": 16, "temperature": 0}),
                         {"Content-Type": "application/json"})
            out = json.loads(conn.getresponse().read())
            usage = out.get("usage") or {}
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
            records[i].append((out["choices"][0]["text"] if "choices" in out else None,
                               usage.get("prompt_tokens", 0), cached, restart))
            previous = prompt

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", action="append", required=True, help="a server (repeatable; the first is the reference)")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests-per-client", type=int, default=31)
    p.add_argument("--file-chars", type=int, default=700)
    p.add_argument("--json")
    args = p.parse_args()
    code = serve_load.load_code()
    runs = [replay(url, args.clients, args.requests_per_client, args.file_chars, code) for url in args.url]
    report = []
    for url, records in zip(args.url, runs):
        # The first request of each client fills its cache: not counted.
        flat = [r for client in records for r in client[1:]]
        reference = [r for client in runs[0] for r in client[1:]]
        n = max(1, len(flat))
        entry = {"url": url, "requests": len(flat),
                 "computed_prompt_tokens_per_request": round(sum(r[1] - r[2] for r in flat) / n, 2),
                 "errors": sum(r[0] is None for r in flat)}
        for name, keep in (("all", lambda r: True), ("restarts", lambda r: r[3]), ("typing", lambda r: not r[3])):
            pairs = [(a, b) for a, b in zip(flat, reference) if keep(b)]
            same = sum(a[0] == b[0] for a, b in pairs)
            entry[f"identical_{name}"] = f"{same}/{len(pairs)}"
            if name == "restarts":
                entry["computed_prompt_tokens_per_restart"] = round(
                    sum(a[1] - a[2] for a, _ in pairs) / max(1, len(pairs)), 2)
        report.append(entry)
        print(json.dumps(entry))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
