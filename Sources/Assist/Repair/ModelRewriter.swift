import Engine
import Foundation
import Syntax

/// Rewrites of a suspicious line by the model: the line's code is removed and filled in again by
/// fill-in-the-middle completion under the syntax constraint, greedily and with a few samples. Only rewrites
/// that differ from the line and leave the file parsing are kept.
struct ModelRewriter {
    let model: LanguageModel
    let language: Language
    var samples = 3

    func patches(source: String, line: Int, score: Double, parser: Parser, deadline: ContinuousClock.Instant) -> [Patch] {
        let text = SourceText(source)
        guard line >= 1, line <= text.lineStarts.count else { return [] }
        let start = text.lineStarts[line - 1]
        let end = line < text.lineStarts.count ? text.lineStarts[line] - 1 : text.count
        let lineText = text.text(start..<end)
        let indent = lineText.prefix { $0 == " " || $0 == "\t" }
        let codeStart = start + indent.utf8.count
        let original = text.text(codeStart..<end)
        guard !original.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        let blanked = TextEdit(startByte: codeStart, endByte: end, replacement: "").apply(to: source)
        let completer = CodeCompleter(model: model)
        var out: [Patch] = []
        var seen: Set<String> = [original]
        for attempt in 0..<samples {
            guard ContinuousClock.now < deadline else { break }
            var request = CompletionRequest(source: blanked, language: language, cursor: codeStart)
            request.maxTokens = 48
            request.sampling.temperature = attempt == 0 ? 0 : 0.7
            request.sampling.seed = UInt64(attempt)
            guard let completion = try? completer.complete(request) else { continue }
            let rewrite = String(completion.text.prefix { $0 != "\n" }).trimmingCharacters(in: .whitespaces)
            guard !rewrite.isEmpty, seen.insert(rewrite).inserted else { continue }
            let patched = TextEdit(startByte: codeStart, endByte: end, replacement: rewrite).apply(to: source)
            guard let tree = try? parser.parse(patched), !tree.hasErrors else { continue }
            var patch = Patch(source: patched, origin: .model, operatorName: "model-rewrite",
                              rationale: "the model rewrites line \(line) as '\(rewrite)'", line: line,
                              cost: TextEdit.cost(replacing: original, with: rewrite))
            patch.suspiciousness = score
            out.append(patch)
        }
        return out
    }
}
