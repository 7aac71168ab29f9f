@testable import Assist
import Testing

/// Names and assertions of the written tests.
@Suite struct TestgenWriterTests {
    let writer = TestWriter(moduleName: "parser", moduleFolder: "..", seed: 0)

    func result(_ outcome: StepOutcome) -> CaseResult { CaseResult(steps: [outcome], state: [:], arcs: []) }

    @Test func namesSayCallArgumentAndOutcome() {
        let raised = RaisedError(type: "ValueError", expressible: "ValueError", message: "empty", line: 3, explicit: true)
        let testCase = TestCase(target: "parse_line", steps: [TestStep("parser.parse_line('')")], origin: "sweep")
        #expect(writer.testName(testCase, result(StepOutcome(raised: raised))) == "test_parse_line_empty_string_raises_value_error")
        let none = TestCase(target: "Account.withdraw", steps: [TestStep("parser.Account()", bind: "account"),
                                                               TestStep("account.deposit(5)"),
                                                               TestStep("account.withdraw(None)")], origin: "x")
        #expect(writer.testName(none, result(StepOutcome(value: Observation(kind: "none")))).hasPrefix(
            "test_account_withdraw_after_deposit_none"))
    }

    @Test func exceptionsBecomePytestRaisesAndValuesAssertions() {
        let raised = RaisedError(type: "InsufficientFunds", expressible: "parser.InsufficientFunds",
                                 message: "cannot withdraw 5.0", line: 9, explicit: true)
        let cases = [
            (TestCase(target: "f", steps: [TestStep("parser.f(1)")], origin: "x"),
             result(StepOutcome(raised: raised))),
            (TestCase(target: "g", steps: [TestStep("parser.g(2.5)")], origin: "x"),
             result(StepOutcome(value: Observation(kind: "float", repr: "6.25")))),
        ]
        let text = writer.write(cases).text
        #expect(text.contains("    with pytest.raises(parser.InsufficientFunds, match='cannot withdraw 5\\\\.0'):\n        parser.f(1)"))
        #expect(text.contains("    assert parser.g(2.5) == pytest.approx(6.25)"))
        #expect(text.contains("import parser  # noqa: E402"))
    }

    /// Attributes set with `setattr` under names that are no identifiers (or are keywords) are read with
    /// `getattr`: `values.HELP 1` would have made the whole file a syntax error.
    @Test func attributesThatAreNoIdentifiersAreReadWithGetattr() {
        let instance = Observation(kind: "instance", type: "parser.Values",
                                   attrs: ["HELP 1": Observation(kind: "eq", repr: "['']"),
                                           "class": Observation(kind: "eq", repr: "1"),
                                           "name": Observation(kind: "eq", repr: "2")])
        let testCase = TestCase(target: "make", steps: [TestStep("parser.make()")], origin: "x")
        let text = writer.write([(testCase, result(StepOutcome(value: instance)))]).text
        #expect(text.contains("assert getattr(result, 'HELP 1') == ['']"), "\(text)")
        #expect(text.contains("assert getattr(result, 'class') == 1"), "\(text)")
        #expect(text.contains("assert result.name == 2"), "\(text)")
    }

    @Test func earlierCallsInASequenceAreAssertedAndBinaryStreamsChecked() {
        let instance = Observation(kind: "instance", type: "parser.Lexer", attrs: [:])
        let testCase = TestCase(target: "Lexer.next", steps: [TestStep("io.BytesIO(b'ab')", bind: "stream"),
                                                              TestStep("parser.Lexer(stream)", bind: "lexer"),
                                                              TestStep("lexer.next()"), TestStep("lexer.next()")],
                                watch: ["lexer", "stream"], origin: "x")
        let observed = CaseResult(steps: [StepOutcome(value: Observation(kind: "stream", repr: "b'ab'")),
                                          StepOutcome(value: instance),
                                          StepOutcome(value: Observation(kind: "eq", repr: "'a'")),
                                          StepOutcome(value: Observation(kind: "eq", repr: "'b'"))],
                                  state: ["lexer": instance, "stream": Observation(kind: "stream", repr: "b''")], arcs: [])
        let text = writer.write([(testCase, observed)]).text
        #expect(text.contains("    assert lexer.next() == 'a'\n    assert lexer.next() == 'b'"))
        #expect(text.contains("    assert stream.getvalue() == b''"))
        #expect(text.contains("import io"))
    }
}
