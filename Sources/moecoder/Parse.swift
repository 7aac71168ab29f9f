import ArgumentParser
import Foundation
import Engine
import Syntax

/// `moecoder parse`: syntax errors or definitions of source files, with tree-sitter.
struct Parse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse source files and report syntax errors (or, with --defs, the definitions).",
        discussion: """
            The language comes from each file's extension (\(Language.all.map { "\($0.name): .\($0.extensions.joined(separator: " ."))" }.joined(separator: "; "))), \
            or from --language. A folder is searched for files of known languages. Errors are printed as \
            FILE:LINE:COLUMN: error: MESSAGE (1-based; columns count characters). \
            With --json, one JSON object per file is printed per line.

            Exit status: 0 when every file parses, 1 when a file has syntax errors, 2 on bad usage or an \
            unreadable file.
            """)

    @Argument(help: ArgumentHelp("Files or folders to parse; '-' reads standard input (needs --language).",
                                 valueName: "file"))
    var files: [String] = []

    @Option(name: .shortAndLong, help: "Language of the input, overriding the file extension.")
    var language: String?

    @Flag(help: "List functions, methods and classes instead of only the errors.")
    var defs = false

    @Flag(help: "Print the syntax tree as an S-expression.")
    var tree = false

    @Flag(help: "Check that every prefix of each file is judged a viable prefix by the syntax constraint's recognizer (appending the file in small chunks); reports the first prefix judged dead.")
    var viablePrefixes = false

    @Flag(help: "Print one JSON object per file (errors, definitions, timing).")
    var json = false

    @Option(help: ArgumentHelp("Read more paths, one per line, from this file ('-' for standard input).",
                               valueName: "list"))
    var filesFrom: String?

    @Option(help: "Report at most this many errors per file.")
    var maxErrors: Int = 100

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.")
    var quiet = false

    func validate() throws {
        if files.isEmpty && filesFrom == nil { throw ValidationError("give at least one file to parse") }
        if maxErrors < 1 { throw ValidationError("--max-errors must be at least 1") }
        if files.contains("-") && language == nil {
            throw ValidationError("reading standard input needs --language (one of: \(Language.all.map(\.name).joined(separator: ", ")))")
        }
        if let language { _ = try Self.language(named: language) }
    }

    static func language(named name: String) throws -> Language {
        do { return try Language.named(name) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let forced = try language.map { try Language.named($0) }
        var paths = files
        if let filesFrom { paths += try readList(filesFrom) }

        var parsers: [Language: Parser] = [:]
        var extractors: [Language: DefinitionExtractor] = [:]
        var status: Int32 = 0
        var stats = (files: 0, bytes: 0, seconds: 0.0, withErrors: 0)

        for input in expand(paths, forced: forced, status: &status) {
            guard let lang = forced ?? Language.forPath(input) else {
                warn("cannot tell the language of '\(input)' from its extension; pass --language "
                     + "(\(Language.all.map(\.name).joined(separator: ", ")))")
                status = 2
                continue
            }
            let bytes: [UInt8]
            do { bytes = try read(input) } catch {
                warn("cannot read '\(input)': \(readFailure(error))")
                status = 2
                continue
            }
            if parsers[lang] == nil { parsers[lang] = try Parser(language: lang) }
            let clock = ContinuousClock.now
            let parsed = try parsers[lang]!.parse(SourceText(bytes: bytes))
            let errors = parsed.syntaxErrors(limit: maxErrors)
            let seconds = (ContinuousClock.now - clock).seconds
            stats.files += 1
            stats.bytes += bytes.count
            stats.seconds += seconds
            if !errors.isEmpty {
                stats.withErrors += 1
                status = max(status, 1)
            }
            if viablePrefixes {
                let report = try Self.checkPrefixes(bytes, language: lang)
                if let dead = report.deadAt {
                    status = max(status, 1)
                    let location = SourceText(bytes: bytes).location(ofByte: dead)
                    if !quiet { print("\(input):\(location.line):\(location.column): error: prefix judged not viable") }
                }
                if json && !quiet {
                    struct PrefixReport: Encodable { var file: String; var bytes: Int; var viable: Bool; var dead_at: Int?; var us_per_byte: Double }
                    print(try JSON.line(PrefixReport(file: input, bytes: bytes.count, viable: report.deadAt == nil,
                                                     dead_at: report.deadAt, us_per_byte: report.microsecondsPerByte)))
                }
                continue
            }
            var definitions: [Definition] = []
            if defs {
                if extractors[lang] == nil { extractors[lang] = try DefinitionExtractor(language: lang) }
                definitions = extractors[lang]!.definitions(in: parsed)
            }
            if quiet { continue }
            if json {
                let report = FileReport(file: input, language: lang.name, ok: errors.isEmpty, errors: errors,
                                        definitions: defs ? definitions : nil, bytes: bytes.count,
                                        parseMs: seconds * 1000)
                print(try JSON.line(report))
            } else {
                if tree { print(parsed.root.sExpression) }
                for error in errors { print("\(input):\(error)") }
                for d in definitions { print(Self.describe(d, file: input, language: lang)) }
            }
        }
        if stats.files > 1 && !quiet && !json {
            let mb = Double(stats.bytes) / 1_048_576
            warn(String(format: "parsed %d files (%.1f MB) in %.2f s: %.0f files/s, %.1f MB/s; %d with syntax errors",
                        stats.files, mb, stats.seconds, Double(stats.files) / max(stats.seconds, 1e-9),
                        mb / max(stats.seconds, 1e-9), stats.withErrors))
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Appends the file in chunks of 1–8 bytes (whole characters), as a generation would, and reports the
    /// first byte offset after which the text was judged not viable.
    static func checkPrefixes(_ bytes: [UInt8], language: Language) throws -> (deadAt: Int?, microsecondsPerByte: Double) {
        let state = try ViablePrefix(language: language)
        var rng = SeededGenerator(seed: 1)
        var offset = 0
        let clock = ContinuousClock.now
        while offset < bytes.count {
            var end = min(bytes.count, offset + 1 + Int(rng.next() % 8))
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            if !state.append(bytes: Array(bytes[offset..<end])) { return (end, 0) }
            offset = end
        }
        return (nil, (ContinuousClock.now - clock).seconds * 1e6 / Double(max(1, bytes.count)))
    }

    static func describe(_ d: Definition, file: String, language: Language) -> String {
        let splat = language.name == "python" ? "*" : "..."
        let params = d.parameters.map { p -> String in
            var s = (p.kind == .variadic ? splat : p.kind == .variadicKeyword ? "**" : "") + p.name
            if let t = p.type { s += ": \(t)" }
            if let v = p.defaultValue { s += " = \(v)" }
            return s
        }.joined(separator: ", ")
        var line = "\(file):\(d.start.line):\(d.start.column): \(d.kind.rawValue) \(d.qualifiedName)"
        if d.kind == .function || d.kind == .method { line += "(\(params))" }
        if let r = d.returnType { line += " -> \(r)" }
        if let doc = d.docstring?.split(separator: "\n").first { line += "  # \(doc)" }
        return line
    }

    private func readList(_ path: String) throws -> [String] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: path) else {
                throw CLIFailure(message: "cannot read the list of files '\(path)'")
            }
            data = d
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.isEmpty }
    }

    /// Paths as given, with folders replaced by the files of known languages inside them (sorted).
    private func expand(_ paths: [String], forced: Language?, status: inout Int32) -> [String] {
        var result: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
                  isDirectory.boolValue else {
                result.append(path)
                continue
            }
            guard let walker = FileManager.default.enumerator(atPath: path) else {
                warn("cannot list the folder '\(path)'")
                status = 2
                continue
            }
            var found: [String] = []
            while let entry = walker.nextObject() as? String {
                let full = path.hasSuffix("/") ? path + entry : path + "/" + entry
                if let lang = Language.forPath(entry), forced == nil || forced == lang { found.append(full) }
            }
            result += found.sorted()
        }
        return result
    }

    private func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// What `parse --json` prints for one file.
struct FileReport: Encodable {
    var file: String
    var language: String
    var ok: Bool
    var errors: [SyntaxDiagnostic]
    var definitions: [Definition]?
    var bytes: Int
    var parseMs: Double

    enum CodingKeys: String, CodingKey {
        case file, language, ok, errors, definitions, bytes, parseMs = "parse_ms"
    }
}

enum JSON {
    /// One compact JSON line with sorted keys.
    static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Indented JSON with sorted keys, for reports a person may read too.
    static func pretty<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
