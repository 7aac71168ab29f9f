import Foundation
import GGUF
import Kernels
import Testing

/// Each way a file can be malformed ends in a `GGUFError` whose message names the problem and its place.
struct MalformedFileTests {
    private let f32 = TensorType.f32.rawValue

    @Test("files that are not GGUF, or a version we do not read, are rejected by name")
    func preamble() {
        #expect(parseError([]) == "file is 0 bytes: too short for a GGUF header (24 bytes)")
        #expect(parseError(Array("GGU".utf8)) == "file is 3 bytes: too short for a GGUF header (24 bytes)")
        #expect(parseError(Array("PK\u{3}\u{4}rest of a zip".utf8))
            == "not a GGUF file: magic at byte 0 is 50 4b 03 04, expected 47 47 55 46 (\"GGUF\")")

        var raw = RawGGUF()
        raw.header(version: 1, tensorCount: 0, keyValueCount: 0)
        #expect(parseError(raw.bytes)?.hasPrefix("GGUF version 1 (at byte 4) is not supported") == true)
        raw = RawGGUF()
        raw.header(version: 7, tensorCount: 0, keyValueCount: 0)
        #expect(parseError(raw.bytes) == "unsupported GGUF version 7 at byte 4 (supported: 2 and 3)")
        raw = RawGGUF()
        raw.header(version: UInt32(3).byteSwapped, tensorCount: 0, keyValueCount: 0)
        #expect(parseError(raw.bytes)?.contains("looks like a big-endian file") == true)
        #expect(parseError(Array(raw.bytes.prefix(6))) == "version at byte 4 needs 4 bytes, but the file ends at byte 6")
    }

    @Test("absurd counts are rejected before anything is allocated for them")
    func absurdCounts() {
        var raw = RawGGUF()
        raw.header(tensorCount: 1 << 60, keyValueCount: 0)
        #expect(parseError(raw.bytes)
            == "tensor count 1152921504606846976 at byte 8 is impossible: the 8 bytes left hold at most 0")
        raw = RawGGUF()
        raw.header(tensorCount: 0, keyValueCount: .max)
        #expect(parseError(raw.bytes)
            == "metadata count 18446744073709551615 at byte 16 is impossible: the 0 bytes left hold at most 0")

        raw = RawGGUF()
        raw.header(tensorCount: 0, keyValueCount: 1)
        raw.string("tokens")
        raw.u32(9)  // array
        raw.u32(8)  // of strings
        raw.u64(1 << 60)
        raw.zeros(64)
        #expect(parseError(raw.bytes) == "element count of metadata 'tokens' 1152921504606846976 at byte 46 is "
            + "impossible: the 64 bytes left hold at most 8")
    }

    @Test("bad strings: lengths past the end and invalid UTF-8 in keys, values and tensor names")
    func strings() {
        let pastEnd = RawGGUF.oneKeyValue { raw in
            raw.u64(1 << 40)
            raw.bytes += Array("key".utf8)
            raw.zeros(10)
        }
        #expect(parseError(pastEnd)
            == "metadata key #0 at byte 24 has length 1099511627776, past the end of the file (13 bytes left)")
        #expect(parseError(RawGGUF.oneKeyValue { $0.string([0x6B, 0xFF, 0x79]); $0.u32(0); $0.u8(1) })
            == "metadata key #0 at byte 24 is not valid UTF-8")
        // A truncated 3-byte sequence.
        #expect(parseError(RawGGUF.oneKeyValue { $0.string("general.name"); $0.u32(8); $0.string([0xE2, 0x9C]) })
            == "metadata 'general.name' at byte 48 is not valid UTF-8")

        var raw = RawGGUF()
        raw.header(tensorCount: 1, keyValueCount: 0)
        raw.string([0xC0, 0x80])  // overlong NUL
        raw.u32(1)
        raw.u64(1)
        raw.u32(f32)
        raw.u64(0)
        #expect(parseError(raw.bytes) == "name of tensor #0 at byte 24 is not valid UTF-8")
    }

    @Test("bad metadata: unknown value types, duplicate keys, bad bools, deep nesting, bad alignment")
    func metadata() {
        #expect(parseError(RawGGUF.oneKeyValue { $0.string("x"); $0.u32(13) })
            == "metadata 'x' has unknown value type 13 at byte 33 (valid: 0 to 12)")
        #expect(parseError(RawGGUF.oneKeyValue { $0.string("flag"); $0.u32(7); $0.u8(2) })
            == "metadata 'flag' at byte 40 is a bool of value 2 (must be 0 or 1)")
        let deep = RawGGUF.oneKeyValue { raw in
            raw.string("deep")
            raw.u32(9)
            for _ in 0..<100 {
                raw.u32(9)
                raw.u64(1)
            }
        }
        #expect(parseError(deep)?.hasSuffix("at byte 232 nests arrays deeper than 16 levels") == true)
        #expect(parseError(RawGGUF.oneKeyValue { $0.keyValue("general.alignment", uint32: 48) })
            == "metadata 'general.alignment' is 48, not a power of two")
        #expect(parseError(RawGGUF.oneKeyValue { $0.keyValue("general.alignment", uint32: 0) })
            == "metadata 'general.alignment' is 0, not a power of two")
        #expect(parseError(RawGGUF.oneKeyValue { $0.string("general.alignment"); $0.u32(10); $0.u64(64) })
            == "metadata 'general.alignment' has type uint64 (must be uint32)")

        var raw = RawGGUF()
        raw.header(tensorCount: 0, keyValueCount: 2)
        raw.keyValue("x", uint32: 1)
        raw.keyValue("x", uint32: 2)
        #expect(parseError(raw.bytes) == "duplicate metadata key 'x' at byte 41")
    }

    @Test("bad tensor infos: dimension counts, sizes, overflow, types, block multiples")
    func tensorInfos() {
        let info = "tensor 't' (info at byte 24)"
        #expect(parseError(RawGGUF.oneTensor(dimensions: [], dataBytes: 0))
            == "\(info) has 0 dimensions (must be 1 to 4)")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [1, 1, 1, 1, 1], dataBytes: 0))
            == "\(info) has 5 dimensions (must be 1 to 4)")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [4, 0], dataBytes: 0))
            == "\(info) has dimension 1 of size 0 (must be at least 1)")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [1 << 63], dataBytes: 0))
            == "\(info) has dimension 0 of size 9223372036854775808, which is negative as int64")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [1 << 32, 1 << 32], dataBytes: 0))
            == "\(info) has shape [4294967296, 4294967296] whose element count overflows")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [1 << 31, 1 << 31, 1], dataBytes: 0))
            == "\(info) has shape [2147483648, 2147483648, 1] whose byte size overflows")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [32], type: 99, dataBytes: 0))
            == "\(info) has unknown or unsupported tensor type 99 at byte 45")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [32], type: 4, dataBytes: 0))  // Q4_2, long removed
            == "\(info) has unknown or unsupported tensor type 4 at byte 45")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [16, 2], type: TensorType.q4_K.rawValue, dataBytes: 0))
            == "\(info) has row length 16, not a multiple of the Q4_K block size 256")
    }

    @Test("bad tensor data: misaligned offsets, data past the end, overlaps, duplicate names")
    func tensorData() {
        let info = "tensor 't' (info at byte 24)"
        #expect(parseError(RawGGUF.oneTensor(dimensions: [4], offset: 4, dataBytes: 64))
            == "\(info) has data offset 4 at byte 49, not a multiple of the alignment 32")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [4], offset: 1 << 63, dataBytes: 64))
            == "\(info) has data offset 9223372036854775808 at byte 49, which is negative as int64")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [1024], offset: 32, dataBytes: 64))
            == "tensor 't' data (offset 32, 4096 bytes) runs past the end of the file (128 bytes; "
            + "the data section starts at byte 64)")
        #expect(parseError(RawGGUF.oneTensor(dimensions: [4], offset: UInt64(Int.max) & ~31, dataBytes: 64))?
            .hasSuffix("runs past the end of the file (128 bytes; the data section starts at byte 64)") == true)
        #expect(parseError(Array(RawGGUF.oneTensor(dimensions: [4], dataBytes: 16).prefix(63)))
            == "the tensor data section would start at byte 64 (header end 57 aligned to 32), "
            + "past the end of the file (63 bytes)")

        var raw = RawGGUF()
        raw.header(tensorCount: 2, keyValueCount: 0)
        raw.tensorInfo("a", dimensions: [16], type: f32, offset: 32)
        raw.tensorInfo("b", dimensions: [16], type: f32, offset: 0)
        raw.pad(to: 32)
        raw.zeros(128)
        #expect(parseError(raw.bytes) == "tensor 'b' data (offset 0, 64 bytes) overlaps tensor 'a' (offset 32)")

        raw = RawGGUF()
        raw.header(tensorCount: 2, keyValueCount: 0)
        raw.tensorInfo("a", dimensions: [4], type: f32, offset: 0)
        raw.tensorInfo("a", dimensions: [4], type: f32, offset: 32)
        raw.pad(to: 32)
        raw.zeros(64)
        #expect(parseError(raw.bytes) == "duplicate tensor name 'a' (tensor #1)")
    }

    @Test("init(path:) names the file, and rejects missing, empty and non-regular files")
    func pathErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: GGUFError("cannot open '\(directory)/missing.gguf': No such file or directory")) {
            try GGUFFile(path: directory + "/missing.gguf")
        }
        #expect(throws: GGUFError("'\(directory)' is not a regular file")) { try GGUFFile(path: directory) }
        try Data().write(to: URL(fileURLWithPath: directory + "/empty.gguf"))
        #expect(throws: GGUFError("'\(directory)/empty.gguf' is empty: too short for a GGUF header")) {
            try GGUFFile(path: directory + "/empty.gguf")
        }
        try Data("GGUFxxxx".utf8).write(to: URL(fileURLWithPath: directory + "/bad.gguf"))
        #expect(throws: GGUFError("\(directory)/bad.gguf: unsupported GGUF version 2021161080 at byte 4 "
            + "(supported: 2 and 3)")) {
            try GGUFFile(path: directory + "/bad.gguf")
        }
    }
}
