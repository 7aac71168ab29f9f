import Foundation
import GGUF
import Testing

/// Truncated and corrupted files never crash the reader: each either parses into a self-consistent file or
/// throws a `GGUFError`.
struct FuzzTests {
    /// What parsing one input gave.
    enum Outcome: Equatable {
        case parsed
        case rejected(String)
    }

    /// A valid file with every value type, nested arrays and six tensors (alignment 32).
    private static let base = try! sampleWriter().serialized()
    private static let baseDataOffset = try! GGUFFile(bytes: base).dataOffset

    /// Parses `bytes` (from memory, or from `path` when given) and checks the invariants the Engine relies on.
    static func outcome(_ bytes: [UInt8], path: String? = nil) -> Outcome {
        let file: GGUFFile
        do {
            file = try path.map { try GGUFFile(path: $0) } ?? GGUFFile(bytes: bytes)
        } catch let error as GGUFError {
            return .rejected(error.message)
        } catch {
            Issue.record("not a GGUFError: \(error)")
            return .rejected("\(error)")
        }
        expectSelfConsistent(file)
        return .parsed
    }

    static func expectSelfConsistent(_ file: GGUFFile) {
        #expect([2, 3].contains(file.version))
        #expect(file.alignment > 0 && file.alignment & (file.alignment - 1) == 0)
        #expect(file.metadataKeys.count == file.metadata.count)
        #expect(Set(file.metadataKeys) == Set(file.metadata.keys))
        #expect(file.dataOffset <= file.fileSize)
        var end = 0
        for tensor in file.tensors.sorted(by: { $0.offset < $1.offset }) {
            #expect((1...4).contains(tensor.dimensions.count) && tensor.dimensions.allSatisfy { $0 > 0 })
            #expect(tensor.offset % file.alignment == 0 && tensor.offset >= end)
            end = tensor.offset + tensor.byteCount
            #expect(file.dataOffset + end <= file.fileSize)
            #expect(file.tensor(tensor.name) == tensor)
            // Touch the first and last data byte: both lie inside the buffer.
            let data = file.data(tensor)
            _ = data.load(as: UInt8.self) &+ data.load(fromByteOffset: tensor.byteCount - 1, as: UInt8.self)
        }
    }

    @Test("every truncation of the header, and a dense sample of the data section, parses or throws GGUFError")
    func truncations() {
        let lengths = Array(0...(Self.baseDataOffset + 64)) + stride(from: Self.baseDataOffset + 65,
                                                                     to: Self.base.count, by: 13)
        var rejected = 0
        for length in lengths {
            if case .rejected = Self.outcome(Array(Self.base.prefix(length))) { rejected += 1 }
        }
        // Every cut inside the header or through tensor data is an error; only the trailing padding is optional.
        #expect(rejected >= lengths.count - 32)
        #expect(Self.outcome(Self.base) == .parsed)
    }

    @Test("2,000 random corruptions (1 to 4 bytes, fixed seed, mostly in the header) parse or throw GGUFError")
    func randomCorruptions() {
        var generator = SplitMix64(seed: 0x6767_7566)
        var outcomes = (parsed: 0, rejected: 0)
        for _ in 0..<2000 {
            var bytes = Self.base
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let inHeader = Int.random(in: 0..<5, using: &generator) > 0
                let position = Int.random(in: 0..<(inHeader ? Self.baseDataOffset : bytes.count), using: &generator)
                bytes[position] = UInt8.random(in: 0...255, using: &generator)
            }
            if Self.outcome(bytes) == .parsed { outcomes.parsed += 1 } else { outcomes.rejected += 1 }
        }
        // Both kinds occur, so the corruptions reach past the magic and the counts.
        #expect(outcomes.parsed > 50 && outcomes.rejected > 500)
    }

    @Test("hostile values written at every header offset (counts, lengths, types, dims, offsets) parse or throw")
    func targetedCorruptions() {
        let values64: [UInt64] = [0, 1, 5, 13, 31, 33, 1 << 32, 1 << 60, 1 << 63, .max]
        let values32: [UInt32] = [0, 1, 5, 13, 99, .max]
        var cases = 0
        for position in 0..<Self.baseDataOffset {
            for value in values64 where position + 8 <= Self.base.count {
                var bytes = Self.base
                withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(position..<position + 8, with: $0) }
                _ = Self.outcome(bytes)
                cases += 1
            }
            for value in values32 {
                var bytes = Self.base
                withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(position..<position + 4, with: $0) }
                _ = Self.outcome(bytes)
                cases += 1
            }
        }
        #expect(cases == Self.baseDataOffset * 16)
    }

    @Test("through init(path:) (the mmap path), corrupted files give the same outcome as from memory")
    func mappedCorruptions() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SplitMix64(seed: 42)
        var inputs = [Self.base, Array(Self.base.prefix(Self.base.count - 1)), Array(Self.base.prefix(100))]
        for _ in 0..<9 {
            var bytes = Self.base
            bytes[Int.random(in: 0..<Self.baseDataOffset, using: &generator)] = .random(in: 0...255, using: &generator)
            inputs.append(bytes)
        }
        for (index, bytes) in inputs.enumerated() {
            let path = "\(directory)/case\(index).gguf"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            switch Self.outcome(bytes) {
            case .parsed: #expect(Self.outcome(bytes, path: path) == .parsed)
            case .rejected(let message): #expect(Self.outcome(bytes, path: path) == .rejected("\(path): \(message)"))
            }
        }
    }
}

/// A small seeded generator (SplitMix64) so every run corrupts the same bytes.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
