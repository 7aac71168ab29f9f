import Foundation

/// The folder `pull` downloads into: `{root}/{owner}/{repo}/{file in the repository}`, with a small JSON record
/// next to each complete file (`{file}.pull.json`: sha256, size, revision) and `{file}.part` while downloading.
public struct ModelCache: Sendable {
    public var root: URL

    public init(root: URL) {
        self.root = root
    }

    /// `$MOECODER_CACHE`, else `~/.cache/moecoder/models`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment["MOECODER_CACHE"], !path.isEmpty { return URL(fileURLWithPath: expand(path)) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/moecoder/models")
    }

    static func expand(_ path: String) -> String { (path as NSString).expandingTildeInPath }

    /// Where `file` of `reference` lives in the cache; a file name that would leave the repository's folder is refused.
    public func path(for reference: ModelReference, file: String) throws -> URL {
        let parts = file.split(separator: "/")
        guard !file.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw HubError("refusing the file name '\(file)' from the hub: it would be written outside the cache")
        }
        return parts.reduce(repoFolder(reference)) { $0.appendingPathComponent(String($1)) }
    }

    public func repoFolder(_ reference: ModelReference) -> URL {
        root.appendingPathComponent(reference.owner).appendingPathComponent(reference.repo)
    }

    static func recordPath(_ file: URL) -> String { file.path + ".pull.json" }

    /// The record `pull` wrote next to a complete file.
    public struct Record: Codable, Sendable, Equatable {
        public var repo: String
        public var file: String
        public var revision: String
        public var commit: String?
        public var size: Int64
        public var sha256: String
        public var verified: Bool
        public var pulledAt: String

        enum CodingKeys: String, CodingKey {
            case repo, file, revision, commit, size, sha256, verified
            case pulledAt = "pulled_at"
        }
    }

    public func record(for file: URL) -> Record? {
        guard let data = FileManager.default.contents(atPath: Self.recordPath(file)) else { return nil }
        return try? JSONDecoder().decode(Record.self, from: data)
    }

    public func write(_ record: Record, for file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(record).write(to: URL(fileURLWithPath: Self.recordPath(file)), options: .atomic)
    }

    /// A GGUF file in the cache.
    public struct Entry: Sendable, Equatable {
        public var repo: String
        /// The path inside the repository.
        public var file: String
        public var quant: String?
        public var size: Int64
        public var path: String
        public var sha256: String?
    }

    /// Every complete GGUF file in the cache, sorted by repository and file.
    public func list() -> [Entry] {
        let fm = FileManager.default
        var entries: [Entry] = []
        let owners = (try? fm.contentsOfDirectory(atPath: root.path)) ?? []
        for owner in owners.sorted() where !owner.hasPrefix(".") {
            let ownerURL = root.appendingPathComponent(owner)
            for repo in ((try? fm.contentsOfDirectory(atPath: ownerURL.path)) ?? []).sorted() where !repo.hasPrefix(".") {
                let repoURL = ownerURL.appendingPathComponent(repo)
                guard let walker = fm.enumerator(atPath: repoURL.path) else { continue }
                var files: [String] = []
                while let relative = walker.nextObject() as? String {
                    if relative.lowercased().hasSuffix(".gguf") { files.append(relative) }
                }
                for relative in files.sorted() {
                    let url = repoURL.appendingPathComponent(relative)
                    var isFolder: ObjCBool = false
                    guard fm.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
                    let size = fileSize(atPath: url.path) ?? 0
                    entries.append(Entry(repo: "\(owner)/\(repo)", file: relative, quant: Selection.quant(ofFile: relative),
                                         size: size, path: url.path, sha256: record(for: url)?.sha256))
                }
            }
        }
        return entries
    }

    /// The cached file `OWNER/REPO[:QUANT]` names, chosen the way `pull` chooses (the first part of a split model).
    public func resolve(_ reference: ModelReference) throws -> URL {
        let entries = list().filter { $0.repo.lowercased() == reference.id.lowercased() }
        guard let first = entries.first else {
            throw HubError("\(reference.id) is not in the model cache (\(root.path)): run moecoder pull \(reference)")
        }
        let files = entries.map { RepoFile(name: $0.file, size: $0.size) }
        let choice: GGUFChoice
        do {
            choice = try Selection.choose(from: files, quant: reference.quant, repo: reference.id)
        } catch let error as HubError {
            throw HubError(error.message + " (in the cache; moecoder pull \(reference.id):QUANT downloads another)")
        }
        let path = entries.first { $0.file == choice.files[0].name }?.path ?? first.path
        return URL(fileURLWithPath: path)
    }
}
