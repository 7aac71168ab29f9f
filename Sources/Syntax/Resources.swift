#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds moecoder's data files (query files, later the shipped model) at run time.
///
/// Looked for, in order: `$MOECODER_HOME`; the folders above the running executable (a build inside the
/// checkout, `.build/<triple>/release/moecoder`); `<prefix>/share/moecoder` beside an installed
/// `<prefix>/bin/moecoder`; the checkout this file was compiled from.
public enum Resources {
    /// Candidate root folders, most specific first.
    public static var searchRoots: [String] {
        var roots: [String] = []
        if let home = getenv("MOECODER_HOME") { roots.append(String(cString: home)) }
        if let exe = executablePath() {
            var dir = parent(of: exe)
            roots.append(dir + "/../share/moecoder")
            for _ in 0..<5 {
                roots.append(dir)
                dir = parent(of: dir)
            }
        }
        // Sources/Syntax/Resources.swift -> the checkout's root.
        roots.append(parent(of: parent(of: parent(of: #filePath))))
        return roots
    }

    /// The first existing file at `relative` below one of the search roots.
    public static func locate(_ relative: String) -> String? {
        for root in searchRoots {
            let path = root + "/" + relative
            if access(path, R_OK) == 0 { return path }
        }
        return nil
    }

    /// Reads a whole file as UTF-8 text; nil when it cannot be read.
    public static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes += buffer[0..<n] }
            if n < buffer.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
