import Foundation
import Hub
import Testing

/// `pull` against Tests/Fixtures/hub/hub_server.py: full downloads, resume, bad checksums, errors, the cache.
@Suite struct PullTests {
    static let llamaSHA = "72cc620487f4786cc2ca2bf4846daa6c1584d45d7f3c4cf180ce4a438230e9e2"
    static let llamaSize: Int64 = 467_680
    static let repos: [String: URL] = [
        "acme/Tiny-GGUF/tiny-Q4_K_M.gguf": HubServer.llama,
        "acme/Tiny-GGUF/tiny-Q8_0.gguf": HubServer.qwen2,
    ]

    final class Events: @unchecked Sendable {
        var notes: [String] = []
        var progress = 0
        var finished: [String] = []
        func callAsFunction(_ event: PullEvent) {
            switch event {
            case .note(let text): notes.append(text)
            case .progress: progress += 1
            case .finished(let file): finished.append(file)
            }
        }
    }

    func client(_ server: HubServer, retries: Int = 3, token: String? = nil) -> HubClient {
        HubClient(configuration: HubConfiguration(endpoint: server.endpoint, token: token, retries: retries,
                                                  environment: [:]))
    }

    func leftovers(_ cache: URL) -> [String] {
        (FileManager.default.enumerator(atPath: cache.path)?.allObjects as? [String] ?? []).filter {
            $0.hasSuffix(".gguf") || $0.hasSuffix(".part")
        }
    }

    @Test func downloadsAndVerifies() throws {
        let server = try HubServer(repos: Self.repos)
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let events = Events()
        let result = try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:q4_k_m"), into: cache,
                                             events: { events($0) })
        #expect(result.files.count == 1)
        #expect(result.quant == "Q4_K_M")
        #expect(result.files[0].sha256 == Self.llamaSHA)
        #expect(result.files[0].verified)
        #expect(result.size == Self.llamaSize)
        #expect(result.path == cacheFolder.appendingPathComponent("acme/Tiny-GGUF/tiny-Q4_K_M.gguf").path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.path)) == Data(contentsOf: HubServer.llama))
        #expect(!FileManager.default.fileExists(atPath: result.path + ".part"))
        #expect(events.progress > 0 && events.finished == ["tiny-Q4_K_M.gguf"])
        // Downloaded at the commit the API named, with no Range header.
        let downloads = server.downloads()
        #expect(downloads.count == 1)
        #expect(downloads.first?["path"] == "/acme/Tiny-GGUF/resolve/0123456789abcdef0123456789abcdef01234567/"
            + "tiny-Q4_K_M.gguf")
        #expect(downloads.first?["range"] == nil)
        // The cache lists it, and a second pull downloads nothing.
        let listed = cache.list()
        #expect(listed.map(\.file) == ["tiny-Q4_K_M.gguf"])
        #expect(listed.first?.repo == "acme/Tiny-GGUF" && listed.first?.quant == "Q4_K_M")
        #expect(listed.first?.size == Self.llamaSize && listed.first?.sha256 == Self.llamaSHA)
        let again = try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M"), into: cache)
        #expect(again.files[0].downloaded == false)
        #expect(server.downloads().count == 1)
        #expect(try cache.resolve(ModelReference(parsing: "acme/Tiny-GGUF")).path == result.path)
        #expect(throws: HubError.self) { try cache.resolve(ModelReference(parsing: "acme/Tiny-GGUF:Q8_0")) }
        #expect(throws: HubError.self) { try cache.resolve(ModelReference(parsing: "acme/Other")) }
    }

    /// A partial file from an earlier run is finished with a Range request and the whole file's hash checked.
    @Test func resumesAPartialFile() throws {
        let server = try HubServer(repos: Self.repos)
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let destination = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try Data(contentsOf: HubServer.llama).prefix(100_000).write(to: URL(fileURLWithPath: destination.path + ".part"))
        let events = Events()
        let result = try client(server).pull(reference, into: cache, events: { events($0) })
        #expect(result.files[0].sha256 == Self.llamaSHA && result.files[0].verified)
        #expect(server.downloads().map { $0["range"] } == ["bytes=100000-"])
        #expect(events.notes.contains { $0.contains("resuming") })
        #expect(try Data(contentsOf: destination) == Data(contentsOf: HubServer.llama))
    }

    /// The connection breaks mid-file: with no retries the pull fails and keeps the part; the next pull resumes.
    @Test func resumesAfterADroppedConnection() throws {
        let server = try HubServer(repos: Self.repos, options: ["--drop-after", "65536"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let error = #expect(throws: HubError.self) { try client(server, retries: 0).pull(reference, into: cache) }
        #expect(error?.message.contains("run the same pull again to resume") == true, "\(String(describing: error))")
        let part = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf").path + ".part"
        let kept = ((try? FileManager.default.attributesOfItem(atPath: part))?[.size] as? NSNumber)?.int64Value ?? 0
        #expect(kept > 0 && kept <= 65536)
        let result = try client(server, retries: 0).pull(reference, into: cache)
        #expect(result.files[0].sha256 == Self.llamaSHA)
        #expect(server.downloads().map { $0["range"] } == [nil, "bytes=\(kept)-"])
    }

    /// With retries (the default) a broken connection is resumed within the same pull.
    @Test func retriesWithinOnePull() throws {
        let server = try HubServer(repos: Self.repos, options: ["--drop-after", "50000", "--drop-count", "2"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let events = Events()
        let result = try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M"),
                                             into: ModelCache(root: cacheFolder), events: { events($0) })
        #expect(result.files[0].sha256 == Self.llamaSHA)
        let ranges = server.downloads().map { $0["range"] }
        #expect(ranges.count == 3 && ranges[0] == nil && ranges[1] != nil && ranges[2] != nil)
    }

    /// A server that ignores Range answers 200 with the whole file: the part is restarted, not appended to.
    @Test func restartsWhenTheServerIgnoresRange() throws {
        let server = try HubServer(repos: Self.repos, options: ["--ignore-range"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let destination = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try Data(contentsOf: HubServer.llama).prefix(1000).write(to: URL(fileURLWithPath: destination.path + ".part"))
        let events = Events()
        let result = try client(server).pull(reference, into: cache, events: { events($0) })
        #expect(result.files[0].sha256 == Self.llamaSHA && result.size == Self.llamaSize)
        #expect(server.downloads().map { $0["range"] } == ["bytes=1000-"])
        #expect(events.notes.contains { $0.contains("does not resume") })
    }

    /// A part file as long as the whole file is only checked; one that is longer is discarded.
    @Test func completePartIsCheckedWithoutDownloading() throws {
        let server = try HubServer(repos: Self.repos)
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let destination = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: HubServer.llama.path, toPath: destination.path + ".part")
        let result = try client(server).pull(reference, into: cache)
        #expect(result.files[0].sha256 == Self.llamaSHA)
        #expect(server.downloads().isEmpty)
    }

    @Test func badChecksumLeavesNothingInTheCache() throws {
        let server = try HubServer(repos: Self.repos, options: ["--wrong-sha"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let error = #expect(throws: HubError.self) {
            try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M"), into: cache)
        }
        #expect(error?.message.contains("checksum mismatch") == true)
        #expect(error?.message.contains(Self.llamaSHA) == true)
        #expect(leftovers(cacheFolder).isEmpty)
        #expect(cache.list().isEmpty)
    }

    @Test func missingChecksumIsSaid() throws {
        let server = try HubServer(repos: Self.repos, options: ["--no-sha"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let events = Events()
        let result = try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M"),
                                             into: ModelCache(root: cacheFolder), events: { events($0) })
        #expect(!result.files[0].verified && result.files[0].sha256 == Self.llamaSHA)
        #expect(events.notes.contains { $0.contains("no sha256") })
    }

    @Test func clearErrors() throws {
        let server = try HubServer(repos: Self.repos)
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let missing = #expect(throws: HubError.self) {
            try client(server).pull(ModelReference(parsing: "acme/Nothing-GGUF"), into: cache)
        }
        #expect(missing?.status == 404)
        #expect(missing?.message.contains("acme/Nothing-GGUF") == true && missing?.message.contains("not found") == true)
        let quant = #expect(throws: HubError.self) {
            try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q2_K"), into: cache)
        }
        #expect(quant?.message.contains("no GGUF for 'Q2_K'") == true)
        #expect(quant?.message.contains("Q4_K_M, Q8_0") == true)
        // Nothing listens on this port once the server is stopped.
        let endpoint = server.endpoint
        server.stop()
        let offline = HubClient(configuration: HubConfiguration(endpoint: endpoint, environment: [:]))
        let network = #expect(throws: HubError.self) {
            try offline.pull(ModelReference(parsing: "acme/Tiny-GGUF"), into: cache)
        }
        #expect(network?.message.contains("cannot reach 127.0.0.1") == true, "\(String(describing: network))")
        #expect(leftovers(cacheFolder).isEmpty)
    }

    /// The token goes to the hub as a bearer token, and to its redirect on the same host.
    @Test func sendsTheTokenAndFollowsRedirects() throws {
        let server = try HubServer(repos: Self.repos, options: ["--require-token", "hf_secret", "--redirect"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let denied = #expect(throws: HubError.self) {
            try client(server).pull(ModelReference(parsing: "acme/Tiny-GGUF:Q8_0"), into: cache)
        }
        #expect(denied?.status == 401 && denied?.message.contains("HF_TOKEN") == true)
        let result = try client(server, token: "hf_secret").pull(ModelReference(parsing: "acme/Tiny-GGUF:Q8_0"),
                                                                 into: cache)
        #expect(result.files[0].verified)
        #expect(try Data(contentsOf: URL(fileURLWithPath: result.path)) == Data(contentsOf: HubServer.qwen2))
        let paths = server.downloads().map { $0["path"] ?? "" }
        #expect(paths.contains { $0.hasPrefix("/cdn/") })
        #expect(server.requests().dropFirst().allSatisfy { $0["authorization"] == "Bearer hf_secret" })
    }

    /// The hub's CDN is another host: the redirect there keeps the Range header and drops the token.
    @Test func theTokenStaysWithTheHubOnRedirects() throws {
        let server = try HubServer(repos: Self.repos, options: ["--require-token", "hf_secret",
                                                                "--redirect-host", "localhost"])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let destination = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try Data(contentsOf: HubServer.llama).prefix(4096).write(to: URL(fileURLWithPath: destination.path + ".part"))
        let result = try client(server, token: "hf_secret").pull(reference, into: cache)
        #expect(result.files[0].sha256 == Self.llamaSHA)
        let downloads = server.downloads()
        #expect(downloads.count == 2)
        #expect(downloads.first?["authorization"] == "Bearer hf_secret" && downloads.first?["range"] == "bytes=4096-")
        #expect(downloads.last?["path"] == "/cdn/acme/Tiny-GGUF/tiny-Q4_K_M.gguf")
        #expect(downloads.last?["authorization"] == nil && downloads.last?["range"] == "bytes=4096-")
    }

    /// A partial download of an older version of the file is not resumed.
    @Test func aChangedFileIsNotResumed() throws {
        let server = try HubServer(repos: Self.repos)
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let reference = try ModelReference(parsing: "acme/Tiny-GGUF:Q4_K_M")
        let destination = try cache.path(for: reference, file: "tiny-Q4_K_M.gguf")
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try Data(repeating: 7, count: 5000).write(to: URL(fileURLWithPath: destination.path + ".part"))
        try Data(#"{"sha256":"\#(String(repeating: "0", count: 64))","size":\#(Self.llamaSize)}"#.utf8)
            .write(to: URL(fileURLWithPath: destination.path + ".part.json"))
        let events = Events()
        let result = try client(server).pull(reference, into: cache, events: { events($0) })
        #expect(result.files[0].sha256 == Self.llamaSHA)
        #expect(server.downloads().map { $0["range"] } == [nil])
        #expect(events.notes.contains { $0.contains("changed on the hub") })
        #expect(!FileManager.default.fileExists(atPath: destination.path + ".part.json"))
    }

    @Test func splitModelsAreDownloadedTogether() throws {
        let server = try HubServer(repos: [
            "acme/Big-GGUF/Q8_0/big-Q8_0-00001-of-00002.gguf": HubServer.llama,
            "acme/Big-GGUF/Q8_0/big-Q8_0-00002-of-00002.gguf": HubServer.qwen2,
        ])
        defer { server.stop() }
        let cacheFolder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: cacheFolder) }
        let cache = ModelCache(root: cacheFolder)
        let result = try client(server).pull(ModelReference(parsing: "acme/Big-GGUF"), into: cache)
        #expect(result.files.map(\.name) == ["Q8_0/big-Q8_0-00001-of-00002.gguf", "Q8_0/big-Q8_0-00002-of-00002.gguf"])
        #expect(result.files.allSatisfy { $0.verified })
        #expect(cache.list().count == 2)
        #expect(try cache.resolve(ModelReference(parsing: "acme/Big-GGUF:Q8_0")).path == result.path)
    }
}
