import Foundation
import Syntax

/// Renames local variables of functions consistently, scope-aware: never a global/nonlocal, never a name that a
/// nested scope binds or declares, never in a function that reads its variables by name (locals(), eval, …).
public struct RenameLocals: PythonTransform {
    public let name = "rename-locals"
    public let summary = "rename local variables of functions consistently (scope-aware; skips globals, nonlocals, shadowed names, locals()/eval users)"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        for function in file.functions {
            let scope = file.scope(of: function)
            let params = Set(scope.parameters.map(\.text))
            for name in scope.bound.keys.sorted() where !params.contains(name) {
                if let reason = scope.renamable(name) { plan.skip(reason); continue }
                guard context.rng.chance(context.rate) else { continue }
                let newName = context.freshName(for: name, kind: "local")
                for ref in scope.references[name] ?? [] { plan.add(SourceEdit(ref.byteRange, newName)) }
                plan.notes.append("\(name) -> \(newName)")
            }
        }
        return plan
    }
}

/// Renames parameters of private (`_name`) or nested functions whose every use in the file is a direct call (no
/// `**kwargs` at the calls), and the matching keyword arguments at those calls. Public functions and methods are
/// left alone: callers in other files may pass their parameters by keyword.
public struct RenameParameters: PythonTransform {
    public let name = "rename-params"
    public let summary = "rename parameters of private or nested functions and the keyword arguments of their calls (all in the file)"
    public init() {}

    public func plan(_ file: PyFile, _ context: inout TransformContext) -> TransformPlan {
        var plan = TransformPlan()
        // Every occurrence of every identifier, to check that a function's name is only ever called.
        var occurrences: [String: [Node]] = [:]
        file.tree.root.walk { n in
            if n.type == "identifier" { occurrences[n.text, default: []].append(n) }
            return true
        }
        for function in file.functions {
            guard let fname = function.child(byField: "name")?.text,
                  let params = function.child(byField: "parameters") else { continue }
            let scope = file.scope(of: function)
            if scope.isMethod { plan.skip("method (callers not resolvable)"); continue }
            if function.parent?.type == "decorated_definition" { plan.skip("decorated function"); continue }
            // Other modules may call a public module-level function by keyword: only private (`_name`) and
            // nested functions, whose callers are all in this file, are renamed.
            let nested = functionContext(of: function).function != nil
            if !nested && (!fname.hasPrefix("_") || fname.hasPrefix("__")) {
                plan.skip("public function (callers in other files)"); continue
            }
            if params.children.contains(where: { $0.type == "positional_separator" }) {
                plan.skip("positional-only parameters"); continue
            }
            // The function's name: one definition, otherwise only `fname(...)` calls without `**`.
            var calls: [Node] = []
            var ok = true
            for id in occurrences[fname] ?? [] {
                if id == function.child(byField: "name") { continue }
                if let call = id.parent, call.type == "call", call.child(byField: "function") == id,
                   let args = call.child(byField: "arguments"), args.type == "argument_list",
                   !args.namedChildren.contains(where: { $0.type == "dictionary_splat" }) {
                    calls.append(call)
                } else { ok = false; break }
            }
            guard ok else { plan.skip("function name used other than in plain calls"); continue }
            for param in scope.parameters {
                let p = param.text
                if p == "self" || p == "cls" { continue }
                if let reason = scope.renamable(p) { plan.skip(reason); continue }
                guard context.rng.chance(context.rate) else { continue }
                let newName = context.freshName(for: p, kind: "param")
                for ref in scope.references[p] ?? [] { plan.add(SourceEdit(ref.byteRange, newName)) }
                var sites = 0
                for call in calls {
                    for arg in call.child(byField: "arguments")?.namedChildren ?? [] where arg.type == "keyword_argument" {
                        if let key = arg.child(byField: "name"), key.text == p {
                            plan.add(SourceEdit(key.byteRange, newName))
                            sites += 1
                        }
                    }
                }
                plan.notes.append("\(fname)(\(p) -> \(newName))" + (sites > 0 ? " at \(sites) call(s)" : ""))
            }
        }
        return plan
    }
}
