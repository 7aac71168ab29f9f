import Foundation
import Testing
@testable import Jinja

/// One language feature per template, each compared byte for byte with Jinja2 3.1.6 (features.json, made by
/// tools/make_chat_fixtures.py). Where Jinja2 raises, rendering here must throw as well.
struct FeatureGoldenTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var template: String
        var variables: [String: Value]
        var expected: String?
        var error: String?
        var testDescription: String { name }
    }

    static let now = Date(timeIntervalSince1970: 1768469400)

    static let cases: [Case] = {
        let url = ChatTemplateGoldenTests.fixtures.appendingPathComponent("features.json")
        guard let data = try? Data(contentsOf: url),
              case .dict(let root)? = try? Value.parseJSON(String(decoding: data, as: UTF8.self)),
              case .array(let items)? = root["cases"] else { return [] }
        return items.compactMap { item in
            guard case .dict(let d) = item, case .string(let name)? = d["name"], case .string(let template)? = d["template"],
                  case .dict(let variables)? = d["variables"] else { return nil }
            var expected: String?, error: String?
            if case .string(let e)? = d["expected"] { expected = e }
            if case .string(let e)? = d["error"] { error = e }
            return Case(name: name, template: template,
                        variables: Dictionary(uniqueKeysWithValues: variables.pairs), expected: expected, error: error)
        }
    }()

    @Test func fixtureIsThere() {
        #expect(Self.cases.count >= 50)
    }

    @Test(arguments: cases)
    func matchesJinja2(_ c: Case) throws {
        let utc = TimeZone(identifier: "UTC")!
        if let expected = c.expected {
            let output = try Template(c.template).render(c.variables, now: Self.now, timeZone: utc)
            expectSameBytes(output, expected, c.name)
        } else {
            #expect(throws: TemplateError.self, "Jinja2 raised \(c.error ?? "")") {
                try Template(c.template).render(c.variables, now: Self.now, timeZone: utc)
            }
        }
    }
}

/// Byte-for-byte comparison (String's == would accept canonically equivalent Unicode), reporting the first difference.
func expectSameBytes(_ output: String, _ expected: String, _ label: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    let a = Array(output.utf8), b = Array(expected.utf8)
    guard a != b else { return }
    let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
    Issue.record("""
        \(label): output differs from Jinja2 at byte \(first) (lengths \(a.count) vs \(b.count))
        got:      \(String(decoding: a[max(0, first - 40)..<min(a.count, first + 60)], as: UTF8.self).debugDescription)
        expected: \(String(decoding: b[max(0, first - 40)..<min(b.count, first + 60)], as: UTF8.self).debugDescription)
        """, sourceLocation: sourceLocation)
}
