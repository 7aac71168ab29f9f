import Foundation

/// A `--cmd` that is a plain pytest invocation (`pytest -q tests/test_x.py`, `python3 -m pytest -k add`) is run
/// in-process by the repair worker, like `--test`: candidates then run in forked children of a warm Python (no
/// new interpreter and pytest import per candidate), the baseline run records coverage and tracebacks for fault
/// localisation, and the failing tests run first. Anything else (pipes, other programs, plugins' options we do
/// not know) runs through the shell as written.
enum PytestCommand {
    /// Options that only change pytest's output or stopping; the worker sets its own.
    static let dropped: Set<String> = ["-q", "-qq", "-qqq", "-v", "-vv", "-vvv", "-x", "--exitfirst", "-s", "-l",
                                       "--no-header", "--showlocals", "--quiet", "--verbose", "--no-summary"]
    static let droppedPrefixes = ["--tb=", "--maxfail=", "--color=", "--capture=", "--durations=", "-r"]
    /// Options with a value that are passed on (`-k EXPR` or `-kEXPR`).
    static let withValue: Set<String> = ["-k", "-m", "-p", "-W", "-o"]
    static let droppedWithValue: Set<String> = ["--tb", "--maxfail", "--color", "--capture", "--durations"]
    static let kept: Set<String> = ["--strict-markers", "--disable-warnings", "--runxfail", "--strict-config"]
    static let keptPrefixes = ["--import-mode=", "-W", "-k", "-m", "-o", "-p"]

    /// The pytest arguments (test paths, node ids and kept options) of `command`, or nil when it is not a
    /// plain pytest invocation.
    static func arguments(of command: String) -> [String]? {
        guard let words = split(command), !words.isEmpty else { return nil }
        var rest = words[...]
        let program = URL(fileURLWithPath: rest.first!).lastPathComponent
        if program == "pytest" || program == "py.test" {
            rest = rest.dropFirst()
        } else if program.hasPrefix("python"), rest.count >= 3, rest[rest.startIndex + 1] == "-m",
                  rest[rest.startIndex + 2] == "pytest" {
            rest = rest.dropFirst(3)
        } else {
            return nil
        }
        var out: [String] = []
        var index = rest.startIndex
        while index < rest.endIndex {
            let word = rest[index]
            index += 1
            if !word.hasPrefix("-") { out.append(word); continue }
            if dropped.contains(word) || droppedPrefixes.contains(where: { word.hasPrefix($0) && word.count > $0.count }) {
                continue
            }
            if droppedWithValue.contains(word) {
                guard index < rest.endIndex else { return nil }
                index += 1
                continue
            }
            if withValue.contains(word) {
                guard index < rest.endIndex else { return nil }
                out += [word, rest[index]]
                index += 1
                continue
            }
            if kept.contains(word) || keptPrefixes.contains(where: { word.hasPrefix($0) && word.count > $0.count }) {
                out.append(word)
                continue
            }
            return nil  // an option we do not know (a plugin's, --rootdir, -n …): the shell runs it as written
        }
        return out
    }

    /// Shell words with single and double quotes; nil when the command uses anything else of the shell
    /// (pipes, redirections, variables, substitutions, several commands, environment assignments).
    static func split(_ command: String) -> [String]? {
        var words: [String] = []
        var current = "", inWord = false
        var quote: Character?
        for c in command {
            if let q = quote {
                if c == q { quote = nil } else {
                    if q == "\"" && (c == "$" || c == "`" || c == "\\") { return nil }
                    current.append(c)
                }
                continue
            }
            switch c {
            case "'", "\"": quote = c; inWord = true
            case " ", "\t":
                if inWord { words.append(current); current = ""; inWord = false }
            case "|", "&", ";", "<", ">", "$", "`", "(", ")", "{", "}", "\\", "\n", "*", "?", "[", "~", "#":
                return nil
            default:
                current.append(c); inWord = true
            }
        }
        if quote != nil { return nil }
        if inWord { words.append(current) }
        if words.first?.contains("=") == true { return nil }
        return words
    }
}
