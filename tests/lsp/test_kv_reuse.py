"""Typing at the end of a long file: each inline completion after the first computes only the prompt tokens that
changed; the rest comes from the KV cache (the server's log counts both)."""
import pathlib
import re

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import ROOT, moecoder_binary

LOG = pathlib.Path("/tmp") / f"moecoder-lsp-kv-{__import__('os').getpid()}.log"
MODEL = str(ROOT / "models" / "default.gguf")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[
    moecoder_binary(), "lsp", "--model", MODEL, "--max-tokens", "8", "--log", str(LOG)]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


def source_file(lines: int) -> str:
    """A 400-line Python module of varied functions (longer than the default model's 512-token context)."""
    out = []
    for i in range(lines // 4):
        out.append(f"def step_{i}(values, limit={i}):\n")
        out.append(f"    total = sum(v * {i % 7 + 1} for v in values if v < limit)\n")
        out.append(f"    return total - {i}  # item {i}\n")
        out.append("\n")
    return "".join(out)


async def test_typing_prefills_only_the_new_tokens(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-kv-typing.py"
    text = source_file(400)
    assert text.count("\n") == 400
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    typed = "result = step_3([1, "
    assert len(typed) == 20
    line = 400
    for i in range(len(typed) + 1):
        if i > 0:
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 1),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=line, character=i - 1),
                                      end=types.Position(line=line, character=i - 1)),
                    text=typed[i - 1])]))
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=i),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    counts = [tuple(map(int, m)) for m in
              re.findall(r"prompt (\d+) tokens \((\d+) computed, (\d+) from the KV cache\)", LOG.read_text())]
    assert len(counts) == len(typed) + 1, LOG.read_text()
    first_total, first_computed, _ = counts[0]
    assert first_total > 300 and first_computed == first_total
    for total, computed, cached in counts[1:]:
        # The prefix's changed end (a token or two re-tokenized) and the fill-in-the-middle tail are computed.
        assert computed <= 8 and cached == total - computed, counts
    LOG.unlink(missing_ok=True)
