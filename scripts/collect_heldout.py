#!/usr/bin/env python3
"""Copy the default model's held-out evaluation files from this machine's Python installation into
models/heldout/ (ignored by git), as listed in models/heldout.json with their sha256.

They are third-party code (the standard library and installed packages under permissive licences), so they are
not committed. A file that is missing or differs here is skipped with a warning: `moecoder eval --held-out` then
scores the files that are present. Standard library only; exit status 0 unless the manifest is unreadable.
"""
import hashlib
import json
import os
import shutil
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    manifest = os.path.join(ROOT, "models", "heldout.json")
    dest = os.path.join(ROOT, "models", "heldout")
    try:
        entries = json.load(open(manifest))["files"]
    except (OSError, ValueError, KeyError) as e:
        print(f"collect_heldout: cannot read {manifest}: {e}", file=sys.stderr)
        return 1
    roots = {"stdlib": sysconfig.get_paths()["stdlib"], "site-packages": sysconfig.get_paths()["purelib"]}
    os.makedirs(dest, exist_ok=True)
    copied = skipped = 0
    for e in entries:
        target = os.path.join(dest, e["name"])
        source = os.path.join(roots.get(e["root"], ""), e["path"])
        for path in (target, source):
            try:
                data = open(path, "rb").read()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() == e["sha256"]:
                if path != target:
                    shutil.copyfile(path, target)
                    copied += 1
                break
        else:
            skipped += 1
            print(f"collect_heldout: {e['root']}/{e['path']} is missing or differs here; skipped", file=sys.stderr)
    print(f"collect_heldout: {len(entries) - skipped} of {len(entries)} held-out files in models/heldout"
          + (f" ({copied} copied)" if copied else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
