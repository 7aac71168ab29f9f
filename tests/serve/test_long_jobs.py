"""POST /v1/code/testgen and /v1/code/repair: the CLI's JSON over HTTP, progress as events, busy and cancel."""
import http.client
import json
import time

MODULE = ("def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n\n"
          "def mean(xs):\n    return sum(xs) / len(xs)\n")
BUGGY = "def total(xs):\n    s = 0\n    for i in range(len(xs) - 1):\n        s += xs[i]\n    return s\n"
TESTS = {"test_total.py": "from code import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 6\n\n\n"
                          "def test_empty():\n    assert total([]) == 0\n"}


def post(server, path, body, timeout=180):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def test_testgen_answers_with_the_report_and_the_test_file(server):
    status, text = post(server, "/v1/code/testgen", {"source": MODULE, "module": "mathy", "budget": 2})
    assert status == 200, text
    report = json.loads(text)
    assert report["module"] == "mathy.py" and report["test_file"] == "tests/test_mathy.py"
    assert report["verification"]["passed"] and report["coverage"]["line_percent"] > 50
    assert "def test_" in report["test_source"] and "import mathy" in report["test_source"].replace("from mathy", "import mathy")


def test_testgen_streams_progress_then_the_report(server):
    status, text = post(server, "/v1/code/testgen", {"source": MODULE, "budget": 1, "stream": True})
    assert status == 200
    events = [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    decoded = [json.loads(e) for e in events[:-1]]
    assert any("progress" in e for e in decoded[:-1])
    assert "report" in decoded[-1] and decoded[-1]["report"]["tests"]


def test_bad_requests_say_what_is_wrong(server):
    status, text = post(server, "/v1/code/testgen", {"source": "def f(:\n"})
    assert status == 400 and "does not parse" in json.loads(text)["error"]["message"]
    status, text = post(server, "/v1/code/testgen", {"source": MODULE, "module": "not a name"})
    assert status == 400 and json.loads(text)["error"]["param"] == "module"
    status, text = post(server, "/v1/code/repair", {"source": BUGGY, "tests": {"../escape.py": "x"}})
    assert status == 400 and json.loads(text)["error"]["param"] == "tests"
    status, text = post(server, "/v1/code/repair", {})
    assert status == 400 and json.loads(text)["error"]["param"] == "source"


def test_repair_finds_the_off_by_one(server):
    status, text = post(server, "/v1/code/repair", {"source": BUGGY, "tests": TESTS, "budget": 30})
    assert status == 200, text
    report = json.loads(text)
    best = report["patches"][0]
    assert best["tests"]["failed"] == [] and best["tests"]["passed"] == 2
    assert "range(len(xs)" in best["diff"] and "/tmp" not in text


def test_one_job_at_a_time_and_a_client_that_leaves_cancels(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", "/v1/code/testgen", json.dumps({"source": MODULE, "budget": 60, "stream": True}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline().startswith(b"data: ")  # it runs
    status, text = post(server, "/v1/code/testgen", {"source": MODULE, "budget": 1})
    assert status == 503 and json.loads(text)["error"]["code"] == "busy"
    conn.sock.close()
    conn.close()
    # The search stops when the client goes away: the server takes a new job well before the 60 s budget.
    deadline = time.time() + 30
    while True:
        status, text = post(server, "/v1/code/testgen", {"source": MODULE, "budget": 1})
        if status == 200 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert status == 200, text


def test_sigterm_ends_a_running_job_and_the_server(start_server):
    s = start_server()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("POST", "/v1/code/testgen", json.dumps({"source": MODULE, "budget": 120, "stream": True}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.readline().startswith(b"data: ")
    started = time.time()
    assert s.stop() == 0
    assert time.time() - started < 20, "the job held the server well past SIGTERM"
