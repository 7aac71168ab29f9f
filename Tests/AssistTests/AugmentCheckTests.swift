import XCTest
@testable import Assist

/// The checks every transform result goes through: a result that tree-sitter or CPython rejects is dropped, the
/// transforms after it still run, and the random streams are reproducible.
final class AugmentCheckTests: XCTestCase {
    /// Appends text that tree-sitter accepts but CPython rejects (`return` outside a function) or that neither accepts.
    struct Appending: PythonTransform {
        let name: String
        let summary = "test only"
        let text: String
        func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
            var plan = TransformPlan()
            plan.add(SourceEdit(file.bytes.count..<file.bytes.count, text), note: "appended")
            return plan
        }
    }

    func testResultsThatDoNotCompileOrParseAreDropped() throws {
        guard let checker = CompileChecker() else { throw XCTSkip("python3 is not available") }
        defer { checker.close() }
        let augmenter = try Augmenter(checker: checker)
        let source = "import os\nimport sys\nprint(os.sep, sys.byteorder)\n"
        let options = AugmentOptions(
            transforms: [Appending(name: "bad-compile", text: "return 1\n"), Appending(name: "bad-parse", text: "def (:\n"),
                         ReorderImports()],
            randomSubset: false, rate: 1)
        let result = try augmenter.augment(Array(source.utf8), key: "x.py", copy: 1, options: options)
        XCTAssertEqual(result.text, "import sys\nimport os\nprint(os.sep, sys.byteorder)\n")
        XCTAssertEqual(result.applied.map(\.transform), ["reorder-imports"])
        XCTAssertTrue(result.compileChecked)
        let reasons = Dictionary(uniqueKeysWithValues: result.skipped.map { ($0.transform, $0.reason) })
        XCTAssertTrue(reasons["bad-compile"]?.contains("did not compile (SyntaxError: 'return' outside function") == true,
                      "\(reasons)")
        XCTAssertTrue(reasons["bad-parse"]?.contains("syntax errors (tree-sitter") == true, "\(reasons)")
        // Without the compile check only tree-sitter guards, and the non-compiling result gets through.
        let unchecked = try Augmenter(checker: nil).augment(Array(source.utf8), key: "x.py", copy: 1, options: options)
        XCTAssertTrue(unchecked.text.hasSuffix("return 1\n"))
        XCTAssertFalse(unchecked.compileChecked)
    }

    func testInvalidInputIsRefused() throws {
        let augmenter = try Augmenter(checker: CompileChecker())
        XCTAssertThrowsError(try augmenter.augment(Array("def f(:\n".utf8), key: "a.py", copy: 1, options: AugmentOptions())) {
            XCTAssertEqual($0 as? AugmentError, .syntaxErrors(line: 1))
        }
        XCTAssertThrowsError(try augmenter.augment([0x66, 0xFF, 0x0A], key: "a.py", copy: 1, options: AugmentOptions())) {
            XCTAssertEqual($0 as? AugmentError, .notUTF8)
        }
    }

    func testSeedsAreReproducibleAndIndependentOfOrder() throws {
        var a = AugmentRandom(seed: 5, key: "pkg/m.py", copy: 2), b = AugmentRandom(seed: 5, key: "pkg/m.py", copy: 2)
        let first = (0..<8).map { _ in a.next() }
        XCTAssertEqual(first, (0..<8).map { _ in b.next() })
        var c = AugmentRandom(seed: 5, key: "pkg/m.py", copy: 3), d = AugmentRandom(seed: 6, key: "pkg/m.py", copy: 2)
        XCTAssertNotEqual(first, (0..<8).map { _ in c.next() })
        XCTAssertNotEqual(first, (0..<8).map { _ in d.next() })
        // Golden values: the stream must not change between platforms or Swift versions.
        var golden = AugmentRandom(seed: 0)
        XCTAssertEqual(golden.next(), 0x6E78_9E6A_A1B9_65F4)
    }
}
