#!/usr/bin/env python3
"""Behaviour check of `moecoder augment`: augment pure-Python standard library modules that have their own test
suite, put the augmented copies first on the path, and run the module's CPython tests against them.

For each transform (every eligible site changed: --rate 1) and for the default mix (random subset of all twelve,
--rate 0.5, several seeds) it reports how many modules were changed and how many of their test suites still pass
(every suite passes on the original modules). Modules are confirmed to load from the augmented copy.

    python3 bench/augment_stdlib_tests.py [--binary .build/release/moecoder] [--stdlib DIR] [--json OUT.json]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSFORMS = ["rename-locals", "rename-params", "reorder-imports", "annotations", "docs-comments", "reformat",
              "loop-comprehension", "invert-if", "extract-local", "inline-local", "reorder-kwargs",
              "reorder-statements"]
# (module file or package folder, test module): pure Python, not imported at interpreter start-up, quick tests.
MODULES = [("textwrap.py", "test.test_textwrap"), ("difflib.py", "test.test_difflib"),
           ("fractions.py", "test.test_fractions"), ("shlex.py", "test.test_shlex"),
           ("configparser.py", "test.test_configparser"), ("calendar.py", "test.test_calendar"),
           ("argparse.py", "test.test_argparse"), ("json", "test.test_json"), ("tomllib", "test.test_tomllib"),
           ("graphlib.py", "test.test_graphlib"), ("getopt.py", "test.test_getopt"), ("pprint.py", "test.test_pprint"),
           ("plistlib.py", "test.test_plistlib"), ("colorsys.py", "test.test_colorsys"), ("csv.py", "test.test_csv"),
           ("statistics.py", "test.test_statistics"), ("html", "test.test_html"), ("base64.py", "test.test_base64")]


def run_tests(site, test, module):
    env = dict(os.environ, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1")
    name = module[:-3] if module.endswith(".py") else module
    where = subprocess.run([sys.executable, "-c", f"import {name}; print({name}.__file__)"], env=env, cwd=site,
                           capture_output=True, text=True).stdout.strip()
    if not where.startswith(site):
        return None, f"{name} loaded from {where}, not the augmented copy"
    proc = subprocess.run([sys.executable, "-m", "unittest", "-q", test], env=env, cwd=site, capture_output=True,
                          text=True, timeout=600)
    tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    return proc.returncode == 0, tail


def main():
    default_stdlib = "/root/.pyenv/versions/3.11.7/lib/python3.11"
    binary = os.path.join(ROOT, ".build", "release", "moecoder")
    if not os.access(binary, os.X_OK):
        binary = os.path.join(ROOT, ".build", "debug", "moecoder")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=binary)
    ap.add_argument("--stdlib", default=default_stdlib)
    ap.add_argument("--seeds", type=int, default=3, help="seeds of the default mix")
    ap.add_argument("--transforms", default=",".join(TRANSFORMS))
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    modules = [(m, t) for m, t in MODULES if os.path.exists(os.path.join(args.stdlib, m))]

    configs = [(t, ["--transforms", t, "--rate", "1"]) for t in args.transforms.split(",")]
    configs += [(f"all (mix, seed {s})", ["--rate", "0.5", "--seed", str(s)]) for s in range(args.seeds)]
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="augment-tests-") as tmp:
        for label, extra in [("original", None)] + configs:
            site = os.path.join(tmp, str(len(rows)))
            os.makedirs(site)
            changed, passed, tested = 0, 0, 0
            for module, test in modules:
                out = os.path.join(tmp, "out")
                shutil.rmtree(out, ignore_errors=True)
                target = os.path.join(site, module)
                if extra is None:
                    (shutil.copytree if module.endswith(".py") is False else shutil.copy)(os.path.join(args.stdlib, module), target)
                else:
                    proc = subprocess.run([args.binary, "augment", module, "--out", out, "--json", *extra],
                                          cwd=args.stdlib, capture_output=True, text=True)
                    if proc.returncode != 0:
                        sys.exit(f"augment failed on {module}: {proc.stderr}")
                    reports = [json.loads(l) for l in proc.stdout.splitlines()]
                    if any(r.get("applied") for r in reports):
                        changed += 1
                    for r in reports:
                        rel = os.path.relpath(r["output"], out).replace(".aug1.py", ".py")
                        dest = os.path.join(site, module, rel) if not module.endswith(".py") else target
                        os.makedirs(os.path.dirname(dest), exist_ok=True)
                        shutil.copy(r["output"], dest)
                    if not any(r.get("applied") for r in reports):
                        continue
                ok, tail = run_tests(site, test, module)
                tested += 1
                if ok:
                    passed += 1
                else:
                    failures.append({"config": label, "module": module, "result": tail})
                print(f"{label:28} {module:18} {'pass' if ok else 'FAIL'}  {tail}", file=sys.stderr)
            rows.append({"config": label, "modules": len(modules), "changed": changed if extra else 0,
                         "suites_run": tested, "suites_passed": passed})
    print("| transform | modules changed | their test suites passing |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['changed']} / {r['modules']} | {r['suites_passed']} / {r['suites_run']} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"stdlib": args.stdlib, "rows": rows, "failures": failures}, fh, indent=2)
    if failures:
        sys.exit(f"{len(failures)} test suite(s) failed on augmented code")


if __name__ == "__main__":
    main()
