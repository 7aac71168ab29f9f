import Syntax
import Testing
@testable import Assist

/// `CodeScanner` tells a byte of code that starts no comment marker and no quote by a table of first bytes
/// (`starters`) instead of trying each marker and quote. A first byte missing from the table would read a
/// comment or string as code: every marker and quote of every language must still open its comment or string,
/// and every other byte must read as the code it was before.
@Suite struct CodeScannerTests {
    @Test func everyMarkerAndQuoteStillOpens() {
        var opened = 0
        for language in Language.all {
            let syntax = LexicalSyntax.of(language)
            var samples: [([UInt8], CodeScanner.Mode)] = syntax.lineComments.map { ($0 + Array("a\n".utf8), .lineComment) }
            if let block = syntax.blockComment { samples.append((block.open + Array("a".utf8) + block.close, .blockComment)) }
            for (index, quote) in syntax.quotes.enumerated() {
                samples.append((quote.open + Array("a".utf8) + quote.close, .string(index)))
            }
            for (text, mode) in samples {
                var scanner = CodeScanner(syntax: syntax)
                let step = scanner.step(text, at: 0, final: true)
                #expect(step != nil && step!.lexeme != .code(text[0]), "\(language.name): \(String(decoding: text, as: UTF8.self))")
                // The longest opener wins (`"""` over `"`), so the mode may be another quote's; it is a literal.
                #expect(scanner.mode != .code, "\(language.name): \(String(decoding: text, as: UTF8.self)) read as code")
                if scanner.mode == mode { opened += 1 }
            }
        }
        #expect(opened > 20)
    }

    @Test func otherBytesAreCode() {
        for language in Language.all {
            let syntax = LexicalSyntax.of(language)
            let openers = syntax.lineComments + (syntax.blockComment.map { [$0.open] } ?? []) + syntax.quotes.map(\.open)
            let firsts = Set(openers.compactMap(\.first))
            for b in UInt8(0)...UInt8(255) where !firsts.contains(b) && !Array(" \t\r\n\u{0C}()[]{}".utf8).contains(b) {
                var scanner = CodeScanner(syntax: syntax)
                let step = scanner.step([b, b, b], at: 0, final: true)
                #expect(step?.length == 1 && step?.lexeme == .code(b), "\(language.name): byte \(b)")
                #expect(scanner.mode == .code && scanner.lastCode.1 == b)
            }
        }
    }
}
