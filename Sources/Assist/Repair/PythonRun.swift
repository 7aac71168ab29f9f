import Engine
import Foundation
import Syntax
#if canImport(Glibc)
import Glibc
#endif

/// One run of a helper script from runtime/python: a JSON document on standard input, the answer on standard
/// output, progress lines from standard error passed on as they come.
struct PythonRun {
    var sandbox: SandboxWorker.Configuration
    /// Runs under `unshare -rn` (no network) when the configuration asks for it and the OS allows it.
    var isolateNetwork = false
    /// Set from another thread to kill the run (a cancelled request).
    var cancellation: CancellationFlag? = nil

    /// Runs `runtime/python/<script>` with `arguments`; kills it (and its process group) after `timeout`.
    func run(script: String, arguments: [String], input: Data, timeout: Double,
             progress: (@Sendable (String) -> Void)? = nil) throws -> (status: Int32, output: Data) {
        guard let path = Resources.locate("runtime/python/\(script)") else {
            throw RepairError.missingRuntime("runtime/python/\(script)", Resources.searchRoots)
        }
        let process = Process()
        if isolateNetwork && sandbox.isolateNetwork && SandboxWorker.canUnshareNetwork {
            process.executableURL = URL(fileURLWithPath: SandboxWorker.unsharePath!)
            process.arguments = ["-rn", sandbox.python, "-I", path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [sandbox.python, "-I", path] + arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PYTEST_ADDOPTS"] = nil
        process.environment = environment
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        signal(SIGPIPE, SIG_IGN)
        do { try process.run() } catch {
            throw RepairError.pythonUnavailable(sandbox.python, "\(error)")
        }
        let group = DispatchGroup()
        final class Box: @unchecked Sendable { var data = Data() }  // each written by one thread, read after wait
        let output = Box()
        group.enter()
        DispatchQueue.global().async {
            output.data = stdout.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            var pending = Data()
            while true {
                let chunk = stderr.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending += chunk
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    progress?(line)
                }
            }
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
            group.leave()
        }
        let timer = DispatchWorkItem { Self.terminate(process) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        var watch: DispatchSourceTimer?
        if let cancellation {
            let source = DispatchSource.makeTimerSource(queue: .global())
            source.schedule(deadline: .now() + 0.1, repeating: 0.1)
            source.setEventHandler {
                if cancellation.isCancelled { Self.terminate(process) }
            }
            source.resume()
            watch = source
        }
        group.wait()
        process.waitUntilExit()
        timer.cancel()
        watch?.cancel()
        if cancellation?.isCancelled == true { throw RepairError.cancelled }
        return (process.terminationStatus, output.data)
    }

    /// SIGTERM first, so the worker kills its test runs' process groups and removes its copies; SIGKILL a
    /// second later for whatever did not stop (the worker's children die with it: PR_SET_PDEATHSIG).
    static func terminate(_ process: Process) {
        let pid = process.processIdentifier
        guard process.isRunning else { return }
        kill(-pid, SIGTERM)
        kill(pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            guard process.isRunning else { return }  // never signal a reused pid
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
    }
}

/// Why a repair could not run; every message says what to do.
public enum RepairError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case notPython(String)
    case noTests(String)
    case projectTooLarge(String, Int)
    case pythonUnavailable(String, String)
    case missingRuntime(String, [String])
    case workerFailed(String)
    case badPatchNumber(Int, Int)
    case fileChanged(String)
    case cancelled

    public var description: String {
        switch self {
        case .unreadable(let path): return "cannot read '\(path)'"
        case .notPython(let path): return "'\(path)' is not a Python file; repair handles Python (.py) for now"
        case .noTests(let path): return "cannot read the tests '\(path)'"
        case .projectTooLarge(let root, let files):
            return "the project folder '\(root)' is too large to copy for validation (\(files)+ files); "
                + "point --test at tests closer to the file"
        case .pythonUnavailable(let python, let detail):
            return "cannot start Python ('\(python)'): \(detail); install python3 or set MOECODER_PYTHON"
        case .missingRuntime(let file, let roots):
            return "cannot find \(file) (searched \(roots.joined(separator: ", "))); set MOECODER_HOME to the moecoder folder"
        case .workerFailed(let why): return "running the tests failed: \(why)"
        case .cancelled: return "the repair was cancelled"
        case .fileChanged(let path): return "'\(path)' changed while the repair ran; --apply refuses to overwrite it (run repair again)"
        case .badPatchNumber(let n, let count):
            return count == 0 ? "--apply \(n): there is no patch to apply"
                : "--apply \(n): choose a patch between 1 and \(count)"
        }
    }
}
