import Foundation

/// Tests/Fixtures/hub/hub_server.py, a stand-in for the Hugging Face hub on a free local port, serving `repos`
/// (`owner/repo/file` → source file). Stopped by `stop()` (and, should the test process die, by its closed stdin).
final class HubServer {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = packageRoot.appendingPathComponent("Tests/Fixtures/hub/hub_server.py")
    static let llama = packageRoot.appendingPathComponent("Tests/Fixtures/models/llama.gguf")
    static let qwen2 = packageRoot.appendingPathComponent("Tests/Fixtures/models/qwen2.gguf")

    let folder: URL
    let log: URL
    let port: Int
    private let process = Process()
    private let input = Pipe()

    var endpoint: String { "http://127.0.0.1:\(port)" }

    init(repos: [String: URL], options: [String] = []) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-hub-\(UUID().uuidString)")
        let root = folder.appendingPathComponent("repos")
        log = folder.appendingPathComponent("requests.jsonl")
        for (path, source) in repos {
            let target = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: source, to: target)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path, "--root", root.path, "--log", log.path] + options
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the hub test server did not start"])
        }
        self.port = port
    }

    /// The requests the server saw: method, path, range, authorization.
    func requests() -> [[String: String]] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?
                .compactMapValues { $0 as? String }
        }
    }

    /// Requests for file bodies (not the API).
    func downloads() -> [[String: String]] {
        requests().filter { !($0["path"] ?? "").hasPrefix("/api/") }
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    deinit { stop() }
}

/// A fresh temporary folder.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-cache-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
