import ArgumentParser
import Engine

/// `--lines` of `eval` and `finetune`: a number of next-line probes per file, or `all`.
enum ProbeCount: ExpressibleByArgument, Equatable, CustomStringConvertible {
    case count(Int)
    case all

    init?(argument: String) {
        if argument == "all" { self = .all; return }
        guard let n = Int(argument), n >= 0 else { return nil }
        self = .count(n)
    }

    /// `EvaluationOptions.linesPerFile`.
    var perFile: Int {
        switch self {
        case .count(let n): return n
        case .all: return Int.max
        }
    }

    var description: String {
        switch self {
        case .count(let n): return String(n)
        case .all: return "all"
        }
    }

    static var defaultCompletionKind: CompletionKind { .list(["all"]) }
}

extension ProbeRule: ExpressibleByArgument {}
