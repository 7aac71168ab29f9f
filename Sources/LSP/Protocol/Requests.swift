/// Params of the requests and notifications the server handles, one type a message.

public struct DidOpenTextDocumentParams: Codable, Sendable {
    public var textDocument: TextDocumentItem
}

public struct DidChangeTextDocumentParams: Codable, Sendable {
    public var textDocument: VersionedTextDocumentIdentifier
    public var contentChanges: [TextDocumentContentChangeEvent]
}

public struct DidCloseTextDocumentParams: Codable, Sendable {
    public var textDocument: TextDocumentIdentifier
}

/// `textDocument/completion` and `textDocument/inlineCompletion` both need only the cursor.
public struct TextDocumentPositionParams: Codable, Sendable {
    public var textDocument: TextDocumentIdentifier
    public var position: Position
}

public struct CodeActionParams: Codable, Sendable {
    public struct Context: Codable, Sendable {
        public var diagnostics: [LSPDiagnostic]
        public var only: [String]?
    }
    public var textDocument: TextDocumentIdentifier
    public var range: LSPRange
    public var context: Context
}

public struct ExecuteCommandParams: Codable, Sendable {
    public var command: String
    public var arguments: [JSONValue]?
    public var workDoneToken: RequestID?
}

public struct CancelParams: Codable, Sendable {
    public var id: RequestID
}

public struct PublishDiagnosticsParams: Codable, Sendable {
    public var uri: String
    public var version: Int?
    public var diagnostics: [LSPDiagnostic]
}

/// `$/progress` with a `WorkDoneProgressBegin`, `Report` or `End` value.
public struct ProgressParams: Codable, Sendable {
    public struct Value: Codable, Sendable {
        public var kind: String
        public var title: String?
        public var message: String?
        public var percentage: Int?
        public var cancellable: Bool?
    }
    public var token: RequestID
    public var value: Value
}
