#!/usr/bin/env python3
"""Fetch the pinned tree-sitter grammar sources and unpack them under grammars/<language>/.

Reads grammars/grammars.json: for each grammar, the official package's source archive (a PyPI sdist) is
downloaded with pip (or taken from the cache), its sha256 checked against the pin, and its src/ and LICENSE
unpacked. The grammar-facing headers that generated parsers include (tree_sitter/parser.h and friends) come
from the pinned `tree-sitter` sdist and are copied next to each grammar's sources, because Debian's
libtree-sitter-dev 0.20.7 ships a parser.h too old for them. Grammars whose parser.c declares an ABI
(LANGUAGE_VERSION) that the runtime cannot load are refused.

Standard library only. Exit status: 0 when every grammar is in place, 1 when one could not be fetched,
verified or accepted (the message says which and what to do).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Debian 12's libtree-sitter 0.20.7: TREE_SITTER_LANGUAGE_VERSION 14, minimum compatible 13.
MIN_ABI, MAX_ABI = 13, 14


class FetchError(Exception):
    pass


def log(msg):
    print(f"fetch_grammars: {msg}", file=sys.stderr, flush=True)


def normalise(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_archive(cache, package, version):
    want = f"{normalise(package)}_{normalise(version)}"
    if not os.path.isdir(cache):
        return None
    for entry in sorted(os.listdir(cache)):
        if entry.endswith(".tar.gz") and normalise(entry[: -len(".tar.gz")]) == want:
            return os.path.join(cache, entry)
    return None


def obtain_archive(cache, package, version, sha256, offline):
    path = find_archive(cache, package, version)
    if path is None:
        if offline:
            raise FetchError(f"{package} {version}: no archive in {cache} and --offline was given")
        os.makedirs(cache, exist_ok=True)
        log(f"downloading {package}=={version} (source archive)")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               f"{package}=={version}", "-d", cache]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise FetchError(f"{package} {version}: pip download failed:\n{result.stdout.strip()}")
        path = find_archive(cache, package, version)
        if path is None:
            raise FetchError(f"{package} {version}: pip download left no source archive in {cache}")
    actual = sha256_of(path)
    if actual != sha256:
        raise FetchError(
            f"{package} {version}: sha256 mismatch for {path}\n"
            f"  expected {sha256}\n  actual   {actual}\n"
            f"  The archive is not the pinned release. Delete it and run scripts/setup again; if the pin in "
            f"grammars/grammars.json is what is wrong, correct it there.")
    return path


def safe_members(tar, top_prefixes):
    """Members under one of the given prefixes, refusing links and paths that escape the destination."""
    for member in tar.getmembers():
        name = member.name
        if name.startswith("/") or ".." in name.split("/"):
            raise FetchError(f"refusing archive member with unsafe path: {name}")
        if not (member.isfile() or member.isdir()):
            continue
        for prefix in top_prefixes:
            if name == prefix.rstrip("/") or name.startswith(prefix):
                yield member, name[len(prefix.split("/")[0]) + 1:]
                break


def extract(archive, wanted, dest):
    """Unpack members whose path (below the archive's top folder) starts with one of `wanted` into dest."""
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        if not names:
            raise FetchError(f"{archive}: empty archive")
        top = names[0].split("/")[0]
        prefixes = [f"{top}/{w}" for w in wanted]
        count = 0
        for member, relative in safe_members(tar, prefixes):
            target = os.path.join(dest, relative)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            count += 1
        return count


def language_abi(parser_c):
    with open(parser_c, "r", encoding="utf-8", errors="replace") as f:
        for _, line in zip(range(200), f):
            m = re.match(r"\s*#define\s+LANGUAGE_VERSION\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise FetchError(f"{parser_c}: no LANGUAGE_VERSION found; is this a tree-sitter generated parser?")


def install_headers(manifest, cache, offline, dest):
    spec = manifest["headers"]
    target = os.path.join(dest, ".headers")
    stamp = os.path.join(target, ".pinned")
    if os.path.exists(stamp) and open(stamp).read().strip() == spec["sha256"]:
        return target
    archive = obtain_archive(cache, spec["package"], spec["version"], spec["sha256"], offline)
    tmp = tempfile.mkdtemp(dir=dest, prefix=".tmp-headers-")
    try:
        extract(archive, [spec["dir"] + "/" + f for f in spec["files"]], tmp)
        out = os.path.join(tmp, "include", "tree_sitter")
        os.makedirs(out)
        for f in spec["files"]:
            src = os.path.join(tmp, spec["dir"], f)
            if not os.path.exists(src):
                raise FetchError(f"{spec['package']} {spec['version']}: {spec['dir']}/{f} is not in the archive")
            shutil.move(src, os.path.join(out, f))
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(out, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(stamp, "w") as f:
        f.write(spec["sha256"] + "\n")
    return target


def install_grammar(entry, headers, cache, offline, dest):
    lang = entry["language"]
    target = os.path.join(dest, lang)
    stamp = os.path.join(target, ".pinned")
    if os.path.exists(stamp) and open(stamp).read().strip() == entry["sha256"]:
        return False
    archive = obtain_archive(cache, entry["package"], entry["version"], entry["sha256"], offline)
    tmp = tempfile.mkdtemp(dir=dest, prefix=f".tmp-{lang}-")
    try:
        extract(archive, ["src/", "LICENSE"], tmp)
        parser_c = os.path.join(tmp, "src", "parser.c")
        if not os.path.exists(parser_c):
            raise FetchError(f"{entry['package']} {entry['version']}: the archive has no src/parser.c")
        if entry.get("scanner") and not os.path.exists(os.path.join(tmp, "src", "scanner.c")):
            raise FetchError(f"{entry['package']} {entry['version']}: grammars.json says it has a scanner, "
                             f"but the archive has no src/scanner.c")
        abi = language_abi(parser_c)
        if not MIN_ABI <= abi <= MAX_ABI:
            raise FetchError(
                f"{entry['package']} {entry['version']}: its parser.c has LANGUAGE_VERSION {abi}, but Debian's "
                f"libtree-sitter 0.20.7 loads ABI {MIN_ABI}-{MAX_ABI} only. Pin an older release of "
                f"{entry['package']} in grammars/grammars.json.")
        if not entry.get("own_headers"):
            shutil.copytree(headers, os.path.join(tmp, "src", "tree_sitter"), dirs_exist_ok=True)
        with open(os.path.join(tmp, ".pinned"), "w") as f:
            f.write(entry["sha256"] + "\n")
        with open(os.path.join(tmp, "PINNED"), "w") as f:
            f.write(f"{entry['package']} {entry['version']} sha256 {entry['sha256']} ABI {abi}\n")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"{lang}: {entry['package']} {entry['version']} (ABI {abi}) unpacked in {target}")
    return True


def touch_wrappers(languages):
    """The build includes grammar sources from wrapper files in Sources/Grammars; a build made before the
    sources arrived would otherwise keep its grammar-less objects, so mark the wrappers as changed."""
    wrappers = os.path.join(ROOT, "Sources", "Grammars")
    for lang in languages:
        for kind in ("parser", "scanner"):
            path = os.path.join(wrappers, f"{lang}_{kind}.c")
            if os.path.exists(path):
                os.utime(path, None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=os.path.join(ROOT, "grammars", "grammars.json"),
                    help="pin file (default: grammars/grammars.json)")
    ap.add_argument("--dest", default=os.path.join(ROOT, "grammars"),
                    help="where grammars/<language>/ are unpacked (default: grammars/)")
    ap.add_argument("--cache", default=None, help="where archives are kept (default: DEST/.cache)")
    ap.add_argument("--offline", action="store_true", help="use only archives already in the cache")
    ap.add_argument("languages", nargs="*", help="only these languages (default: all in the manifest)")
    args = ap.parse_args(argv)
    cache = args.cache or os.path.join(args.dest, ".cache")
    try:
        with open(args.manifest) as f:
            manifest = json.load(f)
        os.makedirs(args.dest, exist_ok=True)
        entries = manifest["grammars"]
        known = {e["language"] for e in entries}
        unknown = [lang for lang in args.languages if lang not in known]
        if unknown:
            raise FetchError(f"unknown language(s) {', '.join(unknown)}; the manifest has {', '.join(sorted(known))}")
        if args.languages:
            entries = [e for e in entries if e["language"] in args.languages]
        headers = install_headers(manifest, cache, args.offline, args.dest)
        changed = [e["language"] for e in entries if install_grammar(e, headers, cache, args.offline, args.dest)]
        if not changed:
            log(f"all {len(entries)} grammars already in place")
        touch_wrappers(changed)
    except FetchError as e:
        log(f"error: {e}")
        return 1
    except (OSError, ValueError, KeyError, tarfile.TarError) as e:
        log(f"error: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
