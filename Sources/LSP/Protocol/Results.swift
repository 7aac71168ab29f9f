/// Results the server returns, one type a message.

/// `textDocument/completion`: one multi-line item that inserts the model's completion at the cursor.
public struct CompletionItem: Codable, Sendable {
    public var label: String
    /// 1 text, 15 snippet; ours is plain text (`insertTextFormat` 1).
    public var kind: Int
    public var detail: String?
    public var textEdit: TextEdit
    public var insertTextFormat: Int
    public var filterText: String?
}

public struct CompletionList: Codable, Sendable {
    public var isIncomplete: Bool
    public var items: [CompletionItem]
}

/// `textDocument/inlineCompletion` (LSP 3.18): ghost text inserted at `range`.
public struct InlineCompletionItem: Codable, Sendable {
    public var insertText: String
    public var range: LSPRange?
}

public struct InlineCompletionList: Codable, Sendable {
    public var items: [InlineCompletionItem]
}

/// A quick fix: a workspace edit with a title, ranked by `isPreferred` on the first.
public struct CodeAction: Codable, Sendable {
    public var title: String
    public var kind: String
    public var diagnostics: [LSPDiagnostic]?
    public var isPreferred: Bool?
    public var edit: WorkspaceEdit
}
