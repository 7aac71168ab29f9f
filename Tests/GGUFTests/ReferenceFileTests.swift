import GGUF
import Kernels
import Testing

/// Files written by other producers read as they meant them.
struct ReferenceFileTests {
    @Test("a file written by the official gguf Python package (Fixtures/make_reference.py) reads correctly",
          arguments: [("reference.gguf", 32), ("reference_align64.gguf", 64)])
    func officialWriter(name: String, alignment: Int) throws {
        let file = try GGUFFile(path: fixturePath(name))
        #expect(file.version == 3)
        #expect(file.alignment == alignment)
        #expect(file.architecture == "qwen2moe")
        let ownKeys = ["test.uint8", "test.int8", "test.uint16", "test.int16", "test.uint32", "test.int32",
                       "test.float32", "test.bool", "test.string", "test.uint64", "test.int64", "test.float64",
                       "tokenizer.ggml.tokens", "test.int_array"]
        #expect(file.metadataKeys == ["general.architecture"] + (alignment == 32 ? [] : ["general.alignment"]) + ownKeys)
        #expect(file.metadata["test.uint8"] == .uint8(200))
        #expect(file.metadata["test.int8"] == .int8(-100))
        #expect(file.metadata["test.uint16"] == .uint16(60000))
        #expect(file.metadata["test.int16"] == .int16(-30000))
        #expect(file.metadata["test.uint32"] == .uint32(4_000_000_000))
        #expect(file.metadata["test.int32"] == .int32(-2_000_000_000))
        #expect(file.metadata["test.float32"] == .float32(0.5))
        #expect(file.metadata["test.bool"] == .bool(true))
        #expect(file.metadata["test.string"] == .string("héllo ✓"))
        #expect(file.metadata["test.uint64"] == .uint64(1 << 63 + 5))
        #expect(file.metadata["test.int64"] == .int64(-(1 << 62)))
        #expect(file.metadata["test.float64"] == .float64(-1.25))
        #expect(file.metadata["tokenizer.ggml.tokens"]?.strings == ["<s>", "</s>", "a", "ab"])
        #expect(file.metadata["test.int_array"] == .array([.int32(1), .int32(2), .int32(3)]))

        #expect(file.tensors.map(\.name) == ["token_embd.weight", "blk.0.ffn_gate_exps.weight", "blk.0.attn_q.weight"])
        let embedding = try #require(file.tensor("token_embd.weight"))
        #expect(embedding.dimensions == [8, 4])
        #expect(embedding.type == .f32)
        let floats = UnsafeBufferPointer(start: file.data(embedding).assumingMemoryBound(to: Float.self), count: 32)
        #expect(Array(floats) == (0..<32).map(Float.init))

        let experts = try #require(file.tensor("blk.0.ffn_gate_exps.weight"))
        #expect(experts.dimensions == [4, 3, 2])
        #expect(experts.type == .f16)
        let halves = dataBytes(file, experts)
        // Element 5 is 5/4 = 1.25, which is 0x3D00 in IEEE half precision.
        #expect(halves[10] == 0x00 && halves[11] == 0x3D)

        let quantized = try #require(file.tensor("blk.0.attn_q.weight"))
        #expect(quantized.dimensions == [32, 2])
        #expect(quantized.type == .q8_0)
        #expect(dataBytes(file, quantized) == (0..<68).map(UInt8.init))
        #expect(file.dataOffset + quantized.offset + quantized.byteCount <= file.fileSize)
    }

    @Test("a version 2 file (same layout as v3, built by hand) reads")
    func version2() throws {
        var raw = RawGGUF()
        raw.header(version: 2, tensorCount: 1, keyValueCount: 2)
        raw.keyValue("general.architecture", string: "llama")
        raw.keyValue("llama.block_count", uint32: 2)
        raw.tensorInfo("output_norm.weight", dimensions: [4, 2], type: TensorType.f32.rawValue, offset: 0)
        raw.pad(to: 32)
        let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        values.forEach { raw.u32($0.bitPattern) }

        let file = try GGUFFile(bytes: raw.bytes)
        #expect(file.version == 2)
        #expect(file.alignment == 32)
        #expect(file.architecture == "llama")
        #expect(file.metadata["llama.block_count"]?.int == 2)
        #expect(file.dataOffset == 160)  // a 160-byte header, already aligned
        let tensor = try #require(file.tensor("output_norm.weight"))
        #expect(tensor.byteCount == 32)
        let floats = UnsafeBufferPointer(start: file.data(tensor).assumingMemoryBound(to: Float.self), count: 8)
        #expect(Array(floats) == values)
    }
}
