"""The testgen benchmark of issue 19: moecoder testgen (and optionally Pynguin 0.48) on a set of modules, the same
budget each, measured the same way.

    python3 bench/testgen_bench.py [--set heldout|examples|robustness] [--budget 30] [--seed 1]
                                   [--tools moecoder,pynguin] [--mutants 150] [--only a,b] [--json OUT]
    python3 bench/testgen_bench.py --merge ours.json pynguin.json     (one table from earlier runs)

Sets:
  heldout     ten standard-library modules we do not ship and did not write (colorsys, textwrap, fnmatch, shlex,
              graphlib, reprlib, getopt, string, fractions, calendar), copied at run time from the running
              Python's installation and renamed `ho_<name>.py` (so a copy cannot be confused with the module the
              interpreter already imported).
  examples    examples/testgen/*.py
  robustness  bench/testgen/robustness/*.py: modules that hang, kill the interpreter, print megabytes, fork.

Per module and tool: the tool's wall time (`budget + 15 s` is the limit for moecoder), processes left behind
(any process whose command line names the work folder, a second after the tool exits), then the test file is
run twice with pytest under coverage.py --branch (bench/testgen_measure.py: line and branch coverage of the
first run, `passes twice` when both pass), and its mutation score with our operators
(bench/testgen_mutation.py, at most --mutants mutants per module, the same ones for every tool).

Pynguin runs as in bench/compare_pynguin.sh (its own Python 3.10 venv, .build-bench/pynguin-venv by default, made
by that script), under `nice`, --maximum-search-time = budget, killed after 6x budget + 120 s.
moecoder: $MOECODER_BIN or .build/debug/moecoder.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import testgen_measure  # noqa: E402
import testgen_mutation  # noqa: E402

HELDOUT = ["colorsys", "textwrap", "fnmatch", "shlex", "graphlib", "reprlib", "getopt", "string", "fractions",
           "calendar"]


def modules_of(which, work, stdlib_names=None):
    os.makedirs(work, exist_ok=True)
    names = []
    if which == "heldout":
        stdlib = sysconfig.get_paths()["stdlib"]
        for name in stdlib_names or HELDOUT:
            shutil.copy(os.path.join(stdlib, name + ".py"), os.path.join(work, f"ho_{name}.py"))
            names.append(f"ho_{name}")
    else:
        folder = os.path.join(ROOT, "examples", "testgen") if which == "examples" else \
            os.path.join(ROOT, "bench", "testgen", "robustness")
        for file in sorted(os.listdir(folder)):
            if file.endswith(".py"):
                shutil.copy(os.path.join(folder, file), work)
                names.append(file[:-3])
    return names


def leftovers(marker):
    """Processes (other than this one) whose command line contains `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                line = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in line:
            found.append(f"{pid}: {line[:120]}")
    return found


def run_moecoder(binary, project, name, out_dir, budget, seed, extra):
    test = os.path.join(out_dir, f"test_{name}.py")
    started = time.monotonic()
    status, stdout, stderr = run_limited(["nice", "-n", "10", binary, "testgen", os.path.join(project, name + ".py"),
                                          "--budget", str(budget), "--seed", str(seed), "--out", test, "--json"]
                                         + extra, None, None, budget * 4 + 120)
    report = None
    try:
        report = json.loads(stdout)
    except ValueError:
        pass
    return test, time.monotonic() - started, status, report, stderr[-2000:]


def run_limited(command, cwd, env, limit):
    """Runs `command` in its own session with stdin on /dev/null (a module that reads `sys.stdin` must not wait
    on a terminal or pipe), output in temporary files; after `limit` seconds its whole process group is killed
    (its own children included: `subprocess.run` killed only the child, and then waited for the grandchildren
    that held the output pipes).
    Returns (status or "timeout", stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            status = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            status = "timeout"
            try:
                os.killpg(process.pid, 9)  # the tool and what it started (a normal exit is checked for leftovers)
            except OSError:
                pass
            process.wait()
        out.seek(0)
        err.seek(0)
        return status, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def run_pynguin(venv, project, name, out_dir, budget, seed, extra):
    started = time.monotonic()
    env = dict(os.environ, PYNGUIN_DANGER_AWARE="1")
    status, stdout, stderr = run_limited(["nice", "-n", "10", os.path.join(venv, "bin", "pynguin"), "--project-path",
                                          project, "--module-name", name, "--output-path", out_dir,
                                          "--maximum-search-time", str(budget), "--seed", str(seed)] + extra,
                                         project, env, budget * 6 + 120)
    return os.path.join(out_dir, f"test_{name}.py"), time.monotonic() - started, status, None, \
        (stdout + stderr)[-2000:]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="heldout", choices=["heldout", "examples", "robustness"])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tools", default="moecoder")
    parser.add_argument("--mutants", type=int, default=150, help="mutants per module (0: no mutation analysis)")
    parser.add_argument("--only", default="", help="comma-separated module names (without ho_)")
    parser.add_argument("--stdlib", default="", help="with --set heldout: these standard-library modules (comma-"
                        "separated) instead of the ten of issue 19, e.g. to check modules never looked at")
    parser.add_argument("--json", default=None, help="write every row to this file")
    parser.add_argument("--keep", default=None, help="copy each written test file (and the module) to this folder")
    parser.add_argument("--moecoder-arg", action="append", default=[], help="extra argument for moecoder testgen")
    parser.add_argument("--pynguin-arg", action="append", default=[], help="extra argument for pynguin (e.g. "
                        "--pynguin-arg=--maximum-mutation-time=30 to bound its assertion-generation phase)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="print one table from result files written by --json (runs of the same set) and exit")
    args = parser.parse_args()
    if args.merge:
        rows, tools = [], []
        for file in args.merge:
            data = json.load(open(file))
            args.set, args.budget, args.seed, args.mutants = data["set"], data["budget"], data["seed"], \
                data["mutants_per_module"]
            rows += data["rows"]
            tools += [t for t in dict.fromkeys(r["tool"] for r in data["rows"]) if t not in tools]
        table(rows, tools, args)
        return
    binary = os.environ.get("MOECODER_BIN", os.path.join(ROOT, ".build", "debug", "moecoder"))
    venv = os.environ.get("PYNGUIN_VENV", os.path.join(ROOT, ".build-bench", "pynguin-venv"))
    tools = [t for t in args.tools.split(",") if t]
    work = tempfile.mkdtemp(prefix="testgen-bench-")
    rows = []
    try:
        project = os.path.join(work, "project")
        names = modules_of(args.set, project, [n for n in args.stdlib.split(",") if n])
        if args.only:
            wanted = set(args.only.split(","))
            names = [n for n in names if n in wanted or n.removeprefix("ho_") in wanted]
        for name in names:
            for tool in tools:
                out_dir = os.path.join(work, tool)
                os.makedirs(out_dir, exist_ok=True)
                print(f"{name}: {tool} ({args.budget} s)...", file=sys.stderr, flush=True)
                if tool == "moecoder":
                    test, seconds, status, report, log = run_moecoder(binary, project, name, out_dir, args.budget,
                                                                      args.seed, args.moecoder_arg)
                else:
                    test, seconds, status, report, log = run_pynguin(venv, project, name, out_dir, args.budget,
                                                                     args.seed, args.pynguin_arg)
                time.sleep(1)
                left = leftovers(project)
                row = {"module": name, "tool": tool, "seconds": round(seconds, 1), "status": status,
                       "left_behind": left, "tests": 0, "line": 0.0, "branch": 0.0, "passes_twice": False}
                if report:
                    row["report"] = {k: report.get(k) for k in ("coverage", "verification", "runs", "mutation", "phases",
                                                                 "elapsed_s")}
                if os.path.exists(test):
                    first = testgen_measure.measure(project, name, test)
                    second = testgen_measure.measure(project, name, test)
                    row.update(tests=first["tests"], failed=first["failed"], line=first["line"],
                               branch=first["branch"], passes_twice=first["passed"] and second["passed"],
                               missing_lines=first["missing_lines"], missing_branches=first["missing_branches"],
                               measure_timed_out=first["timed_out"] or second["timed_out"])
                    if args.keep:
                        os.makedirs(os.path.join(args.keep, tool), exist_ok=True)
                        shutil.copy(test, os.path.join(args.keep, tool, os.path.basename(test)))
                        shutil.copy(os.path.join(project, name + ".py"), args.keep)
                    if args.mutants:
                        mutation = testgen_mutation.score(project, name, test, args.mutants)
                        row["mutation"] = {k: mutation.get(k) for k in ("mutants", "of", "killed", "timeouts",
                                                                        "score", "excluded_tests", "error")}
                        row["survivors"] = len(mutation["survivors"])
                else:
                    row["log"] = log
                for pid_line in left:
                    pid = int(pid_line.split(":")[0])
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                rows.append(row)
                m = row.get("mutation", {})
                print(f"  {tool}: {row['seconds']} s, {row['tests']} tests, line {row['line']} %, branch "
                      f"{row['branch']} %, passes twice {row['passes_twice']}, mutation {m.get('score', '-')} % "
                      f"({m.get('killed', '-')}/{m.get('mutants', '-')}), left behind {len(left)}",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"set": args.set, "budget": args.budget, "seed": args.seed, "mutants_per_module": args.mutants,
                       "moecoder_args": args.moecoder_arg, "pynguin_args": args.pynguin_arg,
                       "python": sys.version.split()[0], "moecoder_bin": binary,
                       "load_average_at_end": os.getloadavg(), "rows": rows}, handle, indent=1)
    table(rows, tools, args)


def table(rows, tools, args):
    print(f"set {args.set}, budget {args.budget} s per module and tool, seed {args.seed}; coverage: pytest + "
          f"coverage.py --branch; mutation: our operators, at most {args.mutants} mutants per module")
    header = f"{'module':<14}"
    for tool in tools:
        header += f" | {tool[:8]:>8} line  branch  mut %  2x  s    "
    print(header)
    by_module = {}
    for row in rows:
        by_module.setdefault(row["module"], {})[row["tool"]] = row
    sums = {t: [0.0, 0.0, 0.0, 0, 0] for t in tools}
    for module, per in by_module.items():
        line = f"{module:<14}"
        for tool in tools:
            r = per.get(tool)
            if r is None:
                line += " | " + " " * 40
                continue
            score = r.get("mutation", {}).get("score", 0.0) or 0.0
            sums[tool][0] += r["line"]
            sums[tool][1] += r["branch"]
            sums[tool][2] += score
            sums[tool][3] += 1
            sums[tool][4] += 1 if r["passes_twice"] else 0
            line += (f" | {'':>8} {r['line']:>5.1f} {r['branch']:>6.1f} {score:>6.1f} {'y' if r['passes_twice'] else 'n':>3}"
                     f" {r['seconds']:>5.0f}{' L' if r['left_behind'] else '  '}")
        print(line)
    line = f"{'mean':<14}"
    for tool in tools:
        n = max(1, sums[tool][3])
        line += (f" | {'':>8} {sums[tool][0] / n:>5.1f} {sums[tool][1] / n:>6.1f} {sums[tool][2] / n:>6.1f}"
                 f" {sums[tool][4]}/{sums[tool][3]}      ")
    print(line)


if __name__ == "__main__":
    main()
