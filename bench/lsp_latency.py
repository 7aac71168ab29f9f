#!/usr/bin/env python3
"""Inline-completion latency through `moecoder lsp` on a 300-line Python file: p50 and p95 over 20 requests.

The file is examples/complete/ledger.py followed by examples/complete/shapes.py and padding functions up to
300 lines; one statement in ledger.py loses its right-hand side and the cursor sits there. Each round sends a
didChange (re-typing the last character before the cursor, as an editor does while the user types) and then
`textDocument/inlineCompletion`, and measures the time from the request to its response on the client side:
framing, queueing, prompt, generation, stop rules and the parse check. One warm-up request is not counted.
The server and model are loaded once, as in an editor session.

    python3 bench/lsp_latency.py [--model models/default.gguf] [--binary .build/release/moecoder]
                                 [--runs 20] [--max-tokens 32] [--threads N] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "complete")
STATEMENT = "    total = sum(amounts, Decimal(0))\n"
CUT = "    total = "


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def document():
    """The 300-line file and the cursor (0-based line, UTF-16 character)."""
    text = open(os.path.join(EXAMPLES, "ledger.py")).read()
    assert STATEMENT in text, "examples/complete/ledger.py changed: update STATEMENT"
    text = text.replace(STATEMENT, CUT + "\n", 1)
    text += "\n\n" + open(os.path.join(EXAMPLES, "shapes.py")).read()
    n = 0
    while text.count("\n") < 300:
        n += 1
        text += f"\n\ndef helper_{n}(values: list[int]) -> int:\n    return sum(v * {n} for v in values)\n"
    lines = text.split("\n")[:300]
    text = "\n".join(lines) + "\n"
    line = next(i for i, l in enumerate(lines) if l == CUT)
    return text, line, len(CUT)


class Client:
    """A minimal JSON-RPC client over the server's pipes."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, payload):
        body = json.dumps(payload).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def read(self):
        length = None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "default.gguf"))
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "moecoder"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"lsp_latency: no model at {args.model}: train the default model or pass --model PATH.gguf")
    if not os.path.exists(args.binary):
        sys.exit(f"lsp_latency: no binary at {args.binary}: run scripts/setup or pass --binary")

    text, line, character = document()
    client = Client([args.binary, "lsp", "--model", args.model, "--max-tokens", str(args.max_tokens),
                     "--threads", str(args.threads)])
    client.request("initialize", {"capabilities": {}})
    client.notify("initialized", {})
    uri = "file:///bench/ledger_300.py"
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    position = {"line": line, "character": character}
    before = {"line": line, "character": character - 1}
    latencies, lengths = [], []
    for run in range(args.runs + 1):
        # Re-type the space before the cursor: an incremental change, as while typing.
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": run + 2},
            "contentChanges": [{"range": {"start": before, "end": position}, "text": " "}]})
        start = time.perf_counter()
        reply = client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}})
        elapsed = (time.perf_counter() - start) * 1000
        if "error" in reply:
            sys.exit(f"lsp_latency: the server answered an error: {reply['error']['message']}")
        if run > 0:
            latencies.append(elapsed)
            items = reply["result"]["items"]
            lengths.append(len(items[0]["insertText"]) if items else 0)
    client.request("shutdown", None)
    client.notify("exit", None)
    client.process.wait(timeout=10)

    result = {"model": os.path.relpath(args.model, ROOT), "lines": text.count("\n"), "runs": args.runs,
              "max_tokens": args.max_tokens, "threads": args.threads,
              "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
              "mean_ms": round(statistics.mean(latencies), 1), "mean_completion_chars": statistics.mean(lengths)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"inline completion via moecoder lsp, {result['lines']}-line file, {args.runs} runs, "
              f"model {result['model']}: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
              f"(mean {result['mean_ms']} ms, {result['mean_completion_chars']:.0f} chars)")


if __name__ == "__main__":
    main()
