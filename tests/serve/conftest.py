"""Starts the real `moecoder serve` binary on a free port for the HTTP tests.

MOECODER_BIN: the binary (default .build/debug/moecoder); MOECODER_SERVE_MODEL: the model
(default models/default.gguf).
"""
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

ROOT = os.environ.get("MOECODER_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("MOECODER_BIN", os.path.join(ROOT, ".build", "debug", "moecoder"))
MODEL = os.environ.get("MOECODER_SERVE_MODEL", os.path.join(ROOT, "models", "default.gguf"))


class Server:
    def __init__(self, *args, model=MODEL, preexec_fn=None):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--model", model, "--port", "0", "--threads", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=preexec_fn)
        self.lines = []
        deadline = time.time() + 60
        self.port = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"serving \S+ on http://[\d.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("the server did not start:\n" + "".join(self.lines) + (self.proc.stdout.read() or ""))
        self.url = f"http://127.0.0.1:{self.port}"

    def metrics(self, headers=None):
        req = urllib.request.Request(self.url + "/metrics", headers=headers or {})
        text = urllib.request.urlopen(req, timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig` (SIGTERM by default); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def output(self):
        """Everything the server wrote (call after stop)."""
        return "".join(self.lines) + (self.proc.stdout.read() or "")


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0


@pytest.fixture
def start_server():
    started = []

    def start(*args, **kwargs):
        s = Server(*args, **kwargs)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()
