import ArgumentParser
import Foundation
import Hub

/// `moecoder models`: what `pull` has put in the model cache.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models in the model cache (downloaded with moecoder pull).")

    @Option(help: ArgumentHelp("The model cache (default: $MOECODER_CACHE or ~/.cache/moecoder/models).",
                               valueName: "dir"))
    var cache: String?

    @Flag(help: "Print JSON: repo, file, quant, size, path and sha256 of each file.")
    var json = false

    func run() throws {
        let root = cache.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) } ?? ModelCache.defaultRoot()
        let entries = ModelCache(root: root).list()
        if json {
            let list: [[String: Any]] = entries.map { entry in
                ["repo": entry.repo, "file": entry.file, "quant": entry.quant.map { $0 as Any } ?? NSNull(),
                 "size": Int(entry.size), "path": entry.path, "sha256": entry.sha256.map { $0 as Any } ?? NSNull(),
                 "model": entry.quant.map { "\(entry.repo):\($0)" } ?? entry.repo]
            }
            let data = try JSONSerialization.data(withJSONObject: ["cache": root.path, "models": list],
                                                  options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        guard !entries.isEmpty else {
            print("no models in \(root.path): download one with moecoder pull OWNER/REPO[:QUANT]")
            return
        }
        let rows = entries.map { [$0.repo, $0.quant ?? "-", ByteCount.format($0.size), $0.path] }
        let header = ["REPO", "QUANT", "SIZE", "PATH"]
        let widths = (0..<3).map { column in (rows + [header]).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            print((0..<3).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + row[3])
        }
    }
}
