"""Measures generated test files the same way for every tool: pytest under coverage.py, from the module's folder.

    python3 bench/testgen_measure.py MODULE_DIR MODULE_NAME TEST_FILE  -> one JSON line:
    {"module": ..., "passed": bool, "tests": n, "failed": n, "line": pct, "branch": pct,
     "missing_lines": [n, ...], "missing_branches": [[from, to], ...]}
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def measure(module_dir, module_name, test_file, limit=300):
    module_path = os.path.join(module_dir, module_name + ".py")
    with tempfile.TemporaryDirectory() as scratch:
        data = os.path.join(scratch, ".coverage")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=module_dir)
        # stdin on /dev/null (as the tools ran), in its own session: a file that does not finish in `limit` s is
        # stopped with everything it started and counts as failing (before, the benchmark itself ended there).
        process = subprocess.Popen(
            [sys.executable, "-m", "coverage", "run", "--branch", f"--data-file={data}", f"--include={module_path}",
             "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
            cwd=module_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        timed_out = False
        try:
            out, _ = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(process.pid, 9)
            except OSError:
                pass
            out, _ = process.communicate()
        passed_count = sum(int(n) for n in re.findall(r"(\d+) passed", out))
        failed_count = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", out))
        report = os.path.join(scratch, "coverage.json")
        subprocess.run([sys.executable, "-m", "coverage", "json", f"--data-file={data}", "-o", report],
                       cwd=module_dir, capture_output=True, timeout=120)
        line = branch = 0.0
        missing_lines, missing_branches = [], []
        if os.path.exists(report):
            data = json.load(open(report))
            totals = data["totals"]
            for measured in data.get("files", {}).values():
                missing_lines = measured.get("missing_lines", [])
                missing_branches = measured.get("missing_branches", [])
            line = 100.0 * totals["covered_lines"] / max(1, totals["num_statements"])
            branch = 100.0 * totals["covered_branches"] / max(1, totals["num_branches"]) if totals["num_branches"] else 100.0
    return {"module": module_name, "passed": process.returncode == 0 and not timed_out,
            "tests": passed_count + failed_count, "timed_out": timed_out,
            "failed": failed_count, "line": round(line, 1), "branch": round(branch, 1),
            "missing_lines": missing_lines, "missing_branches": missing_branches}


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:4])))
