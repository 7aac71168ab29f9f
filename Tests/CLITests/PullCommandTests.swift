import Foundation
import Testing

/// `moecoder pull` and `moecoder models` end to end, against Tests/Fixtures/hub/hub_server.py (a local stand-in for
/// the Hugging Face hub; the test machines have no internet).
@Suite struct PullCommandTests {
    static let llama = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/models/llama.gguf")
    static let llamaSHA = "72cc620487f4786cc2ca2bf4846daa6c1584d45d7f3c4cf180ce4a438230e9e2"

    /// The hub stand-in on a free port, serving llama.gguf as acme/Tiny-GGUF's Q4_K_M; stopped by `stop()`.
    final class Hub {
        let folder: URL
        let process = Process()
        let input = Pipe()
        let port: Int
        var endpoint: String { "http://127.0.0.1:\(port)" }
        let log: URL

        init(_ options: [String] = []) throws {
            folder = try CLI.temporaryDirectory()
            log = folder.appendingPathComponent("requests.jsonl")
            let repo = folder.appendingPathComponent("repos/acme/Tiny-GGUF")
            try FileManager.default.createDirectory(at: repo, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: PullCommandTests.llama, to: repo.appendingPathComponent("tiny-Q4_K_M.gguf"))
            let output = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", CLI.packageRoot.appendingPathComponent("Tests/Fixtures/hub/hub_server.py").path,
                                 "--root", folder.appendingPathComponent("repos").path, "--log", log.path]
                + options
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        func ranges() -> [String?] {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line -> [String: Any]? in
                try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            }.filter { !($0["path"] as? String ?? "").hasPrefix("/api/") }.map { $0["range"] as? String }
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func pullsResumesListsAndLoads() throws {
        let hub = try Hub()
        defer { hub.stop() }
        #expect(hub.port > 0)
        let cache = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        // An interrupted earlier download.
        let target = cache.appendingPathComponent("acme/Tiny-GGUF/tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contentsOf: Self.llama).prefix(200_000).write(to: URL(fileURLWithPath: target.path + ".part"))

        let pull = try CLI.moecoder(["pull", "acme/Tiny-GGUF:q4_k_m", "--endpoint", hub.endpoint, "--cache", cache.path,
                                     "--json"], environment: ["HF_TOKEN": ""])
        #expect(pull.status == 0, "\(pull.stderr)")
        let report = try json(pull.stdout)
        #expect(report["path"] as? String == target.path)
        #expect(report["sha256"] as? String == Self.llamaSHA)
        #expect(report["verified"] as? Bool == true)
        #expect(report["quant"] as? String == "Q4_K_M")
        #expect(report["size"] as? Int == 467_680)
        #expect(hub.ranges() == ["bytes=200000-"])
        #expect(pull.stderr.contains("resuming"))
        #expect(!pull.stderr.contains("\r"))  // no progress bar when standard error is not a terminal
        #expect(try Data(contentsOf: target) == Data(contentsOf: Self.llama))

        let models = try CLI.moecoder(["models", "--cache", cache.path, "--json"])
        #expect(models.status == 0, "\(models.stderr)")
        let list = try #require(try json(models.stdout)["models"] as? [[String: Any]])
        #expect(list.count == 1)
        #expect(list.first?["repo"] as? String == "acme/Tiny-GGUF")
        #expect(list.first?["file"] as? String == "tiny-Q4_K_M.gguf")
        #expect(list.first?["quant"] as? String == "Q4_K_M")
        #expect(list.first?["size"] as? Int == 467_680)
        #expect(list.first?["path"] as? String == target.path)
        let table = try CLI.moecoder(["models", "--cache", cache.path])
        #expect(table.stdout.contains("acme/Tiny-GGUF") && table.stdout.contains("Q4_K_M"))

        // --model OWNER/REPO[:QUANT] loads the cached file.
        let info = try CLI.moecoder(["info", "--model", "acme/Tiny-GGUF:Q4_K_M", "--json"],
                                    environment: ["MOECODER_CACHE": cache.path])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(try json(info.stdout)["path"] as? String == target.path)
        let missing = try CLI.moecoder(["info", "--model", "acme/Other-GGUF"], environment: ["MOECODER_CACHE": cache.path])
        #expect(missing.status != 0 && missing.stderr.contains("moecoder pull acme/Other-GGUF"))
    }

    @Test func badChecksumFailsAndCachesNothing() throws {
        let hub = try Hub(["--wrong-sha"])
        defer { hub.stop() }
        let cache = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let pull = try CLI.moecoder(["pull", "acme/Tiny-GGUF", "--endpoint", hub.endpoint, "--cache", cache.path])
        #expect(pull.status == 1)
        #expect(pull.stderr.contains("checksum mismatch"), "\(pull.stderr)")
        #expect(pull.stdout.isEmpty)
        let files = FileManager.default.enumerator(atPath: cache.path)?.allObjects as? [String] ?? []
        #expect(!files.contains { $0.hasSuffix(".gguf") || $0.hasSuffix(".part") }, "\(files)")
        let models = try CLI.moecoder(["models", "--cache", cache.path, "--json"])
        #expect((try json(models.stdout)["models"] as? [Any])?.isEmpty == true)
    }

    @Test func clearErrorsForMissingReposAndQuants() throws {
        let hub = try Hub()
        defer { hub.stop() }
        let cache = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let repo = try CLI.moecoder(["pull", "acme/Nothing", "--endpoint", hub.endpoint, "--cache", cache.path])
        #expect(repo.status == 1 && repo.stderr.contains("not found"), "\(repo.stderr)")
        let quant = try CLI.moecoder(["pull", "acme/Tiny-GGUF:Q8_0", "--endpoint", hub.endpoint, "--cache", cache.path])
        #expect(quant.status == 1 && quant.stderr.contains("available: Q4_K_M"), "\(quant.stderr)")
        let usage = try CLI.moecoder(["pull", "not-a-repo"])
        #expect(usage.status == 2 && usage.stderr.contains("OWNER/REPO"), "\(usage.stderr)")
    }
}
