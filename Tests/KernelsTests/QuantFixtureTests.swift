import Foundation
import CKernels
import Testing
@testable import Kernels

/// Q2_K, Q3_K, IQ4_NL, IQ4_XS and MXFP4 against an independent decoder: blocks of pseudo-random bytes and the
/// floats the `gguf` Python package (gguf-py's numpy dequantizers) decodes them to, with an activation vector and
/// the float64 dot product (Tests/Fixtures/quants, written by tools/make_quant_fixtures.py).
@Suite("golden blocks from the gguf package")
struct QuantFixtureTests {
    static let types: [TensorType] = [.q2_K, .q3_K, .iq4_nl, .iq4_xs, .mxfp4]

    struct Fixture: Decodable {
        let type: String
        let type_id: UInt32
        let elements: Int
        let bytes: String
        let values: String
        let x: String
        let dot: Double
        let magnitude: Double

        var blockBytes: [UInt8] { Self.decodeHex(bytes) }
        var floats: [Float] { Self.decodeFloats(values) }
        var activations: [Float] { Self.decodeFloats(x) }

        static func decodeHex(_ hex: String) -> [UInt8] {
            let digits = Array(hex.utf8)
            func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
            return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
        }

        /// Little-endian float32s.
        static func decodeFloats(_ hex: String) -> [Float] {
            let b = decodeHex(hex)
            return stride(from: 0, to: b.count, by: 4).map {
                Float(bitPattern: UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24)
            }
        }
    }

    static func fixture(_ type: TensorType) throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quants/\(type.name.lowercased()).json")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(f.type == type.name && f.type_id == type.rawValue)
        #expect(f.blockBytes.count == type.byteCount(elements: f.elements))
        return f
    }

    @Test("blocks dequantize to the gguf package's floats exactly", arguments: types)
    func dequantizeMatchesGGUF(type: TensorType) throws {
        let f = try Self.fixture(type)
        let got = dequantized(f.blockBytes, as: type, count: f.elements), expected = f.floats
        var mismatches = 0
        for i in 0..<f.elements where got[i].bitPattern != expected[i].bitPattern {
            if mismatches < 5 { Issue.record("\(type.name) element \(i): \(got[i]) vs \(expected[i])") }
            mismatches += 1
        }
        #expect(mismatches == 0, "\(type.name): \(mismatches) elements differ")
        // Every block decodes to something (the fixtures have no all-zero rows but for the zeroed quant bits).
        #expect(got.contains { $0 != 0 })
    }

    @Test("the float dot product equals the float64 one within 1e-6 of Σ|w·x|", arguments: types)
    func floatDotMatchesGGUF(type: TensorType) throws {
        let f = try Self.fixture(type)
        let got = quantDot(f.blockBytes, as: type, f.activations)
        let error = abs(Double(got) - f.dot) / f.magnitude
        #expect(error <= 1e-6, "\(type.name): \(got) vs \(f.dot) (relative \(error))")
    }

    /// The fixture as a matrix: 4 rows of 256 (rows of whole blocks for every type) against `n` activation rows
    /// made from the fixture's x (row t: x rotated by 256·t).
    static func matrixCase(_ f: Fixture, n: Int) -> (w: [UInt8], x: [Float], expected: [(value: Double, magnitude: Double)]) {
        let rows = 4, cols = 256
        let values = f.floats, x0 = f.activations
        var x: [Float] = []
        for t in 0..<n { x += Array(x0[(cols * t) % 1024..<1024] + x0[0..<(cols * t) % 1024]).prefix(cols) }
        var expected: [(value: Double, magnitude: Double)] = []
        for t in 0..<n {
            for r in 0..<rows { expected.append(referenceDot(Array(values[r * cols..<(r + 1) * cols]), Array(x[t * cols..<(t + 1) * cols]))) }
        }
        return (f.blockBytes, x, expected)
    }

    @Test("8-bit activation kernels at every level: within 1 % of Σ|w·x| of the exact product, levels agree to 1e-6",
          arguments: types)
    func cKernelsAtEveryLevel(type: TensorType) throws {
        let f = try Self.fixture(type)
        let rows = 4, cols = 256, n = 5
        let (w, x, expected) = Self.matrixCase(f, n: n)
        let act = SIMDKernelTests.activations(type, x, n: n, cols: cols)
        let portable = SIMDKernelTests.gemm(level: 0, type, w, rows: rows, cols: cols, act, n: n)
        for i in 0..<portable.count {
            let error = relativeError(portable[i], expected[i])
            #expect(error <= 1e-2, "\(type.name) portable [\(i)]: \(portable[i]) vs \(expected[i].value)")
        }
        // Each level against the portable C kernel, and the whole fixture as one row of 1024 elements.
        let oneRow = SIMDKernelTests.activations(type, f.activations, n: 1, cols: 1024)
        let portableRow = SIMDKernelTests.gemm(level: 0, type, w, rows: 1, cols: 1024, oneRow, n: 1)[0]
        #expect(abs(Double(portableRow) - f.dot) <= 1e-2 * f.magnitude, "\(type.name) 1024-element row: \(portableRow) vs \(f.dot)")
        for level in SIMDKernelTests.levels.dropFirst() {
            let name = String(cString: mk_isa_name(level))
            let simd = SIMDKernelTests.gemm(level: level, type, w, rows: rows, cols: cols, act, n: n)
            for i in 0..<portable.count {
                #expect(abs(Double(simd[i] - portable[i])) <= 1e-6 * max(1, expected[i].magnitude),
                        "\(type.name) level \(name) [\(i)]: \(simd[i]) vs \(portable[i])")
            }
            let row = SIMDKernelTests.gemm(level: level, type, w, rows: 1, cols: 1024, oneRow, n: 1)[0]
            #expect(abs(Double(row - portableRow)) <= 1e-6 * max(1, f.magnitude), "\(type.name) level \(name) 1024-element row")
        }
    }

    @Test("LinearAlgebra's matvec and matmul (exact and 8-bit, 1 to 5 rows, pooled) agree with the gguf floats",
          arguments: types)
    func linearAlgebraPaths(type: TensorType) throws {
        let f = try Self.fixture(type)
        let rows = 4, cols = 256
        let pool = ThreadPool(threads: 2)
        for n in [1, 5] {
            let (w, x, expected) = Self.matrixCase(f, n: n)
            var exact = [Float](repeating: .nan, count: n * rows), fast = exact
            w.withUnsafeBytes { raw in
                let m = WeightMatrix(type: type, rows: rows, cols: cols, data: raw.baseAddress!)
                LinearAlgebra.matmul(m, x, n: n, &exact, pool: pool, scratch: MatmulScratch(), activations: .exact)
                LinearAlgebra.matmul(m, x, n: n, &fast, pool: pool, scratch: MatmulScratch(), activations: .quantized)
            }
            for i in 0..<n * rows {
                #expect(relativeError(exact[i], expected[i]) <= 1e-5, "\(type.name) exact n=\(n) [\(i)]: \(exact[i]) vs \(expected[i].value)")
                #expect(relativeError(fast[i], expected[i]) <= 1e-2, "\(type.name) 8-bit n=\(n) [\(i)]: \(fast[i]) vs \(expected[i].value)")
            }
        }
    }

    @Test("MXFP4 hand block: E2M1 codes under the shared exponent give the OCP values (scale 2^(e − 127))")
    func mxfp4HandBlock() {
        // e = 127: scale 1, so the codes decode to the E2M1 values themselves; e = 129: ×4; e = 1: ×2^-126.
        var b = [UInt8](repeating: 0, count: 17 * 3)
        b[0] = 127
        b[1] = 0x21      // element 0: code 1 = 0.5, element 16: code 2 = 1.0
        b[2] = 0xF7      // element 1: code 7 = 6.0, element 17: code 15 = −6.0
        b[3] = 0x9D      // element 2: code 13 = −3.0, element 18: code 9 = −0.5
        b[17] = 129
        b[18] = 0x05     // element 32: code 5 = 3.0 → 12
        b[34] = 1
        b[35] = 0x04     // element 64: code 4 = 2.0 → 2^-125
        let v = dequantized(b, as: .mxfp4, count: 96)
        #expect(v[0] == 0.5 && v[16] == 1 && v[1] == 6 && v[17] == -6 && v[2] == -3 && v[18] == -0.5)
        #expect(v[32] == 12 && v[64] == 0x1p-125)
        #expect(v[3] == 0 && v[48] == 0)
    }

    @Test("Q3_K hand block: a set hmask bit means no −4, scales are 6-bit minus 32 with their top bits in bytes 8-11")
    func q3_KHandBlock() {
        var b = [UInt8](repeating: 0, count: 110)
        b[108] = 0x00; b[109] = 0x3C                     // d = 1
        // Scale 0: low nibble of byte 0 = 5, top bits from bits 0-1 of byte 8 = 2 → 37 − 32 = 5.
        // Scale 9 (elements 144..<160): high nibble of byte 1 = 3, bits 4-5 of byte 9 = 1 → 19 − 32 = −13.
        b[96 + 0] = 0x05; b[96 + 8] = 0x02
        b[96 + 1] = 0x30; b[96 + 9] = 0x10
        b[32 + 0] = 0b0000_0011                          // element 0: low bits 3 (j = 0); element 32 (j = 1): 0
        b[0] = 0b0000_0001                               // hmask bit 0 of byte 0: element 0 has its third bit
        b[32 + 32 + 16] = 0b0000_1000                    // element 128 + 32 + 16 = 176 (n 1, j 1, k 1): low bits 2
        let v = dequantized(b, as: .q3_K, count: 256)
        #expect(v[0] == 5 * (7 - 4))                     // q = 3 | 4
        #expect(v[1] == 5 * -4)                          // q = 0, no third bit
        // Element 176 uses scale 11 (bytes all zero: 0 − 32 = −32) and q = 2 − 4.
        #expect(v[176] == -32 * -2)
        #expect(v[144] == -13 * -4)
    }
}
