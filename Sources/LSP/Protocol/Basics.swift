/// A 0-based line and character offset; what the character offset counts is the negotiated position
/// encoding (UTF-16 code units by default, bytes for `utf-8`).
public struct Position: Codable, Sendable, Hashable {
    public var line: Int
    public var character: Int
    public init(line: Int, character: Int) { self.line = line; self.character = character }
}

/// A range in a document; `end` is exclusive.
public struct LSPRange: Codable, Sendable, Hashable {
    public var start: Position
    public var end: Position
    public init(start: Position, end: Position) { self.start = start; self.end = end }
}

public struct TextDocumentIdentifier: Codable, Sendable, Hashable {
    public var uri: String
    public init(uri: String) { self.uri = uri }
}

public struct VersionedTextDocumentIdentifier: Codable, Sendable {
    public var uri: String
    public var version: Int?
}

public struct TextDocumentItem: Codable, Sendable {
    public var uri: String
    public var languageId: String
    public var version: Int
    public var text: String
}

/// A replacement of `range` (incremental sync) or of the whole text (no range: full sync).
public struct TextDocumentContentChangeEvent: Codable, Sendable {
    public var range: LSPRange?
    public var text: String
    public init(range: LSPRange?, text: String) { self.range = range; self.text = text }
}

public struct TextEdit: Codable, Sendable, Hashable {
    public var range: LSPRange
    public var newText: String
    public init(range: LSPRange, newText: String) { self.range = range; self.newText = newText }
}

public struct WorkspaceEdit: Codable, Sendable, Hashable {
    public var changes: [String: [TextEdit]]
    public init(changes: [String: [TextEdit]]) { self.changes = changes }
}

/// `Diagnostic`, as published for syntax errors.
public struct LSPDiagnostic: Codable, Sendable, Hashable {
    public var range: LSPRange
    /// 1 error, 2 warning, 3 information, 4 hint.
    public var severity: Int?
    public var code: String?
    public var source: String?
    public var message: String
}

/// Which units a `Position.character` counts.
public enum PositionEncoding: String, Codable, Sendable {
    case utf16 = "utf-16"
    case utf8 = "utf-8"
}
