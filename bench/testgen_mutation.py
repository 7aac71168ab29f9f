"""Mutation score of a pytest file: the same mutants (runtime/python/testgen_mutants.py) for every tool's tests.

    python3 bench/testgen_mutation.py MODULE_DIR MODULE_NAME TEST_FILE [--max N] [--timeout S]  -> one JSON line:
    {"module": ..., "mutants": n, "killed": n, "timeouts": n, "score": pct, "survivors": [{id, operator, line,
     description}, ...], "excluded_tests": n}

The mutant is compiled from a mutated syntax tree and runs in a forked child per mutant. A mutant is killed when
a test fails (or errors, or the run gives no result within --timeout seconds). Tests that already fail on the
original module are left out first, so they cannot kill anything. With --max, an evenly spread, fixed subset of
the mutants is used (the same for every tool, since it depends only on the module).

Two ways to run the tests, with the same verdicts:
  direct (default when the file allows it): the test file is imported once; in each child, every name of the
      test module bound to the module under test is rebound to the mutant, and the test functions are called in
      order (`tmp_path` gets a fresh folder; `@pytest.mark.xfail(strict=True)` tests, as Pynguin writes them,
      pass when they raise). About a hundred times faster than starting pytest per mutant on a loaded machine.
  pytest (--pytest, or when a test function takes another fixture or the file has test classes): pytest.main in
      each child, with the module installed in sys.modules under its name.
"""
import argparse
import importlib.util
import inspect
import io
import json
import os
import pathlib
import signal
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "runtime", "python"))
import testgen_mutants  # noqa: E402

import pytest  # noqa: E402


def _blocked_by(test_file):
    """The compiled modules a moecoder test file imports its module without (`_testgen_saved = {... for name in
    ('_bisect',)}`, for a module whose accelerator replaces its Python code): mutants run the same way, or no
    test could tell a mutant of the Python code apart. Empty for other files."""
    import ast
    import re
    try:
        text = open(test_file, encoding="utf-8").read()
    except OSError:
        return []
    found = re.search(r"_testgen_saved = \{name: sys\.modules\.pop\(name, None\) for name in (\([^)]*\))\}", text)
    try:
        return list(ast.literal_eval(found.group(1))) if found else []
    except (ValueError, SyntaxError):
        return []


def _exec_blocked(code, module, blocked):
    saved = {name: sys.modules.pop(name, None) for name in blocked}
    sys.modules.update(dict.fromkeys(blocked))
    try:
        exec(code, module.__dict__)
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value


class _Failures:
    def __init__(self):
        self.failed = []

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)


def _child(module_dir, module_name, code, test_file, deselect, report_path=None):
    """In the forked child: install the module (or mutant), run pytest, exit with its status."""
    os.chdir(module_dir)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.path.insert(0, module_dir)
    status = 99
    try:
        os.setpgrp()
        if code is not None:
            module = types.ModuleType(module_name)
            module.__file__ = os.path.join(module_dir, module_name + ".py")
            sys.modules[module_name] = module
            _exec_blocked(code, module, _blocked_by(test_file))
        plugin = _Failures()
        args = [test_file, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-x" if report_path is None else "-q"]
        for nodeid in deselect:
            args += ["--deselect", nodeid]
        status = int(pytest.main(args, plugins=[plugin]))
        if report_path:
            with open(report_path, "w") as handle:
                json.dump(plugin.failed, handle)
    except BaseException:  # noqa: B036 - a mutant that breaks the import is killed
        status = 98
    finally:
        os._exit(status)


class _Direct:
    """The test file imported once, its test functions called directly in forked children."""

    def __init__(self, module_dir, module_name, test_file):
        sys.path.insert(0, module_dir)
        self.module_name = module_name
        spec = importlib.util.spec_from_file_location("_mutation_tests", test_file)
        self.tests = importlib.util.module_from_spec(spec)
        cwd = os.getcwd()
        os.chdir(module_dir)
        try:
            spec.loader.exec_module(self.tests)
        finally:
            os.chdir(cwd)
        self.original = sys.modules[module_name]
        self.blocked = _blocked_by(test_file)
        self.functions = []
        for name, value in vars(self.tests).items():
            if name.startswith("Test") and isinstance(value, type):
                raise ValueError("test classes: use pytest")
            if not name.startswith("test") or not callable(value):
                continue
            parameters = list(inspect.signature(value).parameters)
            if any(p != "tmp_path" for p in parameters):
                raise ValueError(f"{name} takes fixtures: use pytest")
            marks = getattr(value, "pytestmark", [])
            xfail = any(m.name == "xfail" for m in marks)
            skip = any(m.name in ("skip", "skipif") for m in marks)
            if not skip:
                self.functions.append((name, value, parameters, xfail))

    def passes(self, function, parameters, xfail, scratch):
        arguments = {}
        if "tmp_path" in parameters:
            arguments["tmp_path"] = pathlib.Path(tempfile.mkdtemp(dir=scratch))
        try:
            function(**arguments)
        except BaseException:  # noqa: B036 - a test fails however it raises
            return xfail
        return not xfail

    def child(self, code, failing, report_path):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        # Text streams with a binary buffer, as pytest's captured ones have (`sys.stdout.buffer.write`).
        sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        status = 99
        try:
            os.setpgrp()
            scratch = tempfile.mkdtemp()
            module = self.original
            if code is not None:
                module = types.ModuleType(self.module_name)
                module.__file__ = self.original.__file__
                sys.modules[self.module_name] = module
                _exec_blocked(code, module, self.blocked)
                for name, value in list(vars(self.tests).items()):
                    if value is self.original:
                        setattr(self.tests, name, module)
            failed = []
            for name, function, parameters, xfail in self.functions:
                if name in failing:
                    continue
                if not self.passes(function, parameters, xfail, scratch):
                    failed.append(name)
                    if report_path is None:
                        break
            if report_path:
                with open(report_path, "w") as handle:
                    json.dump(failed, handle)
            status = 1 if failed else 0
        except BaseException:  # noqa: B036 - a mutant that breaks the import is killed
            status = 98
        finally:
            os._exit(status)


def _run(module_dir, module_name, code, test_file, deselect, timeout, report_path=None, direct=None):
    pid = os.fork()
    if pid == 0:
        if direct is not None:
            direct.child(code, set(deselect), report_path)
        _child(module_dir, module_name, code, test_file, deselect, report_path)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.waitpid(pid, 0)
            return None, True
        time.sleep(0.005)


def score(module_dir, module_name, test_file, limit=None, timeout=None, use_pytest=False):
    module_dir = os.path.abspath(module_dir)
    test_file = os.path.abspath(test_file)
    path = os.path.join(module_dir, module_name + ".py")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    report = os.path.join(module_dir, f".mutation-{os.getpid()}.json")
    direct = None
    mode = "pytest"
    if not use_pytest:
        # Imported in a child first: a test file that hangs or crashes at import must not take this process along.
        pid = os.fork()
        if pid == 0:
            try:
                _Direct(module_dir, module_name, test_file)
                os._exit(0)
            except BaseException:  # noqa: B036
                os._exit(1)
        if os.waitpid(pid, 0)[1] == 0:
            saved = dict(sys.modules)
            try:
                direct = _Direct(module_dir, module_name, test_file)
                mode = "direct"
            except BaseException:  # noqa: B036
                sys.modules.clear()
                sys.modules.update(saved)
    started = time.monotonic()
    status, hung = _run(module_dir, module_name, None, test_file, [], 300, report, direct)
    baseline = time.monotonic() - started
    failing = []
    if os.path.exists(report):
        failing = json.load(open(report))
        os.remove(report)
    if timeout is None:
        timeout = max(5.0, 5 * baseline)
    if hung or status not in (0, 1):
        return {"module": module_name, "mutants": 0, "killed": 0, "timeouts": 0, "score": 0.0, "survivors": [],
                "excluded_tests": len(failing), "error": "the test file does not run on the original module"}
    everything = testgen_mutants.mutants(source)
    chosen = testgen_mutants.sample(everything, limit, module_name)
    killed = timeouts = 0
    survivors = []
    for mutant in chosen:
        try:
            code = mutant.code(path)
        except (SyntaxError, ValueError):
            continue
        status, hung = _run(module_dir, module_name, code, test_file, failing, timeout, None, direct)
        if hung:
            timeouts += 1
            killed += 1
        elif status != 0:
            killed += 1
        else:
            survivors.append(mutant.describe())
    total = killed + len(survivors)
    return {"module": module_name, "mutants": total, "of": len(everything), "killed": killed, "timeouts": timeouts,
            "score": round(100.0 * killed / total, 1) if total else 0.0, "survivors": survivors,
            "excluded_tests": len(failing), "mode": mode}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module_dir")
    parser.add_argument("module_name")
    parser.add_argument("test_file")
    parser.add_argument("--max", type=int, default=None, help="at most this many mutants (evenly spread, fixed)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per mutant run (default 5x the "
                        "original run, at least 5)")
    parser.add_argument("--pytest", action="store_true", help="run pytest per mutant (slow) instead of calling "
                        "the test functions directly")
    args = parser.parse_args()
    print(json.dumps(score(args.module_dir, args.module_name, args.test_file, args.max, args.timeout, args.pytest)))


if __name__ == "__main__":
    main()
