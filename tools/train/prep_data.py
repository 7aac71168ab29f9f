#!/usr/bin/env python3
"""Collect the training corpus: Python sources under permissive licences that are installed on this machine.

Sources: the interpreter's standard library (PSF licence) and a fixed list of installed packages whose
metadata declares an MIT, BSD, Apache-2.0, ISC or PSF licence (checked here, recorded in the manifest).
Files are deduplicated by content. A deterministic 2 % of files (by SHA-1 of their source-relative path) is
held out; so is any file whose content equals a file under the repository's `examples/` (the product's demo
files), so the model never trains on what we evaluate or demo with.

Output (in --out): `train.jsonl` / `heldout.jsonl` (one {"path", "text"} per line) and `manifest.json`
(sources, licences, versions, counts, bytes, held-out paths). `--eval-dir` receives a small, fixed selection of
held-out files that `moecoder eval --held-out` reads (models/heldout/).
"""
import argparse
import hashlib
import json
import re
import shutil
import sys
import sysconfig
from pathlib import Path
from importlib import metadata

REPO = Path(__file__).resolve().parents[2]

# Package (distribution name) -> import directories or modules under site-packages. Only those whose licence
# metadata we accept are used; the rest are reported and skipped.
PACKAGES = {
    "requests": ["requests"], "flask": ["flask"], "click": ["click"], "jinja2": ["jinja2"],
    "werkzeug": ["werkzeug"], "attrs": ["attr", "attrs"], "pygments": ["pygments"],
    "packaging": ["packaging"], "six": ["six.py"], "sortedcontainers": ["sortedcontainers"],
    "pyparsing": ["pyparsing"], "urllib3": ["urllib3"], "idna": ["idna"], "parso": ["parso"],
    "jedi": ["jedi"], "networkx": ["networkx"], "itsdangerous": ["itsdangerous"], "markupsafe": ["markupsafe"],
    "python-dateutil": ["dateutil"], "pluggy": ["pluggy"], "iniconfig": ["iniconfig"],
    "pytest": ["_pytest", "pytest"], "trio": ["trio"], "prompt_toolkit": ["prompt_toolkit"],
    "traitlets": ["traitlets"], "pydantic": ["pydantic"], "jsonschema": ["jsonschema"], "ipython": ["IPython"],
}
PERMISSIVE = re.compile(r"\b(MIT|BSD|Apache|ISC|PSF|Python Software Foundation)\b", re.I)
MAX_BYTES = 150_000
HELDOUT_MOD = 50  # 1 in 50 files


def licence_of(dist: metadata.Distribution) -> str:
    md = dist.metadata
    parts = [md.get("License-Expression") or "", (md.get("License") or "").splitlines()[0] if md.get("License") else ""]
    parts += [c.split("::")[-1].strip() for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    return "; ".join(p for p in parts if p)


def usable(text: str) -> bool:
    lines = text.splitlines()
    if not lines:
        return False
    long = sum(1 for l in lines if len(l) > 200)
    return long <= 0.05 * len(lines)


def collect(root: Path, rels, source: str, files: list):
    for rel in rels:
        p = root / rel
        paths = [p] if p.is_file() else sorted(p.rglob("*.py"))
        for f in paths:
            if "site-packages" in f.relative_to(root).parts:
                continue
            files.append((source, f"{source}/{f.relative_to(root)}", f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "tools/train/work/data"))
    ap.add_argument("--eval-dir", default=str(REPO / "models/heldout"))
    ap.add_argument("--eval-files", type=int, default=16)
    ap.add_argument("--site-packages", default=None, help="default: the interpreter's own (stdlib/site-packages)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(args.site_packages or stdlib / "site-packages")
    files: list = []
    collect(stdlib, sorted(p.name for p in stdlib.iterdir() if p.suffix == ".py" or p.is_dir()), "stdlib", files)
    sources = [{"name": "python-stdlib", "version": sys.version.split()[0], "licence": "PSF-2.0", "root": str(stdlib)}]
    skipped = []
    for dist_name, rels in PACKAGES.items():
        try:
            dist = next(iter(metadata.distributions(name=dist_name, path=[str(site)])))
        except StopIteration:
            skipped.append({"name": dist_name, "why": "not installed"})
            continue
        lic = licence_of(dist)
        if not PERMISSIVE.search(lic) or re.search(r"\bGPL\b|MPL", lic):
            skipped.append({"name": dist_name, "why": f"licence {lic!r}"})
            continue
        sources.append({"name": dist_name, "version": dist.version, "licence": lic})
        collect(site, rels, dist_name, files)

    example_hashes = {hashlib.sha1(p.read_bytes()).hexdigest() for p in (REPO / "examples").rglob("*") if p.is_file()}
    seen = set()
    train, held = [], []
    stats = {"files_seen": len(files), "duplicates": 0, "unusable": 0, "example_copies": 0}
    for source, rel, path in files:
        raw = path.read_bytes()
        h = hashlib.sha1(raw).hexdigest()
        if h in seen:
            stats["duplicates"] += 1
            continue
        seen.add(h)
        if h in example_hashes:
            stats["example_copies"] += 1
            continue
        if len(raw) > MAX_BYTES:
            stats["unusable"] += 1
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            stats["unusable"] += 1
            continue
        if not usable(text):
            stats["unusable"] += 1
            continue
        bucket = int(hashlib.sha1(rel.encode()).hexdigest(), 16) % HELDOUT_MOD
        (held if bucket == 0 else train).append({"path": rel, "text": text, "source": source})

    for name, docs in (("train", train), ("heldout", held)):
        with open(out / f"{name}.jsonl", "w") as f:
            for d in docs:
                f.write(json.dumps({"path": d["path"], "text": d["text"]}) + "\n")

    # The shipped evaluation set: held-out files of moderate size, in a fixed order.
    cand = sorted((d for d in held if 1_500 <= len(d["text"]) <= 30_000),
                  key=lambda d: hashlib.sha1(d["path"].encode()).hexdigest())
    eval_dir = Path(args.eval_dir)
    if eval_dir.exists():
        shutil.rmtree(eval_dir)
    eval_dir.mkdir(parents=True)
    chosen = cand[: args.eval_files]
    for d in chosen:
        name = d["path"].replace("/", "__")
        (eval_dir / name).write_text(d["text"])

    manifest = {
        "sources": sources, "skipped_packages": skipped, "stats": stats,
        "train": {"files": len(train), "bytes": sum(len(d["text"].encode()) for d in train)},
        "heldout": {"files": len(held), "bytes": sum(len(d["text"].encode()) for d in held),
                    "rule": f"sha1(source-relative path) % {HELDOUT_MOD} == 0; plus copies of examples/",
                    "paths": [d["path"] for d in held]},
        "eval_set": [d["path"] for d in chosen],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(json.dumps({k: manifest[k] for k in ("stats", "train")} | {"heldout_files": len(held),
                      "sources": len(sources), "skipped": skipped}, indent=1))


if __name__ == "__main__":
    main()
