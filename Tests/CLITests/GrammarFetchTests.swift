import Foundation
import Testing

/// scripts/fetch_grammars.py refuses archives that do not match their pin or that the runtime cannot load.
/// Runs offline, on archives made here.
@Suite struct GrammarFetchTests {
    /// Builds `<cache>/<name>-<version>.tar.gz` holding `src/parser.c` with the given ABI; returns its sha256.
    func makeArchive(in cache: URL, package: String, version: String, abi: Int) throws -> String {
        let top = cache.appendingPathComponent("build/\(package)-\(version)")
        try FileManager.default.createDirectory(at: top.appendingPathComponent("src"), withIntermediateDirectories: true)
        try "#define LANGUAGE_VERSION \(abi)\n".write(to: top.appendingPathComponent("src/parser.c"),
                                                     atomically: true, encoding: .utf8)
        try "MIT".write(to: top.appendingPathComponent("LICENSE"), atomically: true, encoding: .utf8)
        let archive = cache.appendingPathComponent("\(package)-\(version).tar.gz").path
        let tar = try CLI.run("/bin/tar", ["czf", archive, "-C", cache.appendingPathComponent("build").path,
                                           "\(package)-\(version)"])
        #expect(tar.status == 0, "\(tar.stderr)")
        let sum = try CLI.run("/usr/bin/sha256sum", [archive])
        return String(sum.stdout.prefix(64))
    }

    func manifest(_ dir: URL, package: String, version: String, sha256: String, headersSha: String) throws -> URL {
        let json = """
            {"headers": {"package": "ts-headers", "version": "1.0", "sha256": "\(headersSha)", "dir": "lib",
                         "files": ["parser.h"]},
             "grammars": [{"language": "toy", "package": "\(package)", "version": "\(version)",
                           "sha256": "\(sha256)", "scanner": false}]}
            """
        let url = dir.appendingPathComponent("grammars.json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func headersArchive(in cache: URL) throws -> String {
        let top = cache.appendingPathComponent("build/ts-headers-1.0/lib")
        try FileManager.default.createDirectory(at: top, withIntermediateDirectories: true)
        try "/* parser.h */".write(to: top.appendingPathComponent("parser.h"), atomically: true, encoding: .utf8)
        let archive = cache.appendingPathComponent("ts-headers-1.0.tar.gz").path
        _ = try CLI.run("/bin/tar", ["czf", archive, "-C", cache.appendingPathComponent("build").path, "ts-headers-1.0"])
        return String(try CLI.run("/usr/bin/sha256sum", [archive]).stdout.prefix(64))
    }

    func fetch(_ manifest: URL, dest: URL, cache: URL) throws -> CLI.Result {
        try CLI.run("/usr/bin/env", ["python3", CLI.packageRoot.appendingPathComponent("scripts/fetch_grammars.py").path,
                                     "--manifest", manifest.path, "--dest", dest.path, "--cache", cache.path, "--offline"])
    }

    @Test func pinnedArchiveIsUnpacked() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache")
        let sha = try makeArchive(in: cache, package: "tree-sitter-toy", version: "0.1.0", abi: 14)
        let m = try manifest(dir, package: "tree-sitter-toy", version: "0.1.0", sha256: sha,
                             headersSha: try headersArchive(in: cache))
        let result = try fetch(m, dest: dir.appendingPathComponent("out"), cache: cache)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/toy/src/parser.c").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/toy/src/tree_sitter/parser.h").path))
    }

    @Test func badHashIsRejected() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache")
        _ = try makeArchive(in: cache, package: "tree-sitter-toy", version: "0.1.0", abi: 14)
        let m = try manifest(dir, package: "tree-sitter-toy", version: "0.1.0", sha256: String(repeating: "0", count: 64),
                             headersSha: try headersArchive(in: cache))
        let result = try fetch(m, dest: dir.appendingPathComponent("out"), cache: cache)
        #expect(result.status == 1)
        #expect(result.stderr.contains("sha256 mismatch"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/toy").path))
    }

    @Test func unsupportedABIIsRejected() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache")
        let sha = try makeArchive(in: cache, package: "tree-sitter-toy", version: "0.2.0", abi: 15)
        let m = try manifest(dir, package: "tree-sitter-toy", version: "0.2.0", sha256: sha,
                             headersSha: try headersArchive(in: cache))
        let result = try fetch(m, dest: dir.appendingPathComponent("out"), cache: cache)
        #expect(result.status == 1)
        #expect(result.stderr.contains("LANGUAGE_VERSION 15"))
        #expect(result.stderr.contains("Pin an older release"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/toy").path))
    }
}
