import Syntax

/// Holes for measuring completion on real files: a line's code is taken out (its indentation and line break
/// stay) and the completer writes it back with the cursor after the indentation.
public enum CompletionProbes {
    /// Up to `count` evenly spread lines (0-based, after the first) that hold one whole logical line of code: it
    /// starts outside brackets, strings and comments and not after a line continuation, and it ends there too
    /// (a statement or block header on one line, as a user writes when starting a new line). Lines shorter than 4
    /// characters once trimmed are left out (the same holes as `bench/model_completion_parse.py`'s).
    public static func wholeLines(of source: String, language: Language, count: Int) -> [Int] {
        let lines = PromptWindow.lines(source)
        var scanner = CodeScanner(syntax: LexicalSyntax.of(language))
        var candidates: [Int] = []
        for (index, line) in lines.enumerated() {
            let startsClean = scanner.mode == .code && scanner.depth == 0 && scanner.lastCode.1 != ascii("\\")
            let bytes = Array(line.utf8)
            var sawCode = false, i = 0
            while i < bytes.count, let (length, lexeme) = scanner.step(bytes, at: i, final: true) {
                switch lexeme {
                case .open, .close, .code, .string: sawCode = true
                default: break
                }
                i += length
            }
            let endsClean = (scanner.mode == .code || scanner.mode == .lineComment) && scanner.depth == 0
                && scanner.lastCode.1 != ascii("\\")
            if index > 0, startsClean, sawCode, endsClean,
               line.trimmingWhitespace().count >= 4 {
                candidates.append(index)
            }
        }
        guard count > 0, !candidates.isEmpty else { return [] }
        if candidates.count <= count { return candidates }
        return (0..<count).map { candidates[($0 * 2 + 1) * candidates.count / (2 * count)] }
    }

    /// `source` with line `index`'s code taken out, and the cursor (a byte offset) after its indentation.
    public static func hole(in source: String, line index: Int) -> (source: String, cursor: Int, removed: String) {
        var lines = PromptWindow.lines(source).map(String.init)
        let line = lines[index]
        let indentation = String(line.prefix { $0 == " " || $0 == "\t" })
        let removed = line.trimmingWhitespace()
        let ending = line.hasSuffix("\r\n") ? "\r\n" : line.unicodeScalars.last == "\n" ? "\n" : ""
        lines[index] = indentation + ending
        let cursor = lines[..<index].reduce(0) { $0 + $1.utf8.count } + indentation.utf8.count
        return (lines.joined(), cursor, removed)
    }
}
