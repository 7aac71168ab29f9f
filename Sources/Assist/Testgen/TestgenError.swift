/// Why test generation could not start; every message says what to do.
public enum TestgenError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case notPython(String)
    case syntax([String])
    case importFailed(String)
    case noFunctions(String)
    case pythonUnavailable(String, String)
    case missingRuntime(String, [String])
    case cancelled

    public var description: String {
        switch self {
        case .unreadable(let path): return "cannot read '\(path)'"
        case .notPython(let path): return "'\(path)' is not a Python module (give a .py file whose name is an identifier)"
        case .syntax(let errors):
            return "the module does not parse; fix these syntax errors first:\n" + errors.map { "  \($0)" }.joined(separator: "\n")
        case .importFailed(let message):
            return "the module cannot be imported: \(message)"
        case .noFunctions(let path):
            return "'\(path)' defines no public functions, methods or classes to test"
        case .pythonUnavailable(let python, let detail):
            return "cannot start Python ('\(python)'): \(detail); install python3 or set MOECODER_PYTHON"
        case .missingRuntime(let file, let roots):
            return "cannot find \(file) (searched \(roots.joined(separator: ", "))); set MOECODER_HOME to the moecoder folder"
        case .cancelled:
            return "test generation was cancelled"
        }
    }
}
