import Foundation
import Syntax

/// An open document: its text kept parsed by Syntax's `Document` when moecoder has a grammar for its
/// language, or as plain text otherwise (it then gets no diagnostics and no completions: both need a grammar).
final class OpenDocument {
    let uri: String
    private(set) var version: Int
    let language: Language?
    private let parsed: Document?
    private var plain: SourceText

    init(item: TextDocumentItem) {
        uri = item.uri
        version = item.version
        language = Self.language(id: item.languageId, uri: item.uri)
        parsed = language.flatMap { try? Document(language: $0, text: item.text) }
        plain = SourceText(item.text)
    }

    /// The current text with its line index.
    var source: SourceText { parsed?.source ?? plain }
    var text: String { source.string }

    /// Applies `didChange` events in order: a ranged event replaces that range (incremental sync), an
    /// event without a range replaces the whole text (full sync).
    func apply(_ changes: [TextDocumentContentChangeEvent], version: Int?, encoding: PositionEncoding) throws {
        for change in changes {
            let current = source
            let bytes: Range<Int>
            if let range = change.range {
                let lo = current.byteOffset(of: range.start, encoding: encoding)
                let hi = current.byteOffset(of: range.end, encoding: encoding)
                guard lo <= hi else {
                    throw ResponseError.invalidParams("change range ends before it starts: \(range)")
                }
                bytes = lo..<hi
            } else {
                bytes = 0..<current.count
            }
            if let parsed {
                try parsed.replace(bytes: bytes, with: change.text)
            } else {
                plain.replace(bytes, with: Array(change.text.utf8))
            }
        }
        if let version { self.version = version }
    }

    /// Syntax errors as LSP diagnostics (none when the language has no grammar here).
    func diagnostics(encoding: PositionEncoding, limit: Int = 100) -> [LSPDiagnostic] {
        guard let parsed else { return [] }
        let source = parsed.source
        return parsed.tree.syntaxErrors(limit: limit).map { error in
            LSPDiagnostic(range: source.range(ofBytes: error.start.byteOffset..<max(error.start.byteOffset,
                                                                                     error.end.byteOffset),
                                              encoding: encoding),
                          severity: 1, code: error.kind == .missing ? "missing" : "syntax", source: "moecoder",
                          message: error.message)
        }
    }

    /// The language for an LSP language id (`python`, `javascript`…), else for the URI's file extension.
    static func language(id: String, uri: String) -> Language? {
        let found = Language.all.first { $0.name == id.lowercased() } ?? Language.forPath(uri)
        return found.flatMap { $0.isAvailable ? $0 : nil }
    }

    /// The file path of a `file://` URI.
    static func path(of uri: String) -> String? {
        guard let url = URL(string: uri), url.isFileURL else { return nil }
        return url.path
    }
}
