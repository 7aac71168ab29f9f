import Foundation
import Syntax

/// The feature requests: each reads what it needs from the open document on the reading thread, then runs
/// the Assist service on a queue and maps its answer back to LSP positions.
extension LanguageServer {
    /// `textDocument/inlineCompletion` and `textDocument/completion`: the model's completion at the cursor,
    /// as ghost text or as one multi-line item. A newer request for the same document supersedes this one.
    func complete(_ raw: JSONValue?, reply: Reply, inline: Bool) throws {
        let params = try self.params(TextDocumentPositionParams.self, raw)
        let document = try openDocument(params.textDocument.uri)
        let empty: JSONValue = inline ? ["items": []] : ["isIncomplete": false, "items": []]
        guard let language = document.language else {
            log("no completion for \(document.uri): no grammar for its language")
            reply.result(empty)
            return
        }
        let source = document.source, text = document.text, encoding = encoding
        let cursor = source.byteOffset(of: params.position, encoding: encoding)
        let service = configuration.completion
        let log = configuration.log
        modelQueue.submit(reply, supersedeKey: document.uri) { flag in
            let outcome = try service.complete(source: text, language: language, cursor: cursor, cancellation: flag)
            log("completion: \(outcome.tokens) tokens in \(Int(outcome.milliseconds)) ms, parses: \(outcome.parseOK), "
                + "prompt \(outcome.promptTokens) tokens (\(outcome.promptTokens - outcome.cachedPromptTokens) computed, "
                + "\(outcome.cachedPromptTokens) from the KV cache)")
            guard !outcome.text.isEmpty else { return empty }
            let range = source.range(ofBytes: cursor..<cursor, encoding: encoding)
            if inline {
                return try JSONValue(encoding: InlineCompletionList(items: [
                    InlineCompletionItem(insertText: outcome.text, range: range),
                ]))
            }
            let firstLine = outcome.text.split(separator: "\n", omittingEmptySubsequences: true).first
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let item = CompletionItem(
                label: firstLine.isEmpty ? "moecoder completion" : firstLine, kind: 1,
                detail: "moecoder: \(outcome.tokens) tokens\(outcome.parseOK ? "" : ", does not parse yet")",
                textEdit: TextEdit(range: range, newText: outcome.text), insertTextFormat: 1, filterText: nil)
            return try JSONValue(encoding: CompletionList(isIncomplete: false, items: [item]))
        }
    }

    /// `textDocument/codeAction`: up to three ranked repairs as quick fixes with workspace edits.
    func codeAction(_ raw: JSONValue?, reply: Reply) throws {
        let params = try self.params(CodeActionParams.self, raw)
        let document = try openDocument(params.textDocument.uri)
        if let only = params.context.only, !only.contains(where: { $0 == "quickfix" || "quickfix".hasPrefix($0 + ".") }) {
            reply.result([])
            return
        }
        guard let language = document.language else {
            reply.result([])
            return
        }
        let source = document.source, text = document.text, uri = document.uri, encoding = encoding
        let diagnostics = params.context.diagnostics.isEmpty ? document.diagnostics(encoding: encoding)
            : params.context.diagnostics
        let service = configuration.repair
        modelQueue.submit(reply) { flag in
            let candidates = try service.repairs(source: text, language: language,
                                                 path: OpenDocument.path(of: uri), limit: 3, cancellation: flag)
            let actions = candidates.enumerated().map { index, candidate in
                CodeAction(title: candidate.title, kind: "quickfix", diagnostics: diagnostics.isEmpty ? nil : diagnostics,
                           isPreferred: index == 0 ? true : nil,
                           edit: WorkspaceEdit(changes: [uri: candidate.edits.map {
                               TextEdit(range: source.range(ofBytes: $0.range, encoding: encoding), newText: $0.replacement)
                           }]))
            }
            return try JSONValue(encoding: actions)
        }
    }

    /// `workspace/executeCommand` `moecoder.generateTests`: arguments `[uri]` or `[{"uri", "out", "budget"}]`.
    /// Writes the pytest file, reports `$/progress`, answers with testgen's report.
    func executeCommand(_ raw: JSONValue?, reply: Reply) throws {
        let params = try self.params(ExecuteCommandParams.self, raw)
        guard params.command == Self.generateTestsCommand else {
            throw ResponseError.invalidParams("unknown command '\(params.command)': this server has "
                                              + "\(Self.generateTestsCommand)")
        }
        let argument = params.arguments?.first
        guard let target = argument?.stringValue ?? argument?["uri"]?.stringValue else {
            throw ResponseError.invalidParams("\(Self.generateTestsCommand) takes the module's URI: arguments "
                                              + "[\"file:///…/module.py\"] or [{\"uri\": …, \"out\": …, \"budget\": …}]")
        }
        let modulePath = OpenDocument.path(of: target) ?? target
        guard FileManager.default.fileExists(atPath: modulePath) else {
            throw ResponseError.invalidParams("the module \(modulePath) does not exist on disk: save it first")
        }
        let out = argument?["out"]?.stringValue.map { OpenDocument.path(of: $0) ?? $0 }
        let budget: Double
        if case .number(let seconds) = argument?["budget"] ?? .null, seconds > 0 { budget = seconds } else {
            budget = configuration.testBudget
        }
        let service = configuration.testGeneration
        let sink = sink, serverRequests = serverRequests
        let clientToken = params.workDoneToken, canCreate = clientCreatesProgress
        toolQueue.submit(reply) { flag in
            var token = clientToken
            if token == nil, canCreate {
                let created = RequestID.string("moecoder-testgen-\(UUID().uuidString)")
                if serverRequests.call("window/workDoneProgress/create", params: ["token": created.json]) {
                    token = created
                }
            }
            let progress = ProgressReporter(token: token, sink: sink)
            let name = URL(fileURLWithPath: modulePath).lastPathComponent
            progress.begin("Generating tests", message: name)
            do {
                let report = try service.generateTests(modulePath: modulePath, outputPath: out, budget: budget) { line in
                    if !flag.isCancelled { progress.report(line) }
                }
                let tests = report["tests"]?.arrayValue?.count ?? 0
                progress.end("wrote \(tests) test\(tests == 1 ? "" : "s") to \(report["test_file"]?.stringValue ?? "?")")
                return report
            } catch {
                progress.end("failed: \(error)")
                throw error
            }
        }
    }
}
