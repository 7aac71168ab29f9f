"""Runs a generated test file with pytest (under coverage.py when it is installed) in one interpreter, for
`moecoder testgen`'s verification step.

    python3 testgen_pytest.py MODULE.py TEST_FILE RESULT.json [--twice] [--deadline=UNIX_TIME]

One process does what took three (checking that pytest and coverage.py are installed, `coverage run -m pytest`,
`coverage json`): on a loaded machine each interpreter start costs seconds of the budget. Installed pytest plugins
are not loaded unless a conftest.py beside or above the test file may need them. With --twice the file
runs twice in a row in the same process (`--keep-duplicates`), so that a test that depends on order, time or
state left by the first pass fails in the second, and then once more in a child interpreter with another string
hash seed (`--child`), so that a test that depends on the iteration order of a set or dict of strings (a message
listing `rowdict.keys() - fieldnames`) fails there: the search and its replays all ran in one process, with
one seed. The child runs only when the time left before --deadline is more than the first run took.

RESULT.json gets {"pytest": bool, "coverage": bool, "status": exit status, "failed": [test names],
"totals": coverage.py's totals or null}. The caller kills this process (with its process group) at its deadline;
a missing result file then means the run did not finish.
"""
import json
import os
import random
import subprocess
import sys
import time


def _conftest_above(folder):
    """Whether a conftest.py is in `folder` or one of its parents."""
    while True:
        if os.path.exists(os.path.join(folder, "conftest.py")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


def main():
    child = "--child" in sys.argv[4:]
    if not child:
        try:
            os.setpgrp()  # the caller kills the whole group at its deadline: pytest and whatever the tests started
        except OSError:
            pass
    module_path, test_path, result_path = (os.path.realpath(a) for a in sys.argv[1:4])
    twice = "--twice" in sys.argv[4:]
    deadline = None
    for argument in sys.argv[4:]:
        if argument.startswith("--deadline="):
            deadline = float(argument.split("=", 1)[1])
    result = {"pytest": False, "coverage": False, "status": None, "failed": [], "totals": None}

    def finish():
        with open(result_path + ".part", "w") as handle:
            json.dump(result, handle)
        os.replace(result_path + ".part", result_path)

    # pytest imports every installed plugin at start (hypothesis, pytest-asyncio, pytest-lsp…): with a few
    # installed that is most of the run (2.5 of 3 CPU seconds here), and the generated file uses none of them.
    # They stay on where a conftest.py beside the tests or above them may rely on them.
    if not _conftest_above(os.path.dirname(test_path)):
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        import pytest
    except ImportError:
        finish()
        return 3
    result["pytest"] = True
    try:
        import coverage
    except ImportError:
        coverage = None
    failed = []

    class Failures:
        def pytest_runtest_logreport(self, report):
            if report.failed:
                name = report.nodeid.split("::", 1)[-1].split("[", 1)[0]
                if name not in failed:
                    failed.append(name)

        def pytest_collectreport(self, report):
            if report.failed:
                failed.append("")  # the file itself does not collect: nothing to drop, nothing passes

    cov = None
    if coverage is not None and not child:
        result["coverage"] = True
        cov = coverage.Coverage(branch=True, data_file=None, include=[module_path])
        cov.start()
    arguments = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    arguments += ["--keep-duplicates", test_path, test_path] if twice else [test_path]
    began = time.time()
    try:
        status = int(pytest.main(arguments, plugins=[Failures()]))
    finally:
        if cov is not None:
            cov.stop()
    took = time.time() - began
    left = deadline - time.time() if deadline is not None else float("inf")
    if twice and status in (0, 1) and left > took + 1.0:
        # Once more under another hash seed (not the search's 0, not this process's).
        env = dict(os.environ, PYTHONHASHSEED=str(random.SystemRandom().randrange(1, 2**32 - 1)))
        child_result = result_path + ".child.json"
        try:
            subprocess.run([sys.executable, os.path.abspath(__file__), module_path, test_path, child_result,
                            "--child"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, timeout=min(left - 0.3, 600))
            with open(child_result) as handle:
                seen = json.load(handle)
            os.remove(child_result)
            failed += [name for name in seen.get("failed", []) if name not in failed]
            if seen.get("status") not in (None, 0):
                status = max(status, int(seen["status"]))
            result["hash_seed_check"] = True
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
    result["status"] = status
    result["failed"] = [name for name in failed if name]
    if "" in failed:
        result["collect_error"] = True
    if cov is not None:
        scratch = result_path + ".coverage.json"
        try:
            cov.json_report(outfile=scratch)
            with open(scratch) as handle:
                result["totals"] = json.load(handle).get("totals")
            os.remove(scratch)
        except Exception as error:  # noqa: BLE001 - no data (nothing imported the module) is not fatal
            result["coverage_error"] = str(error)
    finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
