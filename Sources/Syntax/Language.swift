import CTreeSitter
import Grammars

/// Errors of the syntax layer. Each message says what is wrong and what to do about it.
public enum SyntaxLayerError: Error, CustomStringConvertible, Equatable {
    /// No grammar of that name is registered.
    case unknownLanguage(String)
    /// The grammar is registered but its sources were not fetched before the build.
    case grammarMissing(String)
    /// The runtime refused the grammar (ABI outside what Debian's libtree-sitter loads).
    case incompatibleGrammar(String, abi: Int)
    /// A query file did not compile.
    case badQuery(language: String, file: String, offset: Int, kind: String)
    /// A query file could not be found.
    case queryNotFound(language: String, file: String, searched: [String])
    /// Parsing was cancelled or timed out.
    case parseFailed(String)

    public var description: String {
        switch self {
        case .unknownLanguage(let name):
            return "unknown language '\(name)'; known languages: \(Language.all.map(\.name).joined(separator: ", "))"
        case .grammarMissing(let name):
            return "the \(name) grammar is not built into this binary: run scripts/setup (it fetches the grammar "
                + "sources into grammars/\(name)/) and build again"
        case .incompatibleGrammar(let name, let abi):
            return "the \(name) grammar has ABI \(abi), but this tree-sitter runtime loads ABI "
                + "\(TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION)-\(TREE_SITTER_LANGUAGE_VERSION): pin an older "
                + "grammar release in grammars/grammars.json and run scripts/setup"
        case .badQuery(let language, let file, let offset, let kind):
            return "query \(file) for \(language) does not compile: \(kind) error at byte \(offset)"
        case .queryNotFound(let language, let file, let searched):
            return "query \(file) for \(language) not found (looked in \(searched.joined(separator: ", "))); "
                + "set MOECODER_HOME to the moecoder checkout"
        case .parseFailed(let why):
            return "parse failed: \(why)"
        }
    }
}

/// A programming language whose tree-sitter grammar is compiled into moecoder.
///
/// `Language` values are cheap to copy; the grammar tables they point to are static data of the binary.
public struct Language: Hashable, Sendable, CustomStringConvertible {
    /// Lower-case name, as used on the command line (`python`, `javascript`, …).
    public let name: String
    /// File extensions without the dot.
    public let extensions: [String]
    /// How documentation is attached to definitions in this language.
    public let docStyle: DocStyle
    /// Node types that are comments (free text for the constraint, skipped when looking for docs).
    public let commentTypes: Set<String>
    private let loader: @Sendable () -> UnsafeRawPointer?

    /// Where a definition's documentation lives.
    public enum DocStyle: Sendable {
        /// A string literal as the first statement of the body (Python docstrings).
        case firstStringInBody
        /// Comments immediately above the definition (JSDoc, Go, Rust `///`, Javadoc, C, Swift).
        case precedingComments
    }

    init(name: String, extensions: [String], docStyle: DocStyle, commentTypes: Set<String>,
         loader: @escaping @Sendable () -> UnsafeRawPointer?) {
        self.name = name
        self.extensions = extensions
        self.docStyle = docStyle
        self.commentTypes = commentTypes
        self.loader = loader
    }

    public var description: String { name }

    public static func == (a: Language, b: Language) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }

    /// Every registered language, in the order `--help` lists them.
    public static let all: [Language] = [
        Language(name: "python", extensions: ["py", "pyi", "pyw"], docStyle: .firstStringInBody,
                 commentTypes: ["comment"], loader: { moecoder_grammar_python() }),
        Language(name: "javascript", extensions: ["js", "mjs", "cjs", "jsx"], docStyle: .precedingComments,
                 commentTypes: ["comment", "html_comment"], loader: { moecoder_grammar_javascript() }),
        Language(name: "go", extensions: ["go"], docStyle: .precedingComments,
                 commentTypes: ["comment"], loader: { moecoder_grammar_go() }),
        Language(name: "rust", extensions: ["rs"], docStyle: .precedingComments,
                 commentTypes: ["line_comment", "block_comment"], loader: { moecoder_grammar_rust() }),
        Language(name: "java", extensions: ["java"], docStyle: .precedingComments,
                 commentTypes: ["line_comment", "block_comment"], loader: { moecoder_grammar_java() }),
        Language(name: "c", extensions: ["c", "h"], docStyle: .precedingComments,
                 commentTypes: ["comment"], loader: { moecoder_grammar_c() }),
        Language(name: "swift", extensions: ["swift"], docStyle: .precedingComments,
                 commentTypes: ["comment", "multiline_comment"], loader: { moecoder_grammar_swift() }),
    ]

    /// The language registered under `name` (case-insensitive; `js` and `py` are accepted too).
    public static func named(_ name: String) throws -> Language {
        let key = name.lowercased()
        if let found = all.first(where: { $0.name == key || $0.extensions.contains(key) }) { return found }
        throw SyntaxLayerError.unknownLanguage(name)
    }

    /// The language of a file, from its extension; nil when no registered language uses it.
    public static func forPath(_ path: String) -> Language? {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return nil }
        let ext = base[base.index(after: dot)...].lowercased()
        return all.first { $0.extensions.contains(ext) }
    }

    /// The grammar's `const TSLanguage *`, checked to be present and loadable by the runtime.
    public func grammar() throws -> OpaquePointer {
        guard let raw = loader() else { throw SyntaxLayerError.grammarMissing(name) }
        let pointer = OpaquePointer(raw)
        let abi = Int(ts_language_version(pointer))
        guard abi >= Int(TREE_SITTER_MIN_COMPATIBLE_LANGUAGE_VERSION), abi <= Int(TREE_SITTER_LANGUAGE_VERSION) else {
            throw SyntaxLayerError.incompatibleGrammar(name, abi: abi)
        }
        return pointer
    }

    /// Whether this binary was built with the grammar's sources.
    public var isAvailable: Bool { (try? grammar()) != nil }

    /// The grammar's name for a symbol id (node type).
    public func symbolName(_ symbol: UInt16) -> String {
        guard let grammar = try? grammar(), let cName = ts_language_symbol_name(grammar, symbol) else { return "?" }
        return String(cString: cName)
    }
}
