import Foundation

/// A parsed Jinja template. Covers what Hugging Face chat templates use, with Jinja2's semantics as transformers
/// configures it: trim_blocks and lstrip_blocks on, loop controls, the default Undefined, `tojson` without HTML
/// escaping, and the globals `raise_exception`, `strftime_now`, `namespace`, `range` and `dict`.
///
///     let template = try Template(source)
///     let text = try template.render(["messages": ..., "add_generation_prompt": .bool(true)])
public struct Template: Sendable {
    let nodes: [Node]

    /// Parses `source`; throws a `TemplateError` (with line and column) for templates it cannot parse.
    public init(_ source: String, options: LexOptions = LexOptions()) throws {
        let segments = try Lexer(source, options: options).segments()
        var parser = Parser(segments: segments)
        nodes = try parser.parse()
    }

    /// Renders with `context` as the template's variables. `now` and `timeZone` are what `strftime_now` formats.
    public func render(_ context: [String: Value], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        let interpreter = Interpreter(now: now, timeZone: timeZone)
        let globals = Scope(parent: nil)
        for (name, value) in Globals.all(now: now, timeZone: timeZone) { globals.vars[name] = value }
        for (name, value) in context { globals.vars[name] = value }
        let scope = Scope(parent: globals)
        var out = ""
        _ = try interpreter.execute(nodes, scope, &out)
        return out
    }
}

/// Chat messages into a prompt with a model's chat template, the way transformers' apply_chat_template calls it.
public struct ChatTemplateRenderer: Sendable {
    public let template: Template

    public init(source: String) throws { template = try Template(source) }

    /// One message: its role, its text, and any other fields (e.g. `reasoning_content`) as values.
    public struct Message: Sendable {
        public var role: String
        public var content: String
        public var extra: [(String, Value)]
        public init(role: String, content: String, extra: [(String, Value)] = []) {
            self.role = role
            self.content = content
            self.extra = extra
        }

        var value: Value {
            var d = Value.Dict()
            d["role"] = .string(role)
            d["content"] = .string(content)
            for (k, v) in extra { d[k] = v }
            return .dict(d)
        }
    }

    /// `messages`, `tools` (none), `documents` (none), `add_generation_prompt`, `bos_token`, `eos_token`, and any
    /// further variables.
    public func render(messages: [Message], addGenerationPrompt: Bool, bosToken: String?, eosToken: String?,
                       extra: [String: Value] = [:], now: Date = Date(), timeZone: TimeZone = .current) throws -> String {
        var context: [String: Value] = [
            "messages": .array(messages.map(\.value)),
            "tools": .none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        if let bosToken { context["bos_token"] = .string(bosToken) }
        if let eosToken { context["eos_token"] = .string(eosToken) }
        for (k, v) in extra { context[k] = v }
        return try template.render(context, now: now, timeZone: timeZone)
    }
}

enum Globals {
    static func all(now: Date, timeZone: TimeZone) -> [String: Value] {
        [
            "range": .callable(Value.Callable(name: "range") { args, _ in
                let ints = try args.map { v -> Int in
                    switch v {
                    case .int(let i): return i
                    case .bool(let b): return b ? 1 : 0
                    default: throw Methods.fail("range() arguments must be integers, not \(v.typeName)")
                    }
                }
                var start = 0, stop = 0, step = 1
                switch ints.count {
                case 1: stop = ints[0]
                case 2: start = ints[0]; stop = ints[1]
                case 3: start = ints[0]; stop = ints[1]; step = ints[2]
                default: throw Methods.fail("range expected 1 to 3 arguments, got \(ints.count)")
                }
                guard step != 0 else { throw Methods.fail("range() arg 3 must not be zero") }
                guard (stop - start) / step < 100_000 else { throw Methods.fail("range too big, maximum 100000 items") }
                return .array(stride(from: start, to: stop, by: step).map { .int($0) })
            }),
            "namespace": .callable(Value.Callable(name: "namespace") { args, kwargs in
                var d = Value.Dict()
                if case .dict(let initial)? = args.first { d = initial }
                for (k, v) in kwargs { d[k] = v }
                return .namespace(Value.Namespace(d))
            }),
            "dict": .callable(Value.Callable(name: "dict") { args, kwargs in
                var d = Value.Dict()
                if case .dict(let initial)? = args.first { d = initial }
                for (k, v) in kwargs { d[k] = v }
                return .dict(d)
            }),
            "raise_exception": .callable(Value.Callable(name: "raise_exception") { args, _ in
                throw TemplateError(kind: .raised, message: args.first?.pythonString ?? "", position: nil)
            }),
            "strftime_now": .callable(Value.Callable(name: "strftime_now") { args, _ in
                guard case .string(let format)? = args.first else { throw Methods.fail("strftime_now() needs a format string") }
                return .string(strftime(format, now, timeZone))
            }),
        ]
    }

    /// C strftime's common conversions (and glibc's `%-d` style without padding).
    static func strftime(_ format: String, _ date: Date, _ timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                      "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let year = c.year!, month = c.month!, day = c.day!, hour = c.hour!, minute = c.minute!, second = c.second!
        let weekday = c.weekday! - 1
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        var out = ""
        var chars = Array(format)[...]
        while let ch = chars.popFirst() {
            guard ch == "%", var spec = chars.popFirst() else { out.append(ch); continue }
            var pad = true
            if spec == "-", let next = chars.popFirst() { pad = false; spec = next }
            func num(_ v: Int, _ width: Int) -> String {
                let s = String(v)
                return pad ? String(repeating: "0", count: max(0, width - s.count)) + s : s
            }
            switch spec {
            case "Y": out += String(year)
            case "y": out += num(year % 100, 2)
            case "m": out += num(month, 2)
            case "d": out += num(day, 2)
            case "e": out += pad ? (day < 10 ? " " : "") + String(day) : String(day)
            case "H": out += num(hour, 2)
            case "I": out += num(hour % 12 == 0 ? 12 : hour % 12, 2)
            case "M": out += num(minute, 2)
            case "S": out += num(second, 2)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "B": out += months[month - 1]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "A": out += days[weekday]
            case "a": out += String(days[weekday].prefix(3))
            case "j": out += num(dayOfYear, 3)
            case "F": out += "\(year)-\(num(month, 2))-\(num(day, 2))"
            case "%": out += "%"
            default: out += "%" + String(spec)
            }
        }
        return out
    }
}
