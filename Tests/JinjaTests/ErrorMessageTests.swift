import Foundation
import Testing
@testable import Jinja

/// Templates the interpreter cannot parse or run fail with a message that says what and where (line, column).
struct ErrorMessageTests {
    func failure(_ source: String, _ context: [String: Value] = [:]) -> TemplateError? {
        do {
            _ = try Template(source).render(context)
            return nil
        } catch let error as TemplateError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func unclosedBlockNamesTheTagAndWhereItOpened() throws {
        let error = try #require(failure("intro\n  {% if x %}\nbody"))
        #expect(error.kind == .syntax)
        #expect(error.position == SourcePosition(line: 2, column: 3))
        #expect(error.message.contains("'endif'"))
        #expect(error.description.hasPrefix("template syntax error at line 2, column 3:"))
    }

    @Test func missingExpressionPointsAtTheToken() throws {
        let error = try #require(failure("{{ 1 + }}"))
        #expect(error.kind == .syntax)
        #expect(error.position == SourcePosition(line: 1, column: 8))
        #expect(error.message == "expected an expression, got end of tag")
    }

    @Test func unknownTagAndStrayEndTag() throws {
        let unknown = try #require(failure("a\n{% frobnicate %}"))
        #expect(unknown.message == "unknown tag 'frobnicate'")
        #expect(unknown.position?.line == 2)
        let stray = try #require(failure("{% endfor %}"))
        #expect(stray.message == "unexpected 'endfor'")
    }

    @Test func unterminatedStringCommentAndTag() throws {
        #expect(try #require(failure("{{ 'abc }}")).message.contains("string"))
        #expect(try #require(failure("x {# never closed")).message.contains("comment"))
        let tag = try #require(failure("ok\n{{ 1 + 2"))
        #expect(tag.message.contains("'}}'"))
        #expect(tag.position == SourcePosition(line: 2, column: 1))
    }

    @Test func undefinedAttributeIsARuntimeErrorWithPosition() throws {
        let error = try #require(failure("line one\n  {{ missing.attr }}"))
        #expect(error.kind == .runtime)
        #expect(error.message == "'missing' is undefined")
        #expect(error.position?.line == 2)
    }

    @Test func typeErrorsReadLikePython() throws {
        let error = try #require(failure("{{ 'a' + 1 }}"))
        #expect(error.message == "can only concatenate str (not \"int\") to str")
        #expect(try #require(failure("{{ 1 | nope }}")).message == "no filter named 'nope'")
        #expect(try #require(failure("{{ 1 is nope }}")).message == "no test named 'nope'")
        #expect(try #require(failure("{% set x = 1 %}{% set x.y = 2 %}")).message.contains("non-namespace"))
        #expect(try #require(failure("{{ none.x.y }}")).kind == .runtime)
    }

    @Test func raiseExceptionCarriesTheTemplatesMessage() throws {
        let error = try #require(failure("{{ raise_exception('roles must alternate') }}"))
        #expect(error.kind == .raised)
        #expect(error.message == "roles must alternate")
        #expect(error.description == "template raised at line 1, column 19: roles must alternate")
    }

    @Test func undefinedIsEmptyAndFalsyButDefinedTestsWork() throws {
        let text = try Template("[{{ x }}]{% if not x %}falsy{% endif %}{{ x is defined }}{{ y is defined }}")
            .render(["y": .none])
        #expect(text == "[]falsyFalseTrue")
    }

    @Test func rendererPassesSpecialTokensAndGenerationPrompt() throws {
        let source = "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}{% endfor %}"
            + "{% if add_generation_prompt %}assistant:{% endif %}"
        let renderer = try ChatTemplateRenderer(source: source)
        let messages = [ChatTemplateRenderer.Message(role: "user", content: "hi")]
        #expect(try renderer.render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
                == "<s>user:hi</s>assistant:")
        #expect(try renderer.render(messages: messages, addGenerationPrompt: false, bosToken: nil, eosToken: nil)
                == "user:hi")
    }

    @Test func jsonParserKeepsKeyOrderAndNumberKinds() throws {
        let value = try Value.parseJSON(#"{"b": 1, "a": [1.5, true, null, "\u00e9\ud83d\ude80"]}"#)
        #expect(try Template("{{ v | tojson }}").render(["v": value]) == #"{"b": 1, "a": [1.5, true, null, "é🚀"]}"#)
        #expect(throws: TemplateError.self) { try Value.parseJSON("{\"a\": }") }
    }
}

/// Templates come from model files: an endless recursion or absurd nesting must be an error, never a crash.
struct RunawayTemplateTests {
    @Test func endlessMacroRecursionIsAnError() throws {
        let source = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
        do {
            _ = try Template(source).render([:])
            Issue.record("an endless recursion rendered")
        } catch let error as TemplateError {
            #expect(error.kind == .runtime)
            #expect(error.message.contains("nested more than"))
        }
        // Real templates recurse a few levels (gpt-oss's render_typescript_type): that still works.
        let bounded = "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(20) }}"
        #expect(try Template(bounded).render([:]).hasPrefix("2019"))
    }

    @Test func absurdNestingIsASyntaxError() throws {
        let parens = "{{ " + String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500) + " }}"
        #expect(throws: TemplateError.self) { try Template(parens) }
        let blocks = String(repeating: "{% if true %}", count: 500) + "x" + String(repeating: "{% endif %}", count: 500)
        #expect(throws: TemplateError.self) { try Template(blocks) }
        let minus = "{{ " + String(repeating: "-", count: 500) + "1 }}"
        #expect(throws: TemplateError.self) { try Template(minus) }
        #expect(try Template("{{ ((((1)))) + [[[2]]][0][0][0] }}").render([:]) == "3")
    }
}
