import Foundation

/// A private copy of the user's project in a fresh temporary folder, where candidates are written and tests
/// run; the user's files are only ever read. `remove()` deletes the whole folder (the worker's extra copies
/// for parallel jobs lie beside the first one, inside it).
final class ProjectCopy {
    /// The temporary folder that holds everything (`…/moecoder-repair-<uuid>`).
    let scratch: String
    /// The copy of the project root.
    let root: String
    /// The project root that was copied.
    let originalRoot: String

    static let skipped: Set<String> = [".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox",
                                       ".mypy_cache", ".pytest_cache", ".build", ".ruff_cache", "dist", "build"]
    static let maxFiles = 5000
    static let maxBytes = 200 << 20

    /// Copies `originalRoot` (without version-control folders, caches and virtual environments).
    init(of originalRoot: String) throws {
        self.originalRoot = originalRoot
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("moecoder-repair-\(UUID().uuidString)").path
        root = scratch + "/project"
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            var files = 0, bytes = 0
            try Self.copy(originalRoot, to: root, files: &files, bytes: &bytes)
        } catch {
            remove()
            throw error
        }
    }

    deinit { remove() }

    /// Deletes the temporary folder; safe to call twice.
    func remove() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// The path inside the copy of a path inside the original root.
    func mirror(_ path: String) -> String {
        let relative = Self.relative(path, to: originalRoot)
        return relative.isEmpty ? root : root + "/" + relative
    }

    static func relative(_ path: String, to root: String) -> String {
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        if full == base { return "" }
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full
    }

    private static func copy(_ source: String, to destination: String, files: inout Int, bytes: inout Int) throws {
        let manager = FileManager.default
        for name in try manager.contentsOfDirectory(atPath: source).sorted() where !skipped.contains(name) {
            let from = source + "/" + name, to = destination + "/" + name
            let attributes = try manager.attributesOfItem(atPath: from)
            let type = attributes[.type] as? FileAttributeType
            if type == .typeDirectory {
                if name.hasSuffix(".egg-info") { continue }
                try manager.createDirectory(atPath: to, withIntermediateDirectories: false)
                try copy(from, to: to, files: &files, bytes: &bytes)
            } else if type == .typeRegular {
                files += 1
                bytes += (attributes[.size] as? NSNumber)?.intValue ?? 0
                if files > maxFiles || bytes > maxBytes { throw RepairError.projectTooLarge(source, maxFiles) }
                try manager.copyItem(atPath: from, toPath: to)
            }
        }
    }

    /// The deepest folder containing every path (files count by their folder).
    static func commonRoot(_ paths: [String]) -> String {
        let folders = paths.map { path -> [String] in
            var isDirectory: ObjCBool = false
            let full = URL(fileURLWithPath: path).standardizedFileURL
            let folder = FileManager.default.fileExists(atPath: full.path, isDirectory: &isDirectory) && isDirectory.boolValue
                ? full : full.deletingLastPathComponent()
            return folder.pathComponents
        }
        guard var common = folders.first else { return "/" }
        for components in folders.dropFirst() {
            var n = 0
            while n < common.count, n < components.count, common[n] == components[n] { n += 1 }
            common = Array(common[..<n])
        }
        return common.isEmpty ? "/" : NSString.path(withComponents: common)
    }
}
