"""`moecoder lsp` driven by a real LSP client (pytest-lsp): the features an editor uses, end to end."""

import ast
import asyncio
import pathlib
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from conftest import moecoder_binary, test_model

SOURCE = 'def add(a, b):\n    return a + b\n\n\nvalue = \n'
BROKEN = "print((1 + 2)\nx = 3\n"
# A file with several plausible syntax fixes (close the call, drop its '(', ...).
FIXABLE = "total = sum([1, 2, 3]\nprint(total)\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[moecoder_binary(), "lsp", "--model", test_model(),
                                                              "--max-tokens", "24"]))
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    )))
    capabilities = result.capabilities
    assert capabilities.position_encoding == types.PositionEncodingKind.Utf16
    assert capabilities.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert capabilities.inline_completion_provider and capabilities.completion_provider
    assert capabilities.code_action_provider
    assert "moecoder.generateTests" in capabilities.execute_command_provider.commands
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))


async def diagnostics_until(client: LanguageClient, uri: str, done) -> list[types.Diagnostic]:
    """Waits until the diagnostics last published for `uri` satisfy `done` (each publish replaces them)."""
    deadline = time.monotonic() + 10
    while not (uri in client.diagnostics and done(client.diagnostics[uri])):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"diagnostics for {uri}: {client.diagnostics.get(uri)}"
        try:
            await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), remaining)
        except asyncio.TimeoutError:
            pass
    return list(client.diagnostics[uri])


async def test_a_second_initialize_is_refused(client: LanguageClient):
    with pytest.raises(JsonRpcException) as failure:
        await client.protocol.send_request_async(
            types.INITIALIZE, types.InitializeParams(capabilities=types.ClientCapabilities()))
    assert failure.value.code == -32600


async def test_inline_completion_parses(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-inline.py"
    open_document(client, uri, SOURCE)
    position = types.Position(line=4, character=8)
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position,
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items, "the fixture model completes `value = ` with something"
    item = items[0]
    assert item.range.start == position and item.range.end == position
    lines = SOURCE.split("\n")
    lines[4] = lines[4][:8] + item.insert_text + lines[4][8:]
    ast.parse("\n".join(lines))  # the completed file is valid Python


async def test_completion_is_one_multiline_capable_item(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-complete.py"
    open_document(client, uri, SOURCE)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=8)))
    assert isinstance(result, types.CompletionList)
    assert len(result.items) == 1
    edit = result.items[0].text_edit
    assert edit.range.start == types.Position(line=4, character=8)
    assert edit.new_text


async def test_diagnostics_for_a_broken_file_follow_edits(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-broken.py"
    open_document(client, uri, BROKEN)
    diagnostics = await diagnostics_until(client, uri, bool)
    assert diagnostics and diagnostics[0].severity == types.DiagnosticSeverity.Error
    # Where CPython reports it: the parenthesis never closed, on the first line.
    assert diagnostics[0].range.start.line == 0
    assert diagnostics[0].message == "'(' was never closed"
    # Incremental change: close the parenthesis; the error goes away.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=0, character=13), end=types.Position(line=0, character=13)),
            text=")")]))
    assert await diagnostics_until(client, uri, lambda d: not d) == []
    # Full change: break it again.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="def f(:\n    pass\n")]))
    assert await diagnostics_until(client, uri, bool)


async def test_three_ranked_quick_fixes(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-fix.py"
    open_document(client, uri, FIXABLE)
    diagnostics = await diagnostics_until(client, uri, bool)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostics[0].range,
        context=types.CodeActionContext(diagnostics=diagnostics)))
    assert len(actions) == 3
    assert all(a.kind == types.CodeActionKind.QuickFix for a in actions)
    assert actions[0].is_preferred
    fixed = [apply_edits(FIXABLE, action.edit.changes[uri]) for action in actions]
    assert len(set(fixed)) == 3
    ast.parse(fixed[0])  # the preferred fix leaves valid Python


async def test_generate_tests_writes_the_file_and_reports_progress(client: LanguageClient, tmp_path: pathlib.Path):
    module = tmp_path / "arith.py"
    module.write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="moecoder.generateTests", arguments=[{"uri": module.as_uri(), "budget": 1}]))
    test_file = pathlib.Path(result["test_file"])
    assert test_file.exists() and "def test_" in test_file.read_text()
    reports = [r for values in client.progress_reports.values() for r in values]
    kinds = [type(r).__name__ for r in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
    assert "WorkDoneProgressReport" in kinds


def send(client: LanguageClient, method: str, params, msg_id=None) -> asyncio.Future:
    """Sends a request now (an un-awaited `send_request_async` would send nothing until awaited)."""
    return asyncio.wrap_future(client.protocol.send_request(method, params, msg_id=msg_id))


def inline_params(uri: str, kind=types.InlineCompletionTriggerKind.Invoked) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=8),
        context=types.InlineCompletionContext(trigger_kind=kind))


async def keep_model_queue_busy(client: LanguageClient, name: str, count: int = 20) -> list:
    """Queues `count` completions on other documents, so the requests sent next wait behind them.

    Each document is a long, valid file of its own with the cursor at its end, so that every request prefills
    tokens that no earlier one cached. The documents are opened first and the small requests then go out back
    to back: when the opens were interleaved with the requests, a fast server finished each completion
    (~5 ms on the fixture model) before the client had written the next one, and the queue never built up."""
    copies = 20
    uris = [f"file:///tmp/moecoder-lsp-{name}-busy{i}.py" for i in range(count)]
    for i, uri in enumerate(uris):
        body = "".join(f"def add_{name}_{i}_{k}(a, b):\n    return a + b\n\n\n" for k in range(copies))
        open_document(client, uri, body + SOURCE)
    await asyncio.sleep(0.3)
    pending = []
    for uri in uris:
        params = inline_params(uri)
        params.position = types.Position(line=4 * copies + 4, character=8)
        pending.append(send(client, types.TEXT_DOCUMENT_INLINE_COMPLETION, params))
    return pending


async def test_cancel_answers_at_once_and_the_server_keeps_serving(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-cancel.py"
    open_document(client, uri, SOURCE)
    busy = await keep_model_queue_busy(client, "cancel")
    pending = send(client, types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri), msg_id="cancel-me")
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcException) as failure:
        await asyncio.wait_for(pending, 10)
    assert failure.value.code == -32800
    # Answered at once, not after the work queued before it.
    assert not all(f.done() for f in busy)
    await asyncio.gather(*busy)
    # The server still answers.
    assert await client.text_document_inline_completion_async(inline_params(uri)) is not None


async def test_newer_completion_supersedes_the_older(client: LanguageClient):
    uri = "file:///tmp/moecoder-lsp-supersede.py"
    open_document(client, uri, SOURCE)
    busy = await keep_model_queue_busy(client, "supersede")
    params = inline_params(uri, types.InlineCompletionTriggerKind.Automatic)
    first = send(client, types.TEXT_DOCUMENT_INLINE_COMPLETION, params)
    second = send(client, types.TEXT_DOCUMENT_INLINE_COMPLETION, params)
    with pytest.raises(JsonRpcException) as failure:
        await asyncio.wait_for(first, 10)
    assert failure.value.code == -32800
    assert not all(f.done() for f in busy)
    assert (await asyncio.wait_for(second, 60)).items
    await asyncio.gather(*busy)


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Applies LSP edits (UTF-16 positions; ASCII here) from the last to the first."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    spans = sorted(((offsets[e.range.start.line] + e.range.start.character,
                     offsets[e.range.end.line] + e.range.end.character, e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text
