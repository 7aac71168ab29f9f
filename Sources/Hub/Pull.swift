import Foundation

/// The outcome of `pull`.
public struct PullResult: Sendable {
    public var reference: ModelReference
    public var quant: String?
    /// The commit the files came from, when the hub said.
    public var commit: String?
    /// In order (the parts of a split model); the first is the one to load.
    public var files: [PulledFile]

    public var path: String { files[0].path }
    public var size: Int64 { files.reduce(0) { $0 + $1.size } }
}

extension HubClient {
    /// Downloads the GGUF model `reference` names into `cache` (all parts of a split one), skipping files that
    /// are already there with the published checksum.
    public func pull(_ reference: ModelReference, into cache: ModelCache,
                     events: @escaping (PullEvent) -> Void = { _ in }) throws -> PullResult {
        let repoInfo = try self.info(reference)
        let choice = try Selection.choose(from: repoInfo.files, quant: reference.quant, repo: reference.id)
        if choice.files.count > 1 {
            events(.note("\(choice.name) is split into \(choice.files.count) parts; downloading them all"))
        }
        var pulled: [PulledFile] = []
        for file in choice.files {
            let destination = try cache.path(for: reference, file: file.name)
            if let cached = cached(file, at: destination, cache: cache) {
                events(.note("\((file.name as NSString).lastPathComponent) is already in the cache"))
                events(.finished(file: (file.name as NSString).lastPathComponent))
                pulled.append(cached)
                continue
            }
            let result = try download(file, of: reference, revision: repoInfo.commit, to: destination, events: events)
            let formatter = ISO8601DateFormatter()
            try? cache.write(ModelCache.Record(repo: reference.id, file: file.name, revision: configuration.revision,
                                               commit: repoInfo.commit, size: result.size, sha256: result.sha256,
                                               verified: result.verified, pulledAt: formatter.string(from: Date())),
                             for: destination)
            pulled.append(result)
        }
        return PullResult(reference: reference, quant: choice.quant, commit: repoInfo.commit, files: pulled)
    }

    /// The cached copy of `file`, when its record matches what the hub lists now.
    func cached(_ file: RepoFile, at destination: URL, cache: ModelCache) -> PulledFile? {
        let fm = FileManager.default
        guard fm.fileExists(atPath: destination.path), let record = cache.record(for: destination),
              fileSize(atPath: destination.path) == record.size, file.size.map({ $0 == record.size }) ?? true,
              file.sha256.map({ $0 == record.sha256 }) ?? true
        else { return nil }
        return PulledFile(name: file.name, path: destination.path, size: record.size, sha256: record.sha256,
                          verified: file.sha256 != nil, downloaded: false)
    }
}
