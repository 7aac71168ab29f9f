#!/usr/bin/env python3
"""Checks the prefix cache on the editor scenario of bench/serve_load.py: replays its kind of prompts (CLIENTS clients
at once, each with its own file, appending 1-20 characters between requests, the same window rule) against a running
server, non-streamed so that `usage` comes back, and compares the prompt tokens the server computed
(prompt_tokens - cached_tokens) with what a perfect cache of each client's previous prompt would compute (the tokens
after the longest common prefix of the two prompts' token lists, from /tokenize, at least one).

  bench/serve_editor_cache.py --url http://127.0.0.1:8080
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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests-per-client", type=int, default=31)
    p.add_argument("--file-chars", type=int, default=700)
    args = p.parse_args()
    u = urllib.parse.urlparse(args.url)
    code = serve_load.load_code()
    rng0 = random.Random(3)
    files = []
    for i in range(args.clients):
        text = code[i % len(code)]
        start = rng0.randint(0, max(0, len(text) - args.file_chars))
        files.append(text[start:start + args.file_chars])
    alphabet = "abcdefghijklmnopqrstuvwxyz_ ().,:=\n    "
    # Per client: perfect-cache tokens, server-computed tokens, requests, restarts, errors.
    results = [[0, 0, 0, 0, 0] for _ in range(args.clients)]

    def run(i):
        rng = random.Random(100 + i)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=300)

        def post(path, body):
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())

        start, previous, text = 0, None, files[i]
        for r in range(args.requests_per_client + 1):
            text += "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
            if len(text) - start > args.file_chars * 6 // 5:
                cut = text.find("\n", len(text) - args.file_chars)
                start = cut + 1 if cut >= 0 else len(text) - args.file_chars
            prompt = text[start:]
            tokens = post("/tokenize", {"content": prompt})["tokens"]
            out = post("/v1/completions", {"prompt": prompt, "max_tokens": 16, "temperature": 0})
            if "usage" not in out:
                results[i][4] += 1
            elif r > 0:   # the first request of each client fills its cache
                common = 0
                while common < min(len(previous), len(tokens)) and previous[common] == tokens[common]:
                    common += 1
                common = min(common, len(tokens) - 1)
                usage = out["usage"]
                cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                results[i][0] += len(tokens) - common
                results[i][1] += usage["prompt_tokens"] - cached
                results[i][2] += 1
                results[i][3] += common < len(previous) // 2
            previous = tokens

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n = max(1, sum(r[2] for r in results))
    print(json.dumps({"requests": n, "perfect_cache_tokens_per_request": round(sum(r[0] for r in results) / n, 2),
                      "server_tokens_per_request": round(sum(r[1] for r in results) / n, 2),
                      "window_restarts": sum(r[3] for r in results), "errors": sum(r[4] for r in results)}))


if __name__ == "__main__":
    main()
