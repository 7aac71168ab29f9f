import Foundation
import CKernels
import Testing
@testable import Kernels

/// The C kernels: every SIMD level this CPU has against the portable C kernels, the portable kernels with
/// 8-bit activations against the exact float product, and the pool-split product against one thread.
@Suite("SIMD kernels")
struct SIMDKernelTests {
    static let types: [TensorType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
                                      .iq4_nl, .iq4_xs, .mxfp4]
    static var levels: [Int32] { Array(0...mk_isa_supported()) }

    /// `rows` random rows of `type` with `cols` elements each.
    static func matrix(_ type: TensorType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
        (0..<rows).flatMap { randomRow(type, elements: cols, seed: seed &+ UInt64($0)) }
    }

    /// n activation rows quantized for `type`.
    static func activations(_ type: TensorType, _ x: [Float], n: Int, cols: Int) -> (bytes: [UInt8], stride: Int) {
        let stride = mk_activation_row_bytes(type.rawValue, cols)
        var bytes = [UInt8](repeating: 0, count: stride * n)
        x.withUnsafeBufferPointer { xs in
            bytes.withUnsafeMutableBytes { out in
                for t in 0..<n { mk_quantize_activations(type.rawValue, xs.baseAddress! + t * cols, out.baseAddress! + t * stride, cols) }
            }
        }
        return (bytes, stride)
    }

    static func gemm(level: Int32, _ type: TensorType, _ w: [UInt8], rows: Int, cols: Int,
                     _ act: (bytes: [UInt8], stride: Int), n: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: n * rows)
        let rowBytes = type.byteCount(elements: cols)!
        w.withUnsafeBytes { wp in
            act.bytes.withUnsafeBytes { ap in
                y.withUnsafeMutableBufferPointer { yp in
                    mk_gemm_rows_isa(level, type.rawValue, wp.baseAddress!, rowBytes, cols, 0, rows,
                                     ap.baseAddress!, act.stride, n, yp.baseAddress!, rows)
                }
            }
        }
        return y
    }

    /// Σ w·x in double against the dequantized weights, and Σ|w·x|, for every output (t × rows + r).
    static func exactProducts(_ type: TensorType, _ w: [UInt8], _ x: [Float], rows: Int, cols: Int, n: Int)
        -> [(value: Double, magnitude: Double)] {
        let rowBytes = type.byteCount(elements: cols)!
        var out = [(value: Double, magnitude: Double)](repeating: (0, 0), count: n * rows)
        for r in 0..<rows {
            let weights = dequantized(Array(w[r * rowBytes..<(r + 1) * rowBytes]), as: type, count: cols)
            for t in 0..<n { out[t * rows + r] = referenceDot(weights, Array(x[t * cols..<(t + 1) * cols])) }
        }
        return out
    }

    @Test("each SIMD level gives the portable kernels' products", arguments: types)
    func simdMatchesPortable(type: TensorType) {
        let rows = 7, cols = 768, n = 5
        let w = Self.matrix(type, rows: rows, cols: cols, seed: 11)
        let x = randomFloats(n * cols, scale: 2, seed: 99)
        let act = Self.activations(type, x, n: n, cols: cols)
        let portable = Self.gemm(level: 0, type, w, rows: rows, cols: cols, act, n: n)
        let finite = portable.allSatisfy { $0.isFinite }
        #expect(finite)
        // Integer sums are exact; float sums differ in order, so the tolerance scales with Σ|w·x| of the output.
        let magnitude = Self.exactProducts(type, w, x, rows: rows, cols: cols, n: n).map(\.magnitude)
        for level in Self.levels.dropFirst() {
            let simd = Self.gemm(level: level, type, w, rows: rows, cols: cols, act, n: n)
            let name = String(cString: mk_isa_name(level))
            for i in 0..<portable.count {
                let difference = Double(abs(simd[i] - portable[i])), tolerance = 1e-6 * max(1, magnitude[i])
                #expect(difference <= tolerance, "\(type.name) level \(name) [\(i)]: \(simd[i]) vs \(portable[i])")
            }
        }
    }

    /// Every path of the row driver: 1 activation row (single dots), 2 and 3 (four weight rows against one activation
    /// row), 4 and 5 (four-row kernels, a remainder of one), 8, 9, 17 and 32 (4×4 tiles, and the 16-row activation
    /// panels with a partly filled last panel, one or two panels a tile); 6, 7 and 9 weight rows (remainders of
    /// 2, 3 and 1 beyond groups of four); rows of an even and an odd number of blocks, and of 3 (the 512-bit
    /// kernels take two or four blocks per step, the tiles need a multiple of 64 columns).
    @Test("each SIMD level gives the portable kernels' products for 1 to 32 activation rows and odd block counts",
          arguments: types)
    func simdMatchesPortableShapes(type: TensorType) {
        for (rows, cols) in type.blockSize == 256 ? [(7, 512), (6, 1280), (9, 512)] : [(7, 768), (6, 800), (9, 96)] {
            let w = Self.matrix(type, rows: rows, cols: cols, seed: 23)
            for n in [1, 2, 3, 4, 5, 8, 9, 17, 32] {
                let x = randomFloats(n * cols, scale: 2, seed: 7 &+ UInt64(n))
                let act = Self.activations(type, x, n: n, cols: cols)
                let portable = Self.gemm(level: 0, type, w, rows: rows, cols: cols, act, n: n)
                let magnitude = Self.exactProducts(type, w, x, rows: rows, cols: cols, n: n).map(\.magnitude)
                for level in Self.levels.dropFirst() {
                    let simd = Self.gemm(level: level, type, w, rows: rows, cols: cols, act, n: n)
                    let name = String(cString: mk_isa_name(level))
                    for i in 0..<portable.count {
                        let difference = Double(abs(simd[i] - portable[i])), tolerance = 1e-6 * max(1, magnitude[i])
                        #expect(difference <= tolerance, "\(type.name) level \(name) cols \(cols) n \(n) [\(i)]: \(simd[i]) vs \(portable[i])")
                    }
                }
            }
        }
    }

    /// The largest products the K-quant decode kernels meet: every quant bit set (Q4_K nibbles 15, Q5_K 31, Q6_K 63),
    /// the largest scales and mins (Q6_K's int8 scales at both ends), activations at ±127 of their block's scale. The
    /// VNNI kernels pack sums of four products to 16 bits (at most 4 · 63 · 127 = 32,004) before the scales: a
    /// saturation there, or a scale or min taken from the wrong lane, shows here against the portable kernels.
    @Test("the K-quant decode kernels at their largest values equal the portable kernels", arguments: [TensorType.q4_K, .q5_K, .q6_K])
    func extremeKQuantBlocks(type: TensorType) {
        let rows = 6, cols = 768
        let blockBytes = type.byteCount(elements: 256)!
        var block = [UInt8](repeating: 0xFF, count: blockBytes)
        // f16 0x1400 (2^-10) as d, and as dmin for Q4_K / Q5_K.
        if type == .q6_K {
            block[208] = 0x00; block[209] = 0x14
            for s in 0..<16 { block[192 + s] = s % 3 == 0 ? 0x80 : 0x7F }
        } else {
            block[0] = 0x00; block[1] = 0x14; block[2] = 0x00; block[3] = 0x14
        }
        var w = [UInt8]()
        for r in 0..<rows {
            for b in 0..<(cols / 256) {
                var blk = block
                // Rows and super-blocks differ in their first scale byte, so lanes cannot stand in for each other.
                blk[type == .q6_K ? 192 + (r + b) % 16 : 4 + (r + b) % 12] = UInt8(0x3F &- UInt8(r + b))
                w += blk
            }
        }
        for n in [1, 2, 3] {
            // Each activation row at ±1 (alternating in runs of 17 for the second and third rows): ±127 quantized.
            let x = (0..<(n * cols)).map { i -> Float in i / cols == 0 || (i % cols / 17) % 2 == 0 ? 1 : -1 }
            let act = Self.activations(type, x, n: n, cols: cols)
            let portable = Self.gemm(level: 0, type, w, rows: rows, cols: cols, act, n: n)
            let magnitude = Self.exactProducts(type, w, x, rows: rows, cols: cols, n: n).map(\.magnitude)
            for level in Self.levels.dropFirst() {
                let simd = Self.gemm(level: level, type, w, rows: rows, cols: cols, act, n: n)
                for i in 0..<portable.count {
                    let difference = Double(abs(simd[i] - portable[i])), tolerance = 1e-6 * max(1, magnitude[i])
                    #expect(difference <= tolerance, "\(type.name) level \(level) n \(n) [\(i)]: \(simd[i]) vs \(portable[i])")
                }
            }
        }
    }

    @Test("a weight row's product does not depend on the rows computed beside it (four-row decode kernels, panels)",
          arguments: types)
    func rowGroupingIsBitExact(type: TensorType) {
        let rows = 9, cols = type.blockSize == 256 ? 768 : 800
        let w = Self.matrix(type, rows: rows, cols: cols, seed: 61)
        let rowBytes = type.byteCount(elements: cols)!
        for n in [1, 2, 3, 5, 9] {
            let act = Self.activations(type, randomFloats(n * cols, scale: 2, seed: 3 &+ UInt64(n)), n: n, cols: cols)
            for level in Self.levels {
                let together = Self.gemm(level: level, type, w, rows: rows, cols: cols, act, n: n)
                for r in 0..<rows {
                    // Row r alone, as a matrix of one row.
                    let alone = Self.gemm(level: level, type, Array(w[(r * rowBytes)..<((r + 1) * rowBytes)]), rows: 1,
                                          cols: cols, act, n: n)
                    for t in 0..<n {
                        #expect(together[t * rows + r].bitPattern == alone[t].bitPattern,
                                "\(type.name) level \(level) n \(n) row \(r): \(together[t * rows + r]) vs \(alone[t])")
                    }
                }
            }
        }
    }

    @Test("8-bit activations stay within 1 % of the exact product's magnitude", arguments: types)
    func quantizedActivationsNearExact(type: TensorType) {
        let rows = 5, cols = 512, n = 3
        let w = Self.matrix(type, rows: rows, cols: cols, seed: 5)
        let x = randomFloats(n * cols, scale: 3, seed: 17)
        let act = Self.activations(type, x, n: n, cols: cols)
        let got = Self.gemm(level: 0, type, w, rows: rows, cols: cols, act, n: n)
        let exact = Self.exactProducts(type, w, x, rows: rows, cols: cols, n: n)
        for r in 0..<rows {
            for t in 0..<n {
                let error = relativeError(got[t * rows + r], exact[t * rows + r])
                // Float types are not quantized: only rounding-order error.
                #expect(error <= (type.isQuantized ? 1e-2 : 1e-5), "\(type.name) row \(r) token \(t): \(error)")
            }
        }
    }

    @Test("LinearAlgebra's quantized matmul split over threads equals one thread", arguments: [TensorType.q8_0, .q4_K, .q6_K, .f16, .q3_K, .iq4_nl])
    func pooledEqualsSerial(type: TensorType) {
        let rows = 300, cols = 512
        let w = Self.matrix(type, rows: rows, cols: cols, seed: 3)
        for n in [1, 2, 9] {
            let x = randomFloats(n * cols, seed: 8)
            var serial = [Float](repeating: 0, count: n * rows), pooled = serial
            let one = ThreadPool(threads: 1), two = ThreadPool(threads: 2)
            w.withUnsafeBytes { raw in
                let m = WeightMatrix(type: type, rows: rows, cols: cols, data: raw.baseAddress!)
                LinearAlgebra.matmul(m, x, n: n, &serial, pool: one, scratch: MatmulScratch(), activations: .quantized)
                LinearAlgebra.matmul(m, x, n: n, &pooled, pool: two, scratch: MatmulScratch(), activations: .quantized)
            }
            #expect(serial == pooled, "\(type.name) n=\(n)")
        }
    }

    @Test("a batch of scattered experts split over two threads equals each product alone on one thread",
          arguments: [TensorType.q4_K, .q5_0, .q8_0, .q6_K, .q4_0])
    func scatteredExpertBatchEqualsSerial(type: TensorType) {
        // 16 experts of gate and up (rows × cols each) laid out as in a GGUF expert tensor; a token picks six that
        // are not neighbours, so each thread's share ends in the middle of the tensor and its prefetches must go
        // to the next chosen expert (mk_span_base), and a down-like third matrix of another shape follows.
        let experts = 16, rows = 72, cols = 512, chosen = [1, 4, 5, 9, 12, 15]
        let rowBytes = type.byteCount(elements: cols)!, expertBytes = rows * rowBytes
        let gate = Self.matrix(type, rows: experts * rows, cols: cols, seed: 21)
        let up = Self.matrix(type, rows: experts * rows, cols: cols, seed: 22)
        let down = Self.matrix(type, rows: 256, cols: cols, seed: 23)
        let one = ThreadPool(threads: 1), two = ThreadPool(threads: 2)
        for n in [1, 2, 5] {
            let x = randomFloats(n * cols, seed: 9)
            var batched = [Float](repeating: .nan, count: (2 * chosen.count * rows + 256) * n), alone = batched
            gate.withUnsafeBytes { g in
                up.withUnsafeBytes { u in
                    down.withUnsafeBytes { d in
                        batched.withUnsafeMutableBufferPointer { by in
                            alone.withUnsafeMutableBufferPointer { ay in
                                let batch = ProductBatch()
                                var at = 0
                                for e in chosen {
                                    for source in [g, u] {
                                        let m = WeightMatrix(type: type, rows: rows, cols: cols, data: source.baseAddress! + e * expertBytes)
                                        batch.add(m, x, n: n, by.baseAddress! + at)
                                        LinearAlgebra.matmul(m, x, n: n, ay.baseAddress! + at, pool: one, scratch: MatmulScratch(),
                                                             activations: .quantized)
                                        at += n * rows
                                    }
                                }
                                let m = WeightMatrix(type: type, rows: 256, cols: cols, data: d.baseAddress!)
                                batch.add(m, x, n: n, by.baseAddress! + at)
                                LinearAlgebra.matmul(m, x, n: n, ay.baseAddress! + at, pool: one, scratch: MatmulScratch(),
                                                     activations: .quantized)
                                batch.run(pool: two, activations: .quantized)
                            }
                        }
                    }
                }
            }
            #expect(batched == alone, "\(type.name) n=\(n)")
        }
    }

    @Test("activation blocks decode to the input within half a step")
    func activationRoundTrip() {
        let cols = 512
        let x = randomFloats(cols, scale: 5, seed: 21)
        let k = Self.activations(.q6_K, x, n: 1, cols: cols).bytes
        let paired = Self.activations(.q4_K, x, n: 1, cols: cols).bytes
        let a = Self.activations(.q8_0, x, n: 1, cols: cols).bytes
        // mk_q8k: float d, 16 int16 sums, 256 int8 (292 bytes); mk_q8a: float d, float s, 32 int8 (40 bytes).
        for i in 0..<cols {
            let kb = (i / 256) * 292, ab = (i / 32) * 40
            let kd = k.withUnsafeBytes { $0.load(fromByteOffset: kb, as: Float.self) }
            let ad = a.withUnsafeBytes { $0.load(fromByteOffset: ab, as: Float.self) }
            let kq = Float(Int8(bitPattern: k[kb + 36 + i % 256])), aq = Float(Int8(bitPattern: a[ab + 8 + i % 32]))
            #expect(abs(kd * kq - x[i]) <= kd / 2 * 1.0001 + 1e-7)
            #expect(abs(ad * aq - x[i]) <= ad / 2 * 1.0001 + 1e-7)
            // Q4_K/Q5_K take the same blocks "paired": in each half of 128, runs 1 and 2 of 32 swapped.
            let e = i % 256, run = (e / 32) % 4, at = (e / 128) * 128 + [0, 2, 1, 3][run] * 32 + e % 32
            #expect(paired[kb + 36 + at] == k[kb + 36 + i % 256], "element \(i)")
            #expect(paired[kb..<(kb + 36)] == k[kb..<(kb + 36)], "scale and sums of block \(i / 256)")
        }
    }

    @Test("SwiGLU with the vector exp stays within 1e-6 of libm's, also far out in both tails")
    func siluMulMatchesScalar() {
        var gate = randomFloats(1000, scale: 12, seed: 4) + [-100, -87.5, 0, 87.5, 100, -1e-30, 1e-30]
        let up = randomFloats(gate.count, scale: 3, seed: 5)
        let expected = zip(gate, up).map { Double($0) / (1 + exp(-Double($0))) * Double($1) }
        Vector.siluMul(&gate, up, count: gate.count)
        for i in gate.indices {
            #expect(abs(Double(gate[i]) - expected[i]) <= 1e-6 * max(1, abs(expected[i])), "[\(i)] \(gate[i]) vs \(expected[i])")
        }
    }

    /// Grouped-query attention over a paged cache of f16 or q8_0 rows (`mk_attend_heads`, the fused kernel that
    /// reads each row once for a key/value head's query heads) against attention computed in double from the
    /// same stored rows, for every group size the kernel specializes (1, 2, 4, 8 and splits of 3 and 6), value
    /// widths that leave columns over, a sliding window, attention sinks, and a single position.
    @Test("grouped attention over f16 and q8_0 cache rows equals a double-precision reference",
          arguments: [TensorType.f16, .q8_0])
    func groupedAttentionMatchesReference(type: TensorType) {
        let cases: [(heads: Int, keyLength: Int, valueLength: Int, length: Int, first: Int, sinks: Bool)] = [
            (1, 64, 64, 37, 0, false), (2, 64, 64, 37, 0, false), (3, 32, 96, 50, 0, true), (4, 64, 64, 16, 5, false),
            (8, 128, 128, 33, 0, true), (6, 64, 32, 1, 0, false), (2, 128, 160, 70, 20, true),
        ]
        for (index, c) in cases.enumerated() {
            let blockSize = 16, blocks = (c.length + blockSize - 1) / blockSize
            let keyBytes = type.byteCount(elements: c.keyLength)!, valueBytes = type.byteCount(elements: c.valueLength)!
            // A block: 16 key rows, then 16 value rows (as a layer's part of a KV block).
            let blockBytes = blockSize * (keyBytes + valueBytes)
            var storage = [UInt8](repeating: 0, count: blocks * blockBytes)
            var keys: [[Float]] = [], values: [[Float]] = []
            for p in 0..<c.length {
                let k = quantized(randomFloats(c.keyLength, scale: 2, seed: UInt64(1000 * index + 2 * p)), as: type)
                let v = quantized(randomFloats(c.valueLength, scale: 2, seed: UInt64(1000 * index + 2 * p + 1)), as: type)
                let base = (p / blockSize) * blockBytes, row = p % blockSize
                storage.replaceSubrange((base + row * keyBytes)..<(base + (row + 1) * keyBytes), with: k)
                let vBase = base + blockSize * keyBytes + row * valueBytes
                storage.replaceSubrange(vBase..<(vBase + valueBytes), with: v)
                // The reference reads the stored (rounded) rows.
                var kf = [Float](repeating: 0, count: c.keyLength), vf = [Float](repeating: 0, count: c.valueLength)
                k.withUnsafeBytes { Quant.dequantize(type, $0.baseAddress!, &kf, count: c.keyLength) }
                v.withUnsafeBytes { Quant.dequantize(type, $0.baseAddress!, &vf, count: c.valueLength) }
                keys.append(kf)
                values.append(vf)
            }
            let q = randomFloats(c.heads * c.keyLength, scale: 1, seed: UInt64(77 + index))
            let sinks = c.sinks ? randomFloats(c.heads, scale: 2, seed: UInt64(99 + index)) : []
            let scale = 1 / Float(c.keyLength).squareRoot()
            var out = [Float](repeating: .nan, count: c.heads * c.valueLength)
            var scores = [Float](repeating: 0, count: c.heads * c.length)
            storage.withUnsafeBytes { raw in
                var pointers: [UnsafeRawPointer?] = (0..<blocks).map { raw.baseAddress! + $0 * blockBytes }
                pointers.withUnsafeMutableBufferPointer { table in
                    var a = mk_attention(
                        blocks: table.baseAddress!, block_size: blockSize, type: type.rawValue,
                        key_offset: 0, key_stride: keyBytes, key_length: c.keyLength,
                        key2_offset: 0, key2_stride: 0, key2_length: 0,
                        value_offset: blockSize * keyBytes, value_stride: valueBytes, value_length: c.valueLength,
                        length: c.length, scale: scale, first: c.first, sink: -.infinity)
                    sinks.withUnsafeBufferPointer { sinkValues in
                        mk_attend_heads(&a, q, c.keyLength, Int32(c.heads), c.sinks ? sinkValues.baseAddress : nil,
                                        &scores, &out, c.valueLength)
                    }
                }
            }
            for h in 0..<c.heads {
                let logits = (c.first..<c.length).map { p in
                    (0..<c.keyLength).reduce(0.0) { $0 + Double(q[h * c.keyLength + $1]) * Double(keys[p][$1]) } * Double(scale)
                }
                let sink = c.sinks ? Double(sinks[h]) : -Double.infinity
                let top = max(logits.max()!, sink)
                let weights = logits.map { exp($0 - top) }
                let total = weights.reduce(0, +) + exp(sink - top)
                for i in 0..<c.valueLength {
                    let expected = zip(weights, values[c.first...]).reduce(0.0) { $0 + $1.0 * Double($1.1[i]) } / total
                    let got = Double(out[h * c.valueLength + i])
                    #expect(abs(got - expected) <= 2e-5 * max(1, abs(expected)),
                            "\(type.name) case \(index) head \(h) column \(i): \(got) vs \(expected)")
                }
            }
        }
    }

    /// The KV cache's q8_0 writer (`mk_quantize_q8_0`, vectorized) against the reference quantizer, byte for byte:
    /// random rows, exact halves (ties go away from zero), a zero block, subnormal scales and large values.
    @Test("the KV cache's q8_0 writer equals the reference quantizer byte for byte")
    func kvQuantizerMatchesReference() {
        var x = randomFloats(32 * 64, scale: 3, seed: 4242)
        for j in 0..<32 { x[j] = Float(j - 16) + 0.5 }          // exact halves (ties) ...
        x[0] = 127                                               // ... kept by d = 1 (x · 1/d exact)
        for j in 32..<64 { x[j] = 0 }
        for j in 64..<96 { x[j] = Float(j - 80) * 1e-40 }         // a subnormal scale
        for j in 96..<128 { x[j] = Float(j - 100) * 3e6 }        // a scale beyond f16's range
        let bytes = 34 * x.count / 32
        var reference = [UInt8](repeating: 0, count: bytes), fast = [UInt8](repeating: 1, count: bytes)
        reference.withUnsafeMutableBytes { Quant.quantize(.q8_0, x, $0.baseAddress!, count: x.count) }
        fast.withUnsafeMutableBytes { mk_quantize_q8_0(x, $0.baseAddress!, x.count) }
        for b in 0..<(x.count / 32) {
            #expect(reference[(34 * b)..<(34 * b + 34)] == fast[(34 * b)..<(34 * b + 34)], "block \(b)")
        }
    }

    @Test("the kernel level is never raised past what the CPU has")
    func levelSelection() {
        // Lowering it is tested through MOECODER_KERNELS in a subprocess (CLITests): changing it here would
        // change the rounding of tests running beside this one.
        let best = mk_isa_supported(), now = mk_isa()
        #expect(now <= best)
        if now == best { #expect(mk_set_isa(99) == best) }
        #expect(["portable", "avx2", "avx512vnni"].contains(KernelLevel.name))
    }
}
