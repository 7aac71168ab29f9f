import Testing
@testable import Kernels

/// A random weight matrix stored as `type`, with its dequantized values for the naive reference.
struct TestMatrix {
    let type: TensorType
    let rows: Int, cols: Int
    let bytes: [UInt8]
    let values: [Float]

    init(_ type: TensorType, rows: Int, cols: Int, seed: UInt64) {
        self.type = type
        self.rows = rows
        self.cols = cols
        let count = rows * cols
        bytes = randomRow(type, elements: count, seed: seed)
        values = dequantized(bytes, as: type, count: count)
    }

    /// Naive Y[t,r] = Σ_c W[r,c]·X[t,c] in double, with Σ|…| per element for relative errors.
    func reference(_ x: [Float], n: Int) -> [(value: Double, magnitude: Double)] {
        var out: [(value: Double, magnitude: Double)] = []
        for t in 0..<n {
            let xt = Array(x[(t * cols)..<((t + 1) * cols)])
            for r in 0..<rows { out.append(referenceDot(Array(values[(r * cols)..<((r + 1) * cols)]), xt)) }
        }
        return out
    }
}

@Suite("matvec and matmul")
struct LinearAlgebraTests {
    static let types = TensorType.allCases.filter(\.canCompute)

    @Test("matvec matches naive loops on odd row counts, with 1 and 2 threads (large enough to go parallel)",
          arguments: types)
    func matvecMatchesNaive(type: TensorType) {
        let m = TestMatrix(type, rows: 67, cols: 512, seed: 31)
        let x = randomFloats(m.cols, scale: 1, seed: 32)
        let expected = m.reference(x, n: 1)
        for threads in [1, 2] {
            let pool = ThreadPool(threads: threads)
            var y = [Float](repeating: .nan, count: m.rows)
            m.bytes.withUnsafeBytes { data in
                let w = WeightMatrix(type: type, rows: m.rows, cols: m.cols, data: data.baseAddress!)
                LinearAlgebra.matvec(w, x, &y, pool: pool)
            }
            let worst = (0..<m.rows).map { relativeError(y[$0], expected[$0]) }.max()!
            #expect(worst <= 1e-5, "\(type.name), \(threads) threads: \(worst)")
        }
    }

    @Test("small matvecs (run on the caller alone) match naive loops too", arguments: [TensorType.f32, .q4_0])
    func smallMatvec(type: TensorType) {
        let m = TestMatrix(type, rows: 3, cols: 64, seed: 41)
        let x = randomFloats(m.cols, scale: 1, seed: 42)
        let expected = m.reference(x, n: 1)
        var y = [Float](repeating: .nan, count: m.rows)
        m.bytes.withUnsafeBytes { data in
            LinearAlgebra.matvec(WeightMatrix(type: type, rows: 3, cols: 64, data: data.baseAddress!), x, &y,
                                 pool: ThreadPool(threads: 2))
        }
        #expect((0..<3).allSatisfy { relativeError(y[$0], expected[$0]) <= 1e-5 })
    }

    @Test("matmul matches naive loops for n = 1, 7 and 64 (matvec and sgemm paths, several weight panels)",
          arguments: [TensorType.f32, .f16, .q8_0, .q4_0, .q4_K])
    func matmulMatchesNaive(type: TensorType) {
        let m = TestMatrix(type, rows: 37, cols: 256, seed: 51)
        for n in [1, 7, 64] {
            let x = randomFloats(n * m.cols, scale: 1, seed: 52 + UInt64(n))
            let expected = m.reference(x, n: n)
            for threads in [1, 2] {
                let pool = ThreadPool(threads: threads)
                // Panels of 16 rows: 37 rows take two full panels and a partial one.
                let scratch = MatmulScratch(panelFloats: 16 * m.cols)
                var y = [Float](repeating: .nan, count: n * m.rows)
                m.bytes.withUnsafeBytes { data in
                    let w = WeightMatrix(type: type, rows: m.rows, cols: m.cols, data: data.baseAddress!)
                    LinearAlgebra.matmul(w, x, n: n, &y, pool: pool, scratch: scratch)
                }
                let worst = (0..<y.count).map { relativeError(y[$0], expected[$0]) }.max()!
                #expect(worst <= 1e-5, "\(type.name), n \(n), \(threads) threads: \(worst)")
            }
        }
    }

    @Test("a WeightMatrix addresses rows and stacked experts by whole rows of blocks")
    func weightMatrixLayout() {
        let base = UnsafeMutableRawPointer.allocate(byteCount: 4 * 144 * 3, alignment: 16)
        defer { base.deallocate() }
        let w = WeightMatrix(type: .q4_K, rows: 4, cols: 768, data: base)
        #expect(w.rowBytes == 432 && w.byteCount == 1728)
        #expect(w.row(3) == UnsafeRawPointer(base) + 1296)
        // Two experts of two rows stacked: the second starts two rows in.
        let expert = w.rows(2..<4)
        #expect(expert.rows == 2 && expert.data == w.row(2) && expert.row(1) == w.row(3))
    }

    @Test("matvec on one expert of a stacked tensor equals matvec on that expert stored alone")
    func expertSlice() {
        let stacked = TestMatrix(.q4_K, rows: 6, cols: 256, seed: 71)
        let x = randomFloats(256, scale: 1, seed: 72)
        var fromStack = [Float](repeating: .nan, count: 3), alone = [Float](repeating: .nan, count: 3)
        let pool = ThreadPool(threads: 2)
        stacked.bytes.withUnsafeBytes { data in
            let all = WeightMatrix(type: .q4_K, rows: 6, cols: 256, data: data.baseAddress!)
            LinearAlgebra.matvec(all.rows(3..<6), x, &fromStack, pool: pool)
        }
        Array(stacked.bytes[(3 * 144)...]).withUnsafeBytes { data in
            LinearAlgebra.matvec(WeightMatrix(type: .q4_K, rows: 3, cols: 256, data: data.baseAddress!), x, &alone, pool: pool)
        }
        #expect(fromStack == alone)
    }
}
