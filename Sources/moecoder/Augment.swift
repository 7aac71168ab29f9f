import ArgumentParser
import Assist
import Foundation
import Syntax

/// `moecoder augment`: semantics-preserving, syntax-checked rewrites of Python files (training data augmentation).
struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write augmented copies of Python files: consistent renames, reorderings, re-layouts and other semantics-preserving rewrites.",
        discussion: """
            For each input file and copy k (1..K), writes DIR/<path relative to its folder argument, without .py>.augK.py. \
            Each copy applies a random non-empty subset (in random order) of the selected transforms (all twelve unless \
            --transforms), each to a random --rate fraction of its eligible sites; the same --seed gives the same \
            output. Every intermediate result must parse with no errors (tree-sitter) and compile with python3's \
            compile() (unless --no-compile-check or python3 is missing; MOECODER_PYTHON picks the interpreter); a \
            transform whose result fails is dropped for that copy, never written. Only Python (.py, .pyw) is \
            supported. A FILE argument keeps its relative path (or its name when absolute); a FOLDER is searched \
            for .py files. Inputs that do not parse or compile are reported and skipped.

            With --json, one JSON object per output file: input, output, copy, the transforms applied (with the \
            number of edits and a note per change) and those skipped, with the reason. --list shows the transforms.

            Exit status: 0 on success, 1 when no input could be augmented, 2 on bad usage or unreadable input.
            """)

    @Argument(help: ArgumentHelp("Python files or folders.", valueName: "file-or-folder"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Folder for the augmented copies (created).", valueName: "dir"))
    var out: String?

    @Option(help: "Augmented copies per input file.")
    var copies: Int = 1

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Comma-separated transforms to draw from (see --list); default: all.", valueName: "a,b,c"))
    var transforms: String?

    @Option(help: "Fraction (0-1] of each transform's eligible sites that it changes.")
    var rate: Double = 0.5

    @Flag(help: "Print one JSON object per output file.")
    var json = false

    @Flag(help: "Skip the python3 compile() check of results (the tree-sitter check still runs).")
    var noCompileCheck = false

    @Flag(help: "Print the transformed text of a single FILE instead of writing files (copy 1).")
    var stdout = false

    @Flag(help: "List the transforms with a one-line description.")
    var list = false

    func validate() throws {
        if list { return }
        if inputs.isEmpty { throw ValidationError("give at least one Python file or folder to augment") }
        if stdout {
            if inputs.count != 1 { throw ValidationError("--stdout takes exactly one file") }
            if json { throw ValidationError("--stdout and --json cannot be combined") }
        } else if out == nil {
            throw ValidationError("give --out DIR for the augmented copies (or --stdout for one file)")
        }
        if copies < 1 { throw ValidationError("--copies must be at least 1") }
        if !(rate > 0 && rate <= 1) { throw ValidationError("--rate must be in (0, 1]") }
        _ = try selectedTransforms()
    }

    func selectedTransforms() throws -> [any PythonTransform] {
        guard let transforms else { return PythonTransforms.all }
        var result: [any PythonTransform] = []
        for raw in transforms.split(separator: ",") {
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let t = PythonTransforms.named(name) else {
                throw ValidationError("unknown transform '\(name)'; known transforms: \(PythonTransforms.all.map(\.name).joined(separator: ", "))")
            }
            if !result.contains(where: { $0.name == t.name }) { result.append(t) }
        }
        if result.isEmpty { throw ValidationError("--transforms lists no transform") }
        return result
    }

    struct Input { var path: String; var relative: String }

    /// The files to augment with their output-relative paths; throws on unreadable or non-Python input.
    func expandInputs() throws -> [Input] {
        var result: [Input] = []
        for path in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIFailure(message: "cannot read '\(path)': no such file or folder")
            }
            if isDirectory.boolValue {
                guard let walker = FileManager.default.enumerator(atPath: path) else {
                    throw CLIFailure(message: "cannot list the folder '\(path)'")
                }
                var found: [String] = []
                while let entry = walker.nextObject() as? String {
                    let parts = entry.split(separator: "/")
                    if parts.contains(where: { $0.hasPrefix(".") || $0 == "__pycache__" }) { continue }
                    if entry.hasSuffix(".py") || entry.hasSuffix(".pyw") { found.append(entry) }
                }
                if found.isEmpty { throw CLIFailure(message: "no Python files (.py, .pyw) in the folder '\(path)'") }
                let base = path.hasSuffix("/") ? path : path + "/"
                result += found.sorted().map { Input(path: base + $0, relative: $0) }
            } else {
                guard path.hasSuffix(".py") || path.hasSuffix(".pyw") else {
                    let lang = Language.forPath(path).map { " (it looks like \($0.name))" } ?? ""
                    throw CLIFailure(message: "'\(path)' is not a Python file\(lang): augment supports Python only (.py, .pyw files, or folders of them)")
                }
                var relative = path
                while relative.hasPrefix("./") { relative.removeFirst(2) }
                if relative.hasPrefix("/") || relative.split(separator: "/").contains("..") {
                    relative = String(relative.split(separator: "/").last ?? Substring(relative))
                }
                result.append(Input(path: path, relative: relative))
            }
        }
        return result
    }

    struct OutputReport: Encodable {
        var input: String
        var output: String?
        var copy: Int?
        var seed: UInt64
        var applied: [AppliedTransform]?
        var skipped: [SkippedTransform]?
        var compileChecked: Bool?
        var bytesIn: Int?
        var bytesOut: Int?
        var ms: Double?
        var error: String?

        enum CodingKeys: String, CodingKey {
            case input, output, copy, seed, applied, skipped, error, ms
            case compileChecked = "compile_checked", bytesIn = "bytes_in", bytesOut = "bytes_out"
        }
    }

    struct TransformInfo: Encodable { var name: String; var summary: String }

    func run() throws {
        if list {
            for t in PythonTransforms.all {
                if json { print(try JSON.line(TransformInfo(name: t.name, summary: t.summary))) }
                else { print(t.name.padding(toLength: 20, withPad: " ", startingAt: 0) + t.summary) }
            }
            return
        }
        let selected = try selectedTransforms()
        let files = try expandInputs()
        var checker: CompileChecker?
        if !noCompileCheck {
            checker = CompileChecker()
            if checker == nil { warn("python3 not found: results are checked with tree-sitter only (set MOECODER_PYTHON)") }
        }
        defer { checker?.close() }
        let augmenter = try Augmenter(checker: checker)
        let options = AugmentOptions(transforms: selected, randomSubset: true, rate: rate, seed: seed)

        var contents: [(Input, [UInt8])] = []
        for file in files {
            do { contents.append((file, Array(try Data(contentsOf: URL(fileURLWithPath: file.path))))) } catch {
                throw CLIFailure(message: "cannot read '\(file.path)': \(readFailure(error))")
            }
        }

        if stdout {
            let (file, bytes) = contents[0]
            do {
                let result = try augmenter.augment(bytes, key: file.relative, copy: 1, options: options)
                FileHandle.standardOutput.write(Data(result.bytes))
            } catch let error as AugmentError {
                throw CLIFailure(message: "cannot augment '\(file.path)': \(error)", status: 1)
            }
            return
        }

        let outDir = URL(fileURLWithPath: out!)
        var written = 0, failed = 0
        for (file, bytes) in contents {
            let stem = file.relative.hasSuffix(".pyw") ? String(file.relative.dropLast(4)) : String(file.relative.dropLast(3))
            for copy in 1...copies {
                let started = ContinuousClock.now
                let result: AugmentResult
                do {
                    result = try augmenter.augment(bytes, key: file.relative, copy: copy, options: options)
                } catch let error as AugmentError {
                    failed += 1
                    if json { print(try JSON.line(OutputReport(input: file.path, seed: seed, error: "\(error)"))) }
                    else { warn("skipped '\(file.path)': \(error)") }
                    break
                }
                let target = outDir.appendingPathComponent("\(stem).aug\(copy).py")
                do {
                    try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(result.bytes).write(to: target)
                } catch {
                    throw CLIFailure(message: "cannot write '\(target.path)': \(readFailure(error))")
                }
                written += 1
                if json {
                    let ms = (ContinuousClock.now - started).seconds * 1000
                    print(try JSON.line(OutputReport(
                        input: file.path, output: target.path, copy: copy, seed: seed, applied: result.applied,
                        skipped: result.skipped, compileChecked: result.compileChecked, bytesIn: bytes.count,
                        bytesOut: result.bytes.count, ms: (ms * 100).rounded() / 100)))
                }
            }
        }
        if !json {
            warn("wrote \(written) file(s) to \(outDir.path)" + (failed > 0 ? "; skipped \(failed) input(s) that are not valid Python" : ""))
        }
        if written == 0 { throw ExitCode(1) }
    }
}
