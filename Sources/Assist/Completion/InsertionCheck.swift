import Syntax

/// Parses the file with a completion inserted at the cursor, to tell whether the inserted code is complete
/// (no syntax error touches it) and whether the whole file parses.
final class InsertionCheck {
    private let parser: Parser
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    /// False when errors already in the file span from above the cursor's line across the cursor: then an
    /// error touching the completion says nothing about the completion, and the lexical rules decide alone.
    let treeIsUsable: Bool

    init(language: Language, prefix: [UInt8], suffix: [UInt8]) throws {
        parser = try Parser(language: language)
        self.prefix = prefix
        self.suffix = suffix
        let cursor = prefix.count
        let lineStart = (prefix.lastIndex(of: ascii("\n")) ?? -1) + 1
        let baseline = try Self.errorSites(parser.parse(SourceText(bytes: prefix + suffix)))
        treeIsUsable = !baseline.contains { $0.lowerBound < lineStart && $0.upperBound > cursor }
    }

    /// ERROR nodes (their whole span, not looked into) and MISSING nodes (empty, where they were inserted).
    static func errorSites(_ tree: Tree) -> [Range<Int>] {
        var sites: [Range<Int>] = []
        guard tree.hasErrors else { return sites }
        tree.root.walk { node in
            guard node.hasError else { return false }
            if node.isMissing {
                sites.append(node.startByte..<node.startByte)
                return false
            }
            if node.isError {
                sites.append(node.byteRange)
                return false
            }
            return true
        }
        return sites
    }

    /// The error sites of the file with `inserted` at the cursor.
    func errorSites(with inserted: ArraySlice<UInt8>) -> [Range<Int>] {
        guard let tree = try? parser.parse(SourceText(bytes: prefix + inserted + suffix)) else { return [] }
        return Self.errorSites(tree)
    }

    /// Whether no syntax error reaches into `inserted` or ends it (a missing `)` right after it).
    func isComplete(_ inserted: ArraySlice<UInt8>) -> Bool {
        let start = prefix.count, end = prefix.count + inserted.count
        return !errorSites(with: inserted).contains { site in
            site.isEmpty ? (start...end).contains(site.lowerBound) : site.lowerBound <= end && site.upperBound > start
        }
    }

    /// Whether the whole file parses with `inserted` at the cursor.
    func parses(with inserted: ArraySlice<UInt8>) -> Bool {
        guard let tree = try? parser.parse(SourceText(bytes: prefix + inserted + suffix)) else { return false }
        return !tree.hasErrors
    }
}
