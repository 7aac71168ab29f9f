"""`moecoder lsp` under 100 malformed messages: each gets the right JSON-RPC error, and the server still works.

Raw bytes on a pipe, since a well-behaved client cannot send broken frames."""

import json
import subprocess

from conftest import moecoder_binary


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def message(obj) -> bytes:
    return frame(json.dumps(obj).encode())


def read_messages(data: bytes) -> list[dict]:
    out = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def malformed() -> list[tuple[bytes, int]]:
    """100 broken messages and the error code each must get."""
    cases = []
    for i in range(20):
        cases.append((b"Garbage line %d\r\n\r\n" % i, -32700))  # header without a colon
        cases.append((frame(b"{not json %d" % i), -32700))  # body is not JSON
        cases.append((message({"jsonrpc": "2.0", "id": 1000 + i, "method": f"no/such/method{i}"}), -32601))
        cases.append((message({"jsonrpc": "2.0", "id": 2000 + i, "method": "textDocument/completion",
                               "params": {"textDocument": i}}), -32602))
        cases.append((message({"jsonrpc": "1.0", "id": 3000 + i, "method": "shutdown"}) if i % 2 else
                      message([1, 2, i]), -32600))
    return cases


def test_survives_100_malformed_messages():
    cases = malformed()
    assert len(cases) == 100
    stream = message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    stream += b"".join(body for body, _ in cases)
    stream += message({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "file:///tmp/x.py", "languageId": "python", "version": 1, "text": "def f(:\n"}}})
    stream += message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    stream += message({"jsonrpc": "2.0", "method": "exit"})
    done = subprocess.run([moecoder_binary(), "lsp"], input=stream, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    replies = read_messages(done.stdout)
    errors = [r for r in replies if "error" in r]
    assert [e["error"]["code"] for e in errors] == [code for _, code in cases]
    by_id = {r.get("id"): r for r in replies if "id" in r}
    assert "capabilities" in by_id[1]["result"]
    assert by_id[2]["result"] is None  # shutdown still answered after all that
    assert any(r.get("method") == "textDocument/publishDiagnostics" and r["params"]["diagnostics"] for r in replies)


def test_requests_before_initialize_and_exit_without_shutdown():
    stream = message({"jsonrpc": "2.0", "id": 1, "method": "textDocument/completion", "params": {}})
    stream += message({"jsonrpc": "2.0", "method": "exit"})
    done = subprocess.run([moecoder_binary(), "lsp"], input=stream, capture_output=True, timeout=60)
    assert done.returncode == 1  # exit without shutdown
    assert read_messages(done.stdout)[0]["error"]["code"] == -32002
    assert b"moecoder lsp:" in done.stderr  # logs on stderr, never stdout


def test_without_a_model_diagnostics_work_and_completion_says_so(tmp_path):
    stream = message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    stream += message({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": "file:///tmp/y.py", "languageId": "python", "version": 1, "text": "x = (\n"}}})
    stream += message({"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
        "textDocument": {"uri": "file:///tmp/y.py"}, "position": {"line": 0, "character": 5},
        "context": {"triggerKind": 1}}})
    log = tmp_path / "lsp.log"
    # Wait for the completion's answer before shutdown, as a client would (shutdown cancels queued work).
    server = subprocess.Popen([moecoder_binary(), "lsp", "--model", str(tmp_path / "missing.gguf"), "--log", str(log)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    server.stdin.write(stream)
    server.stdin.flush()
    replies = []
    while not any(r.get("id") == 2 for r in replies):
        header = server.stdout.readline()
        length = int(header.split(b":")[1])
        server.stdout.readline()
        replies.append(json.loads(server.stdout.read(length)))
    server.stdin.write(message({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
                       + message({"jsonrpc": "2.0", "method": "exit"}))
    server.stdin.close()
    assert server.wait(timeout=30) == 0
    completion = next(r for r in replies if r.get("id") == 2)
    assert "model" in completion["error"]["message"] and "--model" in completion["error"]["message"]
    assert any(r.get("method") == "textDocument/publishDiagnostics" and r["params"]["diagnostics"] for r in replies)
    assert "initialize" in log.read_text()  # --log sends the logs to the file
    assert server.stderr.read() == b""
