import Foundation

/// A line of the target file and how likely it holds the fault.
public struct SuspiciousLine: Sendable, Codable, Hashable {
    public var line: Int
    public var score: Double
    /// What the score is made of: `ochiai`, `traceback`, or both.
    public var evidence: [String]
}

/// Spectrum-based fault localisation: the Ochiai coefficient of each line from the tests' coverage
/// (`ef / sqrt(nf * (ef + ep))`, with ef/ep the failing/passing tests that ran the line and nf all failing tests),
/// raised for lines in a failing test's traceback (the innermost frame most).
public enum FaultLocalizer {
    /// Lines ranked by suspiciousness, highest first; lines no failing test ran are left out.
    public static func rank(baseline: TestRun, tracebackLines: [Int] = []) -> [SuspiciousLine] {
        var scores: [Int: (score: Double, evidence: [String])] = [:]
        let failing = Set(baseline.failed)
        let coverage = baseline.coverage ?? [:]
        let nf = Double(failing.count)
        var ef: [Int: Double] = [:], ep: [Int: Double] = [:]
        for (test, lines) in coverage {
            for line in Set(lines) {
                if failing.contains(test) { ef[line, default: 0] += 1 } else if baseline.outcomes[test] == "passed" {
                    ep[line, default: 0] += 1
                }
            }
        }
        for (line, failed) in ef where nf > 0 {
            let score = failed / (nf * (failed + ep[line, default: 0])).squareRoot()
            scores[line] = (score, ["ochiai"])
        }
        // Traceback frames: the innermost line is where the exception surfaced; outer ones are calls on the way.
        var frameLines: [[Int]] = Array((baseline.frames ?? [:]).values)
        if !tracebackLines.isEmpty { frameLines.append(tracebackLines) }
        for frames in frameLines {
            for (depth, line) in frames.reversed().enumerated() {
                let bonus = depth == 0 ? 0.5 : 0.2
                let old = scores[line] ?? (0, [])
                scores[line] = (old.score + bonus, old.evidence.contains("traceback") ? old.evidence : old.evidence + ["traceback"])
            }
        }
        return scores.map { SuspiciousLine(line: $0.key, score: $0.value.score, evidence: $0.value.evidence) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.line < $1.line }
    }

    /// The lines of `file` named in a Python traceback (`File "…/calc.py", line 12, in f`), outermost first.
    /// Frames match by file name when the traceback's paths are from another machine or folder.
    public static func tracebackLines(_ traceback: String, file: String) -> [Int] {
        let name = URL(fileURLWithPath: file).lastPathComponent
        var lines: [Int] = []
        for row in traceback.split(separator: "\n") {
            let text = row.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("File \""), let close = text.dropFirst(6).firstIndex(of: "\"") else { continue }
            let path = String(text[text.index(text.startIndex, offsetBy: 6)..<close])
            guard URL(fileURLWithPath: path).lastPathComponent == name,
                  let range = text.range(of: ", line ") else { continue }
            if let number = Int(text[range.upperBound...].prefix { $0.isNumber }) { lines.append(number) }
        }
        return lines
    }
}
