import Foundation
import Testing
@testable import Syntax

/// `PythonValidity.checkedTypes` lets node types without a case in `Walker.checkNode`'s switch skip it. A label
/// added to the switch and not to the set would never be checked: this reads the switch's labels from the
/// source file and compares.
@Suite struct PythonValidityWalkerTests {
    @Test func checkedTypesMatchTheSwitch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("Sources/Syntax/PythonValidity.swift"),
                                encoding: .utf8)
        let start = try #require(source.range(of: "mutating func checkNode("))
        let end = try #require(source.range(of: "mutating func tokenOrLeaf(", range: start.upperBound..<source.endIndex))
        var labels = Set<String>()
        for line in source[start.upperBound..<end.lowerBound].split(separator: "\n") {
            // The switch's own cases, at its indentation (nested switches are indented further).
            guard line.hasPrefix("            case \"") else { continue }
            let head = line.split(separator: ":", maxSplits: 1)[0]
            var rest = Substring(head)
            while let open = rest.firstIndex(of: "\"") {
                let after = rest[rest.index(after: open)...]
                guard let close = after.firstIndex(of: "\"") else { break }
                labels.insert(String(after[..<close]))
                rest = after[after.index(after: close)...]
            }
        }
        #expect(labels.count > 30, "read \(labels.count) labels: the switch's layout changed")
        let missing = labels.subtracting(PythonValidity.checkedTypes).sorted()
        let extra = PythonValidity.checkedTypes.subtracting(labels).sorted()
        #expect(labels == PythonValidity.checkedTypes, "missing from checkedTypes: \(missing); not in the switch: \(extra)")
    }
}
