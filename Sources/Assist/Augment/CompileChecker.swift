import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks that Python source compiles, with `compile()` in one long-lived python3 process (one round trip per
/// check, no interpreter start-up per file).
public final class CompileChecker {
    private let process: Process
    private let input: FileHandle
    private let output: FileHandle
    private var buffer = Data()
    public let python: String

    static let script = """
        import sys
        src_in, out = sys.stdin.buffer, sys.stdout
        while True:
            header = src_in.readline()
            if not header:
                break
            source = src_in.read(int(header))
            try:
                compile(source, "<augment>", "exec", dont_inherit=True)
                out.write("ok\\n")
            except BaseException as error:
                out.write("error " + (type(error).__name__ + ": " + str(error)).replace("\\n", " ")[:300] + "\\n")
            out.flush()
        """

    /// Starts the checker; nil when Python cannot be started (the caller then skips the compile check).
    public init?(python: String = ProcessInfo.processInfo.environment["MOECODER_PYTHON"] ?? "python3") {
        self.python = python
        signal(SIGPIPE, SIG_IGN)  // a dead interpreter must give a write error, not kill us
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-I", "-c", Self.script]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let inPipe = Pipe(), outPipe = Pipe()
        process.standardInput = inPipe
        process.standardOutput = outPipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        self.process = process
        self.input = inPipe.fileHandleForWriting
        self.output = outPipe.fileHandleForReading
        // A first check tells whether the interpreter really runs.
        guard (try? check(Array("pass\n".utf8))) == .some(nil) else {
            close()
            return nil
        }
    }

    deinit { close() }

    public func close() {
        if process.isRunning {
            try? input.close()
            process.waitUntilExit()
        }
    }

    /// nil when `source` compiles; otherwise Python's message.
    public func check(_ source: [UInt8]) throws -> String? {
        guard process.isRunning else { throw CocoaError(.fileWriteUnknown) }
        try input.write(contentsOf: Data("\(source.count)\n".utf8) + Data(source))
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line == "ok" ? nil : String(line.dropFirst("error ".count))
            }
            let chunk = output.availableData
            if chunk.isEmpty { throw CocoaError(.fileReadUnknown) }
            buffer.append(chunk)
        }
    }
}
