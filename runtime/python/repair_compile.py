"""Syntax check for `moecoder repair`: CPython's own compiler over candidate sources.

Tree-sitter's Python grammar accepts some programs CPython rejects (an assignment in a condition, a bad
indentation it recovers from silently), so a syntax repair counts only when `compile()` accepts it too.
Reads a JSON list of sources on stdin; writes a JSON list with, per source, null (it compiles) or
{"line": N, "message": "..."}. Nothing is executed: `compile` only builds code objects.
"""

import json
import sys
import warnings


def check(source):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return {"line": getattr(error, "lineno", None) or 0, "message": str(getattr(error, "msg", error))}
    return None


def main():
    sources = json.loads(sys.stdin.read())
    json.dump([check(source) for source in sources], sys.stdout)


if __name__ == "__main__":
    main()
