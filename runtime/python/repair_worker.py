"""Candidate validation for `moecoder repair`.

Started by the Swift side as `python3 -I repair_worker.py TARGET.py WORKDIR MEMORY_MB`, where WORKDIR is a
temporary copy of the user's project and TARGET.py the file to repair inside it. It reads one JSON job on stdin:

    {"tests": ["test_calc.py"], "cmd": null, "jobs": 2, "timeout": 5.0, "budget": 60.0, "trace": false,
     "first": ["test_calc.py::test_max"], "baseline_passing": ["test_calc.py::test_min"],
     "candidates": [{"id": 0, "source": "def ..."}]}

and answers one JSON line per candidate it ran, in the order they finish:

    {"id": 0, "outcomes": {"test_calc.py::test_max": "passed"}, "complete": true, "seconds": 0.08,
     "timeout": false, "crashed": null, "coverage": {...}, "frames": {...}, "messages": {...}}

Each candidate runs in a forked child: the child writes the candidate's source over TARGET in its own copy of
the project (one copy per parallel job), enters testgen's sandbox (`testgen_worker.enter_sandbox`: memory, file
size and process limits, an audit hook refusing writes outside the copy, process creation and network use) and
runs pytest in-process. Tests that failed before the patch run first; when none of them passes the run stops
there (the candidate cannot be a fix) and `complete` is false. A previously passing test that fails stops the run
as well (the patch breaks something). The parent kills a child that exceeds `timeout`.

With `trace`, each test's executed lines in TARGET (its coverage spectrum) and the lines of TARGET in each failing
test's traceback are recorded, for fault localisation.

With `cmd` (a shell command instead of `tests`), the command runs in the copy with pytest's `-rA` summary
requested through PYTEST_ADDOPTS; outcomes are read from that summary, or from the exit status alone.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

TARGET = os.path.realpath(sys.argv[1])
WORKDIR = os.path.realpath(sys.argv[2])
MEMORY_MB = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
RELATIVE_TARGET = os.path.relpath(TARGET, WORKDIR)
RESULT_NAME = ".moecoder-repair-result.json"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testgen_worker  # noqa: E402  (the shared sandbox; it reads the same argv layout)


def progress(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------------------------------------
# In the child: one pytest run


class Recorder:
    """A pytest plugin: outcomes per test, and with tracing, line spectra and traceback lines in TARGET."""

    def __init__(self, target, first, passing, trace):
        self.target = target
        self.first = list(first)
        self.pending_first = set(first)
        self.passing = set(passing)
        self.trace = trace
        self.outcomes = {}
        self.messages = {}
        self.coverage = {}
        self.frames = {}
        self.complete = True
        self._lines = None

    # Order: the tests that failed before the patch first, so a useless candidate is rejected early.
    def pytest_collection_modifyitems(self, session, config, items):
        rank = {nodeid: i for i, nodeid in enumerate(self.first)}
        items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))

    def _tracer(self, frame, event, arg):
        if frame.f_code.co_filename != self.target:
            return None
        lines = self._lines

        def local(frame, event, arg):
            if event == "line":
                lines.add(frame.f_lineno)
            return local

        if event == "call":
            lines.add(frame.f_lineno)
        return local

    def pytest_runtest_setup(self, item):
        if self.trace:
            self._lines = set()
            sys.settrace(self._tracer)

    def pytest_runtest_teardown(self, item):
        if self.trace:
            sys.settrace(None)
            self.coverage[item.nodeid] = sorted(self._lines)

    def pytest_runtest_makereport(self, item, call):
        if call.excinfo is None or call.when != "call":
            return
        lines = [frame.lineno for frame in traceback.extract_tb(call.excinfo.tb)
                 if os.path.realpath(frame.filename) == self.target]
        if lines:
            self.frames[item.nodeid] = lines
        self.messages[item.nodeid] = call.excinfo.exconly().splitlines()[0][:300] if call.excinfo.exconly() else ""

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        if report.failed:
            self.outcomes[nodeid] = "failed" if report.when == "call" else "error"
        elif report.when == "call" or (report.skipped and nodeid not in self.outcomes):
            self.outcomes.setdefault(nodeid, "skipped" if report.skipped else "passed")
        if report.when != "teardown":
            return
        self.pending_first.discard(nodeid)
        session = getattr(self, "session", None)
        if session is None:
            return
        if self.first and not self.pending_first and not any(
                self.outcomes.get(n) == "passed" for n in self.first):
            self.complete = False
            # shouldfail, not shouldstop: pytest treats a stop as an interruption and formats its traceback
            # (most of a short candidate run's time); a failure ends the session without that.
            session.shouldfail = "no previously failing test passes"
        if nodeid in self.passing and self.outcomes.get(nodeid) != "passed":
            self.complete = False
            session.shouldfail = "a previously passing test fails"

    def pytest_sessionstart(self, session):
        self.session = session


def die_with_parent():
    """PR_SET_PDEATHSIG: the kernel kills this child when the worker dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:  # not Linux: the worker's SIGTERM handler still kills its children
        pass


def run_child(copy, candidate, job):
    """Runs in the forked child; never returns."""
    result_path = os.path.join(copy, RESULT_NAME)
    try:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        die_with_parent()
        target = os.path.join(copy, RELATIVE_TARGET)
        with open(target, "w", encoding="utf-8") as out:
            out.write(candidate["source"])
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        testgen_worker.WORKDIR = copy
        testgen_worker.MODULE_PATH = target
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        testgen_worker.enter_sandbox()
        os.chdir(os.path.join(copy, job.get("cwd") or "."))
        sys.path[:0] = [copy, os.path.dirname(target)]
        import pytest

        recorder = Recorder(os.path.realpath(target), job.get("first", []), job.get("baseline_passing", []),
                            job.get("trace", False))
        arguments = ["-q", "--tb=no", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
                     "-p", "no:threadexception", "-p", "no:faulthandler", "--rootdir", copy] + job.get("plugin_options", []) + job["tests"]
        pytest.main(arguments, plugins=[recorder])
        message = {"outcomes": recorder.outcomes, "complete": recorder.complete, "messages": recorder.messages}
        if recorder.trace:
            message["coverage"] = recorder.coverage
            message["frames"] = recorder.frames
    except BaseException as error:  # noqa: B036 - report anything, SystemExit included
        message = {"crashed": f"{type(error).__name__}: {error}"}
    try:
        with open(result_path, "w", encoding="utf-8") as out:
            json.dump(message, out)
    finally:
        os._exit(0)


# ---------------------------------------------------------------------------------------------------------
# Command mode

COMMANDS = set()  # process groups of running test commands
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def run_command(copy, candidate, job):
    target = os.path.join(copy, RELATIVE_TARGET)
    with open(target, "w", encoding="utf-8") as out:
        out.write(candidate["source"])
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                       PYTEST_ADDOPTS="-rA -p no:cacheprovider " + os.environ.get("PYTEST_ADDOPTS", ""))
    cwd = os.path.join(copy, job.get("cwd", "."))
    process = subprocess.Popen(job["cmd"], shell=True, cwd=cwd, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True, stdin=subprocess.DEVNULL)
    COMMANDS.add(process.pid)
    try:
        stdout, _ = process.communicate(timeout=job["timeout"])
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        process.communicate()
        return {"timeout": True, "outcomes": {}}
    finally:
        kill_group(process.pid)  # whatever the command left running in its session
        COMMANDS.discard(process.pid)
    done = subprocess.CompletedProcess(job["cmd"], process.returncode, stdout)
    outcomes = {}
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        match = _SUMMARY.match(line)
        if match:
            kind = match.group(1)
            outcomes[match.group(2)] = {"PASSED": "passed", "XFAIL": "passed", "FAILED": "failed",
                                        "XPASS": "failed", "ERROR": "error"}.get(kind, "skipped")
    if not outcomes:
        outcomes["command"] = "passed" if done.returncode == 0 else "failed"
    return {"outcomes": outcomes, "complete": True, "status": done.returncode}


# ---------------------------------------------------------------------------------------------------------
# The parent: a pool of forked children, one per project copy


def make_copies(count):
    copies = [WORKDIR]
    for i in range(1, count):
        copy = WORKDIR + f"-job{i}"
        if not os.path.exists(copy):
            shutil.copytree(WORKDIR, copy, symlinks=True)
        copies.append(copy)
    return copies


def read_result(copy):
    path = os.path.join(copy, RESULT_NAME)
    try:
        with open(path, encoding="utf-8") as source:
            return json.load(source)
    except (OSError, ValueError):
        return {"crashed": "the test run ended without a result"}
    finally:
        try:
            os.remove(path)
        except OSError:
            pass


def kill_group(pid):
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass


def test_text(tests, cwd="."):
    """The text of the test files and every conftest.py in the copy, to see which plugins the tests use."""
    paths = []
    for test in tests:
        if test.startswith("-"):
            continue
        path = os.path.join(WORKDIR, cwd, test.split("::")[0])
        if os.path.isdir(path):
            paths += [os.path.join(d, f) for d, _, files in os.walk(path) for f in files if f.endswith(".py")]
        else:
            paths.append(path)
    paths += [os.path.join(d, "conftest.py") for d, _, files in os.walk(WORKDIR) if "conftest.py" in files]
    text = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as source:
                text.append(source.read())
        except OSError:
            pass
    return "\n".join(text)


def plugin_options(tests, cwd="."):
    """`-p MODULE` for each installed pytest plugin the tests mention (imported here, once); the children run
    with plugin autoloading off.

    Some plugins cost a second per session (hypothesis's), and scanning the installed distributions for them
    costs a fraction of one; both would dominate a candidate's run. A plugin is kept when a word of its name or
    module (other than "pytest" and "plugin") occurs in the tests or conftests.
    """
    from importlib.metadata import entry_points

    text = test_text(tests, cwd)
    options = []
    for entry in entry_points(group="pytest11"):
        words = {w for w in re.split(r"[^a-zA-Z0-9]+", entry.name + " " + entry.value)
                 if len(w) > 2 and w not in ("pytest", "plugin", "pytestplugin")}
        words |= {w[:-len("pytest")] for w in words if w.endswith("pytest") and len(w) > 8}
        if any(word in text for word in words):
            module = entry.value.split(":")[0]
            try:
                __import__(module)
            except Exception:  # a broken plugin fails in the child too, where pytest reports it
                pass
            options += ["-p", module]
    return options


def program_key(source):
    """Candidates that differ only in formatting (or redundant parentheses) have the same AST: one run serves."""
    import ast

    try:
        return ast.dump(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source


def main():
    job = json.loads(sys.stdin.read())
    candidates = job["candidates"]
    jobs = max(1, min(int(job.get("jobs", 1)), len(candidates) or 1))
    deadline = time.monotonic() + float(job.get("budget", 60))
    timeout = float(job.get("timeout", 10))
    copies = make_copies(jobs)
    free = list(copies)
    running = {}  # pid -> (copy, candidate, started)

    def stop(signum, frame):
        # Ctrl-C or the Swift side giving up: no test run may outlive the worker, and the copies go too.
        for pid in list(running) + list(COMMANDS):
            kill_group(pid)
        for copy in copies[1:]:
            shutil.rmtree(copy, ignore_errors=True)
        os._exit(128 + signum)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, stop)
    # The signal mask survives exec, and the Swift side's threads may block these: unblock them, or a SIGTERM
    # would wait for the SIGKILL that follows it and the test commands' process groups would outlive us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    # Same program, one run: later duplicates get the first one's result.
    first_of = {}
    duplicates = {}  # id of the first -> ids of its duplicates
    queue = []
    for candidate in candidates:
        key = program_key(candidate["source"])
        if key in first_of:
            duplicates.setdefault(first_of[key], []).append(candidate["id"])
        else:
            first_of[key] = candidate["id"]
            queue.append(candidate)
    done = 0
    last_progress = time.monotonic()
    out = sys.stdout

    plausible = [0]
    stop_after = int(job.get("stop_after_plausible") or 0)

    def emit(result):
        outcomes = result.get("outcomes") or {}
        if (not result.get("timeout") and not result.get("crashed") and result.get("complete", True)
                and any(v == "passed" for v in outcomes.values())
                and all(v in ("passed", "skipped") for v in outcomes.values())):
            plausible[0] += 1
            if stop_after and plausible[0] >= stop_after and queue:
                progress(f"repair: {plausible[0]} candidates pass every test; {len(queue)} left unvalidated")
                queue.clear()
        out.write(json.dumps(result) + "\n")
        for other in duplicates.get(result["id"], []):
            out.write(json.dumps(dict(result, id=other, duplicate=True)) + "\n")
        out.flush()

    if not job.get("cmd"):
        import pytest  # noqa: F401 - imported once here, so each child starts warm

        job["plugin_options"] = plugin_options(job["tests"], job.get("cwd") or ".")
    while queue or running:
        while queue and free and time.monotonic() < deadline:
            candidate = queue.pop(0)
            copy = free.pop()
            if job.get("cmd"):
                started = time.monotonic()
                result = run_command(copy, candidate, job)
                result.update(id=candidate["id"], seconds=round(time.monotonic() - started, 4))
                emit(result)
                free.append(copy)
                done += 1
                continue
            pid = os.fork()
            if pid == 0:
                run_child(copy, candidate, job)
            running[pid] = (copy, candidate, time.monotonic())
        if not running:
            break
        finished, status = os.waitpid(-1, os.WNOHANG)
        now = time.monotonic()
        if finished == 0:
            for pid, (copy, candidate, started) in list(running.items()):
                if now - started > timeout:
                    kill_group(pid)
            time.sleep(0.002)
            continue
        if finished not in running:
            continue
        copy, candidate, started = running.pop(finished)
        kill_group(finished)  # anything the test left behind in the child's process group
        elapsed = now - started
        if elapsed > timeout:
            result = {"timeout": True, "outcomes": {}}
            try:
                os.remove(os.path.join(copy, RESULT_NAME))
            except OSError:
                pass
        else:
            result = read_result(copy)
        result.update(id=candidate["id"], seconds=round(elapsed, 4))
        emit(result)
        free.append(copy)
        done += 1
        if now - last_progress > 2:
            progress(f"repair: validated {done}/{len(first_of)} candidates")
            last_progress = now
    if queue:
        progress(f"repair: the budget ran out with {len(queue)} candidates not validated")
    for copy in copies[1:]:
        shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    main()
