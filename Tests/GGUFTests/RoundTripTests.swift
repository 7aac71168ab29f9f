import Foundation
import GGUF
import Kernels
import Testing

/// What `GGUFWriter` writes, `GGUFFile` reads back unchanged.
struct RoundTripTests {
    @Test("every value type, nested arrays, key order and tensor bytes survive writer → reader",
          arguments: [32, 64])
    func roundTrip(alignment: Int) throws {
        let writer = try sampleWriter(alignment: alignment)
        let file = try GGUFFile(bytes: try writer.serialized())
        let expected = try GGUFFile(bytes: try sampleWriter(alignment: alignment).serialized())

        #expect(file.version == 3)
        #expect(file.alignment == alignment)
        #expect(file.architecture == "qwen2moe")
        #expect(file.metadata["test.uint8"] == .uint8(.max))
        #expect(file.metadata["test.int8"] == .int8(.min))
        #expect(file.metadata["test.uint16"] == .uint16(.max))
        #expect(file.metadata["test.int16"] == .int16(.min))
        #expect(file.metadata["test.uint32"] == .uint32(.max))
        #expect(file.metadata["test.int32"] == .int32(.min))
        #expect(file.metadata["test.float32"] == .float32(-3.5e-7))
        #expect(file.metadata["test.bool"] == .bool(true))
        #expect(file.metadata["test.string"] == .string("naïve ✓ \u{0}"))
        #expect(file.metadata["test.empty_string"] == .string(""))
        #expect(file.metadata["test.uint64"] == .uint64(.max))
        #expect(file.metadata["test.int64"] == .int64(.min))
        #expect(file.metadata["test.float64"] == .float64(.pi))
        #expect(file.metadata["test.tokens"]?.strings == ["<s>", "", "Ġthe"])
        #expect(file.metadata["test.empty_array"] == .array([]))
        #expect(file.metadata["test.nested"]
            == .array([.array([.uint32(1), .uint32(2)]), .array([.string("x")]), .array([])]))

        // Insertion order; general.alignment is added last, and only when it is not the default.
        let keys = ["general.architecture", "test.uint8", "test.int8", "test.uint16", "test.int16", "test.uint32",
                    "test.int32", "test.float32", "test.bool", "test.string", "test.empty_string", "test.uint64",
                    "test.int64", "test.float64", "test.tokens", "test.empty_array", "test.nested"]
        #expect(file.metadataKeys == keys + (alignment == 32 ? [] : ["general.alignment"]))
        #expect(file.metadata["general.alignment"] == (alignment == 32 ? nil : .uint32(UInt32(alignment))))

        #expect(file.tensors.map(\.name) == sampleTensors.map(\.0))
        #expect(file.dataOffset % alignment == 0)
        for (tensor, (name, dimensions, type)) in zip(file.tensors, sampleTensors) {
            #expect(tensor.dimensions == dimensions)
            #expect(tensor.type == type)
            #expect(tensor.offset % alignment == 0)
            #expect(tensor.elementCount == dimensions.reduce(1, *))
            #expect(tensor.byteCount == type.byteCount(elements: tensor.elementCount))
            #expect(dataBytes(file, tensor) == pattern(tensor.byteCount, seed: name.count))
            #expect(file.tensor(name) == tensor)
            #expect(expected.tensor(name) == tensor)
        }
        #expect(file.tensor("missing") == nil)
    }

    @Test("set replaces an existing key in place and keeps the others' order")
    func replaceKeepsOrder() throws {
        let writer = GGUFWriter()
        writer.set("a", .uint32(1))
        writer.set("b", .string("two"))
        writer.set("c", .bool(false))
        writer.set("a", .string("one"))
        let file = try GGUFFile(bytes: try writer.serialized())
        #expect(file.metadataKeys == ["a", "b", "c"])
        #expect(file.metadata["a"] == .string("one"))
        #expect(file.tensors.isEmpty)
    }

    @Test("an empty array copied from a file keeps its element type (llama.cpp checks it for the merges)")
    func emptyArrayKeepsItsType() throws {
        let writer = GGUFWriter()
        writer.set("tokenizer.ggml.merges", .array([]))
        var bytes = try writer.serialized()
        // key "tokenizer.ggml.merges", value type 9 (array), element type (u32), count (u64 0): make it string (8).
        let key = Array("tokenizer.ggml.merges".utf8)
        let at = try #require((0...(bytes.count - key.count)).first { Array(bytes[$0..<($0 + key.count)]) == key })
        let elementType = at + key.count + 4
        #expect(bytes[elementType] == 0, "written as uint8 when nothing says otherwise")
        bytes[elementType] = 8
        let file = try GGUFFile(bytes: bytes)
        #expect(file.metadata["tokenizer.ggml.merges"] == .array([]))

        let copy = GGUFWriter()
        copy.keepEmptyArrayTypes(of: file)
        for key in file.metadataKeys { copy.set(key, file.metadata[key]!) }
        #expect(try copy.serialized()[elementType] == 8)
        let streamed = try temporaryDirectory() + "/streamed.gguf"
        let stream = try GGUFStreamWriter(path: streamed, metadata: [("tokenizer.ggml.merges", .array([]))], tensors: [],
                                          emptyArraysLike: file)
        try stream.finish()
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: streamed)))[elementType] == 8)
    }

    @Test("arrays nest up to the depth limit and read back")
    func deepestAllowedNesting() throws {
        var value = GGUFValue.array([.int16(-7)])
        for _ in 1..<16 { value = .array([value]) }
        let writer = GGUFWriter()
        writer.set("deep", value)
        #expect(try GGUFFile(bytes: try writer.serialized()).metadata["deep"] == value)

        writer.set("deep", .array([value]))
        #expect(throws: GGUFError("metadata 'deep' nests arrays deeper than 16 levels")) { try writer.serialized() }
    }

    @Test("write(to:) produces the same bytes as serialized(), replaces the old file and leaves no temporary file")
    func atomicWrite() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.gguf"
        try Data("old contents".utf8).write(to: URL(fileURLWithPath: path))

        let writer = try sampleWriter(alignment: 64)
        try writer.write(to: path)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == writer.serialized())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.gguf"])

        let file = try GGUFFile(path: path)
        #expect(file.tensors.count == sampleTensors.count)
        #expect(file.alignment == 64)
    }

    @Test("write(to:) into a missing directory throws and creates nothing")
    func writeFailure() throws {
        let error = #expect(throws: GGUFError.self) { try GGUFWriter().write(to: "/nonexistent-dir/x.gguf") }
        #expect(error?.message.contains("cannot create a temporary file beside '/nonexistent-dir/x.gguf'") == true)
    }

    @Test("the writer refuses tensors and metadata it cannot write correctly, saying why")
    func writerErrors() throws {
        let writer = GGUFWriter()
        try writer.addTensor(name: "w", dimensions: [2], type: .f32, bytes: [UInt8](repeating: 0, count: 8))
        #expect(throws: GGUFError("tensor 'w' was already added")) {
            try writer.addTensor(name: "w", dimensions: [2], type: .f32, bytes: [UInt8](repeating: 0, count: 8))
        }
        #expect(throws: GGUFError("tensor 'x' of shape [4, 2] and type F16 needs 16 bytes, got 15")) {
            try writer.addTensor(name: "x", dimensions: [4, 2], type: .f16, bytes: [UInt8](repeating: 0, count: 15))
        }
        #expect(throws: GGUFError("tensor 'x' has row length 16, not a multiple of the Q8_0 block size 32")) {
            try writer.addTensor(name: "x", dimensions: [16, 2], type: .q8_0, bytes: [])
        }
        #expect(throws: GGUFError("tensor 'x' has 5 dimensions (must be 1 to 4)")) {
            try writer.addTensor(name: "x", dimensions: [1, 1, 1, 1, 1], type: .f32, bytes: [])
        }
        #expect(throws: GGUFError("tensor 'x' has 0 dimensions (must be 1 to 4)")) {
            try writer.addTensor(name: "x", dimensions: [], type: .f32, bytes: [])
        }
        #expect(throws: GGUFError("tensor 'x' has dimension 1 of size 0 (must be at least 1)")) {
            try writer.addTensor(name: "x", dimensions: [4, 0], type: .f32, bytes: [])
        }
        #expect(throws: GGUFError("tensor 'x' has shape [4294967296, 4294967296] whose element count overflows")) {
            try writer.addTensor(name: "x", dimensions: [1 << 32, 1 << 32], type: .f32, bytes: [])
        }
        #expect(throws: GGUFError("tensor 'x' has shape [4611686018427387904] whose byte size overflows")) {
            try writer.addTensor(name: "x", dimensions: [1 << 62], type: .f32, bytes: [])
        }

        writer.set("mixed", .array([.uint32(1), .string("2")]))
        #expect(throws: GGUFError(
            "metadata 'mixed' is an array mixing uint32 and string elements (a GGUF array holds one type)")) {
            try writer.serialized()
        }
        writer.set("mixed", .array([.uint32(1)]))
        #expect(throws: Never.self) { try writer.serialized() }

        writer.set("general.alignment", .uint32(64))
        #expect(throws: GGUFError("metadata 'general.alignment' is uint32(64) but the writer aligns to 32")) {
            try writer.serialized()
        }
        #expect(throws: GGUFError("alignment 48 is not a power of two that fits in a uint32")) {
            try GGUFWriter(alignment: 48).serialized()
        }
    }
}

/// `GGUFStreamWriter` writes the same bytes as `GGUFWriter`, whatever the pieces the data comes in.
@Suite struct StreamWriterTests {
    @Test func streamedFileEqualsTheInMemoryOne() throws {
        let tensors: [(String, [Int], TensorType)] = [("a.weight", [64, 3], .f32), ("b", [5], .f32), ("c.weight", [32, 2], .q8_0)]
        let memory = GGUFWriter(alignment: 64)
        memory.set("general.architecture", .string("llama"))
        memory.set("x.list", .array([.uint32(1), .uint32(2)]))
        var datas: [[UInt8]] = []
        for (i, (name, dims, type)) in tensors.enumerated() {
            let bytes = (0..<type.byteCount(elements: dims.reduce(1, *))!).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
            datas.append(bytes)
            try memory.addTensor(name: name, dimensions: dims, type: type, bytes: bytes)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let stream = try GGUFStreamWriter(
            path: path, metadata: [("general.architecture", .string("llama")), ("x.list", .array([.uint32(1), .uint32(2)]))],
            tensors: tensors.map { .init(name: $0.0, dimensions: $0.1, type: $0.2) }, alignment: 64)
        let all = datas.flatMap { $0 }
        var offset = 0
        for piece in [1, 100, 7, all.count] {
            let end = min(all.count, offset + piece)
            try all[offset..<end].withUnsafeBytes { try stream.append($0) }
            offset = end
        }
        try stream.finish()
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == memory.serialized())
    }

    @Test func missingDataIsAnErrorAndLeavesNoFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).gguf").path
        let stream = try GGUFStreamWriter(path: path, metadata: [], tensors: [.init(name: "t", dimensions: [4], type: .f32)])
        try [UInt8](repeating: 0, count: 8).withUnsafeBytes { try stream.append($0) }
        #expect(throws: GGUFError.self) { try stream.finish() }
        stream.abandon()
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
