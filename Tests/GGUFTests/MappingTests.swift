import Foundation
import GGUF
import Testing

/// Tensor data is used in place: pointers lead into the file's bytes, not into copies.
struct MappingTests {
    @Test("init(path:) maps the file: every data pointer lies in the file's mapping at dataOffset + offset")
    func pointersIntoMapping() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/mapped.gguf"
        try sampleWriter().write(to: path)
        let file = try GGUFFile(path: path)

        let mapping = try #require(try mappedRange(of: path), "no mapping of \(path) in /proc/self/maps")
        #expect(mapping.count >= file.fileSize)
        for tensor in file.tensors {
            let address = UInt(bitPattern: file.data(tensor))
            #expect(address >= mapping.lowerBound && address + UInt(tensor.byteCount) <= mapping.lowerBound
                + UInt(file.fileSize))
            #expect(address - mapping.lowerBound == UInt(file.dataOffset + tensor.offset))
        }
    }

    @Test("init(bytes:) keeps one buffer: pointers differ exactly by the tensors' offsets")
    func pointersIntoBuffer() throws {
        let file = try GGUFFile(bytes: try sampleWriter().serialized())
        let first = file.tensors[0]
        for tensor in file.tensors {
            #expect(file.data(tensor) - file.data(first) == tensor.offset - first.offset)
        }
    }

    @Test("init(path:) advises huge pages for the mapping (VmFlags hg), unless MOECODER_HUGEPAGES=0")
    func mappingAdvisesHugePages() throws {
        // Only kernels built with transparent huge pages know the advice (EINVAL elsewhere: nothing to check).
        guard FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled") else { return }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/advised.gguf"
        try sampleWriter().write(to: path)
        let advised = try GGUFFile(path: path)
        let flags = try #require(try vmFlags(containing: UInt(bitPattern: advised.data(advised.tensors[0]))))
        #expect(flags.contains("hg"), "VmFlags of the mapping: \(flags)")

        setenv("MOECODER_HUGEPAGES", "0", 1)
        defer { unsetenv("MOECODER_HUGEPAGES") }
        let plain = try GGUFFile(path: path)
        let plainFlags = try #require(try vmFlags(containing: UInt(bitPattern: plain.data(plain.tensors[0]))))
        #expect(!plainFlags.contains("hg"), "VmFlags with MOECODER_HUGEPAGES=0: \(plainFlags)")
    }

    /// The VmFlags of the mapping that holds `address`, from /proc/self/smaps.
    private func vmFlags(containing address: UInt) throws -> [Substring]? {
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        var bytes = Data()
        while let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            bytes += chunk
        }
        var inside = false
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let head = line.prefix { $0 != " " }
            let bounds = head.split(separator: "-").compactMap { UInt($0, radix: 16) }
            if bounds.count == 2, head.contains("-") {
                inside = bounds[0] <= address && address < bounds[1]
            } else if inside, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        return nil
    }

    /// The address range of this process's mapping of `path`, read from /proc/self/maps (Linux only; the test needs it).
    private func mappedRange(of path: String) throws -> Range<UInt>? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        // procfs files report size 0, so read until end of file rather than trusting a size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        var bytes = Data()
        while let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            bytes += chunk
        }
        let maps = String(decoding: bytes, as: UTF8.self)
        for line in maps.split(separator: "\n") where line.hasSuffix(" " + resolved) || line.hasSuffix(" " + path) {
            let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
            if bounds.count == 2 { return bounds[0]..<bounds[1] }
        }
        return nil
    }
}
