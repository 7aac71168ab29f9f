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
