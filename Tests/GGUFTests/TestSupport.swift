import Foundation
import Testing
import GGUF
import Kernels

/// Hand-built GGUF bytes, written field by field without `GGUFWriter`, so reader tests do not depend on
/// the writer and can build files the writer refuses to make.
struct RawGGUF {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }

    /// u64 length, then the bytes as given (which need not be UTF-8).
    mutating func string(_ utf8: [UInt8]) {
        u64(UInt64(utf8.count))
        bytes += utf8
    }

    mutating func string(_ text: String) { string(Array(text.utf8)) }

    mutating func header(version: UInt32 = 3, tensorCount: UInt64, keyValueCount: UInt64) {
        bytes += Array("GGUF".utf8)
        u32(version)
        u64(tensorCount)
        u64(keyValueCount)
    }

    /// A uint32 metadata entry (value type 4).
    mutating func keyValue(_ key: String, uint32 value: UInt32) {
        string(key)
        u32(4)
        u32(value)
    }

    /// A string metadata entry (value type 8).
    mutating func keyValue(_ key: String, string value: String) {
        string(key)
        u32(8)
        string(value)
    }

    mutating func tensorInfo(_ name: String, dimensions: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dimensions.count))
        dimensions.forEach { u64($0) }
        u32(type)
        u64(offset)
    }

    mutating func pad(to alignment: Int) {
        bytes += [UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)
    }

    mutating func zeros(_ count: Int) {
        bytes += [UInt8](repeating: 0, count: count)
    }

    /// A file with no tensors and one metadata entry, which `entry` writes.
    static func oneKeyValue(_ entry: (inout RawGGUF) -> Void) -> [UInt8] {
        var raw = RawGGUF()
        raw.header(tensorCount: 0, keyValueCount: 1)
        entry(&raw)
        return raw.bytes
    }

    /// A file with one tensor `t` and `dataBytes` bytes of (zero) data after the aligned header.
    static func oneTensor(dimensions: [UInt64], type: UInt32 = TensorType.f32.rawValue, offset: UInt64 = 0,
                          dataBytes: Int) -> [UInt8] {
        var raw = RawGGUF()
        raw.header(tensorCount: 1, keyValueCount: 0)
        raw.tensorInfo("t", dimensions: dimensions, type: type, offset: offset)
        raw.pad(to: 32)
        raw.zeros(dataBytes)
        return raw.bytes
    }
}

/// The message of the `GGUFError` that parsing `bytes` throws; nil when it parses. Any other error is a test
/// failure, reported as such in the returned text.
func parseError(_ bytes: [UInt8]) -> String? {
    do {
        _ = try GGUFFile(bytes: bytes)
        return nil
    } catch let error as GGUFError {
        return error.message
    } catch {
        return "not a GGUFError: \(error)"
    }
}

/// A writer holding one value of every metadata type, nested arrays and tensors of several types and shapes.
func sampleWriter(alignment: Int = 32) throws -> GGUFWriter {
    let writer = GGUFWriter(alignment: alignment)
    writer.set("general.architecture", .string("qwen2moe"))
    writer.set("test.uint8", .uint8(.max))
    writer.set("test.int8", .int8(.min))
    writer.set("test.uint16", .uint16(.max))
    writer.set("test.int16", .int16(.min))
    writer.set("test.uint32", .uint32(.max))
    writer.set("test.int32", .int32(.min))
    writer.set("test.float32", .float32(-3.5e-7))
    writer.set("test.bool", .bool(true))
    writer.set("test.string", .string("naïve ✓ \u{0}"))
    writer.set("test.empty_string", .string(""))
    writer.set("test.uint64", .uint64(.max))
    writer.set("test.int64", .int64(.min))
    writer.set("test.float64", .float64(.pi))
    writer.set("test.tokens", .array([.string("<s>"), .string(""), .string("Ġthe")]))
    writer.set("test.empty_array", .array([]))
    writer.set("test.nested", .array([.array([.uint32(1), .uint32(2)]), .array([.string("x")]), .array([])]))
    for (name, dimensions, type) in sampleTensors {
        let count = try #require(type.byteCount(elements: dimensions.reduce(1, *)))
        try writer.addTensor(name: name, dimensions: dimensions, type: type, bytes: pattern(count, seed: name.count))
    }
    return writer
}

/// Tensors of `sampleWriter`: (name, ggml dimensions, type), including 3-D expert stacks.
let sampleTensors: [(String, [Int], TensorType)] = [
    ("token_embd.weight", [8, 4], .f32),
    ("blk.0.ffn_gate_exps.weight", [256, 2, 3], .q4_K),
    ("blk.0.ffn_down_exps.weight", [64, 3, 2], .q8_0),
    ("blk.0.attn_norm.weight", [5], .bf16),
    ("blk.0.attn_q.weight", [32, 3], .q4_0),
    ("output.weight", [256, 1, 1, 2], .q6_K),
]

/// Deterministic filler bytes.
func pattern(_ count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ ($0 >> 8)) }
}

/// A fresh empty directory under the system temporary directory.
func temporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// The committed fixture `name` under Tests/GGUFTests/Fixtures.
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

/// The tensor's data bytes, read through the file's pointer.
func dataBytes(_ file: GGUFFile, _ tensor: GGUFTensorInfo) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: file.data(tensor), count: tensor.byteCount))
}
