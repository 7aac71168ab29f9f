"""Shared set-up for the `moecoder lsp` end-to-end tests: which binary and which model they run."""

import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def moecoder_binary() -> str:
    """`$MOECODER_BIN`, else the debug build of the package (any scratch folder)."""
    explicit = os.environ.get("MOECODER_BIN")
    if explicit:
        return explicit
    for build in [".build", ".build-lsp"]:
        candidate = ROOT / build / "debug" / "moecoder"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no moecoder binary: build it (swift build) or set MOECODER_BIN")


def test_model() -> str:
    """A tiny fixture model: noise, but it runs the whole completion path (`$MOECODER_LSP_MODEL` overrides)."""
    return os.environ.get("MOECODER_LSP_MODEL", str(ROOT / "Tests" / "Fixtures" / "models" / "mixtral.gguf"))


test_model.__test__ = False  # a helper, not a test
