import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a product treats the activations of a quantized weight matrix.
public enum Activations: Sendable {
    /// Float activations against dequantized weights: the exact product (golden tests, `--exact`).
    case exact
    /// Activations rounded to 8 bits per block (32 elements, or 256 for the K-quants) and integer dot products
    /// in the CPU's vector units, as llama.cpp does: several times faster, and within llama.cpp's own drift.
    /// Float weight types (f32, f16, bf16) are computed in float either way.
    case quantized

    /// `.exact` when the environment variable MOECODER_EXACT is set (to anything but 0), else `.quantized`.
    public static var fromEnvironment: Activations {
        guard let value = getenv("MOECODER_EXACT") else { return .quantized }
        return String(cString: value) == "0" ? .quantized : .exact
    }
}

/// The vector kernels in use ("portable", "avx2", "avx512vnni"): the best this CPU supports unless the
/// environment variable MOECODER_KERNELS (portable, avx2, avx512) asks for a lower one.
public enum KernelLevel {
    public static var name: String { String(cString: mk_isa_name(mk_isa())) }

    /// Memory read bandwidth (bytes/s) with the pool's threads: the best of `repetitions` passes over a
    /// buffer of `bytes` (make it several times the last-level cache).
    public static func readBandwidth(pool: ThreadPool, bytes: Int = 1 << 30, repetitions: Int = 5) -> Double {
        mk_read_bandwidth(pool.handle, bytes, Int32(repetitions))
    }
}

/// Matrix-vector and matrix-matrix products of a stored weight matrix with float activations.
public enum LinearAlgebra {
    /// Below this many multiply-adds a matvec runs on the caller alone: waking the pool costs more.
    static let parallelThreshold = 1 << 15
    /// From this many activation rows on, `matmul` dequantizes and calls sgemm instead of n matvecs.
    public static let gemmThreshold = 4

    /// y[r] = Σ_c W[r,c]·x[c] for every row r (x: cols floats, y: rows floats). Threads split the rows.
    public static func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool,
                              activations: Activations = .exact) {
        precondition(w.type.canCompute, "cannot compute with \(w.type.name)")
        observer?.observe(w, x, n: 1, ldx: w.cols)
        fast(w, x, n: 1, y, pool: pool, activations: activations)
    }

    /// The C kernels (Sources/CKernels): n rows of activations against every row of `w` in one pass over
    /// the weights, quantized to 8 bits first for quantized types (`.quantized`), float for float types.
    /// With `.exact`, quantized weights take the float dot products instead.
    private static func fast(_ w: WeightMatrix, _ x: UnsafePointer<Float>, n: Int, _ y: UnsafeMutablePointer<Float>,
                             pool: ThreadPool, activations: Activations = .quantized) {
        if activations == .exact && w.type.isQuantized {
            for t in 0..<n { matvecExact(w, x + t * w.cols, y + t * w.rows, pool: pool) }
            return
        }
        mk_gemm(pool.handle, w.type.rawValue, w.data, w.rowBytes, w.rows, w.cols, x, n, y, parallelThreshold)
    }

    /// The float-activation matvec of a quantized matrix (exact), threads splitting the rows.
    private static func matvecExact(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        if w.rows * w.cols < parallelThreshold {
            matvecRows(w, x, y, 0..<w.rows)
            return
        }
        withUnsafePointer(to: Operands(w: w, x: x, y: y)) { operands in
            pool.parallelFor(w.rows, context: operands) { context, _, rows in
                let o = context.assumingMemoryBound(to: Operands.self).pointee
                matvecRows(o.w, o.x, o.y, rows)
            }
        }
    }

    /// What a pool task needs, passed by pointer so that dispatching work allocates nothing.
    private struct Operands {
        let w: WeightMatrix
        let x: UnsafePointer<Float>
        let y: UnsafeMutablePointer<Float>
        var n = 1
        var panel: UnsafeMutablePointer<Float>? = nil
        var panelRows = 0
    }

    @inline(__always)
    static func matvecRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ rows: Range<Int>) {
        // One switch per row range, not per row: each case inlines its own kernel into the loop.
        switch w.type {
        case .f32: for r in rows { y[r] = FloatFormats.dotF32(w.row(r), x, count: w.cols) }
        case .f16: for r in rows { y[r] = FloatFormats.dotF16(w.row(r), x, count: w.cols) }
        case .bf16: for r in rows { y[r] = FloatFormats.dotBF16(w.row(r), x, count: w.cols) }
        case .q8_0: for r in rows { y[r] = LegacyQuants.dotQ8_0(w.row(r), x, count: w.cols) }
        case .q4_0: for r in rows { y[r] = LegacyQuants.dotQ4_0(w.row(r), x, count: w.cols) }
        case .q4_1: for r in rows { y[r] = LegacyQuants.dotQ4_1(w.row(r), x, count: w.cols) }
        case .q5_0: for r in rows { y[r] = LegacyQuants.dotQ5_0(w.row(r), x, count: w.cols) }
        case .q5_1: for r in rows { y[r] = LegacyQuants.dotQ5_1(w.row(r), x, count: w.cols) }
        case .q4_K: for r in rows { y[r] = KQuants.dotQ4_K(w.row(r), x, count: w.cols) }
        case .q5_K: for r in rows { y[r] = KQuants.dotQ5_K(w.row(r), x, count: w.cols) }
        case .q6_K: for r in rows { y[r] = KQuants.dotQ6_K(w.row(r), x, count: w.cols) }
        case .q2_K: for r in rows { y[r] = LowBitKQuants.dotQ2_K(w.row(r), x, count: w.cols) }
        case .q3_K: for r in rows { y[r] = LowBitKQuants.dotQ3_K(w.row(r), x, count: w.cols) }
        case .iq4_nl: for r in rows { y[r] = TableQuants.dotIQ4_NL(w.row(r), x, count: w.cols) }
        case .iq4_xs: for r in rows { y[r] = TableQuants.dotIQ4_XS(w.row(r), x, count: w.cols) }
        case .mxfp4: for r in rows { y[r] = TableQuants.dotMXFP4(w.row(r), x, count: w.cols) }
        default: preconditionFailure("cannot compute with \(w.type.name)")
        }
    }

    /// Y[t,r] = Σ_c W[r,c]·X[t,c] for t in 0..<n (X: n×cols row-major, Y: n×rows row-major).
    ///
    /// Fewer than `gemmThreshold` rows of X run as matvecs. Otherwise the pool's threads split the rows of W;
    /// each thread dequantizes its rows a panel at a time into its own slice of `scratch` (f32 weights are used
    /// in place) and calls sgemm on the panel. OpenBLAS runs with one thread (`mk_sgemm`) so
    /// that its own spinning threads do not fight the pool for the cores.
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, n: Int, _ y: UnsafeMutablePointer<Float>,
                              pool: ThreadPool, scratch: MatmulScratch, activations: Activations = .exact) {
        precondition(w.type.canCompute, "cannot compute with \(w.type.name)")
        guard n > 0, w.rows > 0 else { return }
        observer?.observe(w, x, n: n, ldx: w.cols)
        if (activations == .quantized && w.type.isQuantized) || n < gemmThreshold {
            fast(w, x, n: n, y, pool: pool, activations: activations)
            return
        }
        if w.type == .f32 {
            withUnsafePointer(to: Operands(w: w, x: x, y: y, n: n)) { operands in
                pool.parallelFor(w.rows, context: operands) { context, _, rows in
                    let o = context.assumingMemoryBound(to: Operands.self).pointee
                    let weights = o.w.row(rows.lowerBound).assumingMemoryBound(to: Float.self)
                    sgemm(o.x, n: o.n, weights: weights, rows: rows.count, cols: o.w.cols, o.y + rows.lowerBound, ldy: o.w.rows)
                }
            }
            return
        }
        let panelRows = min(w.rows, max(1, scratch.panelFloats / w.cols))
        let buffer = scratch.floats(atLeast: pool.threads * panelRows * w.cols)
        withUnsafePointer(to: Operands(w: w, x: x, y: y, n: n, panel: buffer, panelRows: panelRows)) { operands in
            pool.parallelFor(w.rows, context: operands) { context, chunk, rows in
                let o = context.assumingMemoryBound(to: Operands.self).pointee
                let panel = o.panel! + chunk * o.panelRows * o.w.cols
                for start in stride(from: rows.lowerBound, to: rows.upperBound, by: o.panelRows) {
                    let count = min(o.panelRows, rows.upperBound - start)
                    Quant.dequantize(o.w.type, o.w.row(start), panel, count: count * o.w.cols)
                    sgemm(o.x, n: o.n, weights: panel, rows: count, cols: o.w.cols, o.y + start, ldy: o.w.rows)
                }
            }
        }
    }

    /// Y[t, 0..<rows] = X[t, :] · Wᵀ for a float panel W (rows × cols); Y rows are `ldy` apart. OpenBLAS's
    /// sgemm, loaded on first use with one thread (`mk_sgemm`).
    private static func sgemm(_ x: UnsafePointer<Float>, n: Int, weights: UnsafePointer<Float>, rows: Int, cols: Int,
                              _ y: UnsafeMutablePointer<Float>, ldy: Int) {
        mk_sgemm(x, n, weights, rows, cols, y, ldy)
    }
}

/// Reusable scratch for `LinearAlgebra.matmul`: allocated once by the caller, grows only when a larger
/// panel is needed. Not for use by two matmuls at once.
public final class MatmulScratch: @unchecked Sendable {
    private var buffer: UnsafeMutablePointer<Float>?
    private var capacity = 0
    /// Floats of dequantized weights per sgemm call, per thread (1 MiB by default: the panel stays in cache
    /// while sgemm reads it).
    let panelFloats: Int

    public convenience init() { self.init(panelFloats: 1 << 18) }

    init(panelFloats: Int) { self.panelFloats = panelFloats }

    deinit { buffer?.deallocate() }

    /// A buffer of at least `count` floats, valid until the next call.
    func floats(atLeast count: Int) -> UnsafeMutablePointer<Float> {
        if let buffer, capacity >= count { return buffer }
        buffer?.deallocate()
        let grown = UnsafeMutablePointer<Float>.allocate(capacity: count)
        buffer = grown
        capacity = count
        return grown
    }
}

/// Several products run as one dispatch over the pool (`mk_gemm_batch`): the weight rows of all of them are
/// split between the threads, and each distinct input is quantized once. Reusable: `removeAll()` keeps the
/// storage, so a forward pass allocates nothing once it has seen its largest batch.
/// With `.exact` activations, quantized items run one by one through `LinearAlgebra.matmul` instead.
public final class ProductBatch: @unchecked Sendable {
    private var items: UnsafeMutablePointer<mk_matmul>
    private var capacity: Int
    public private(set) var count = 0
    private let scratch = MatmulScratch()

    public init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
        items = .allocate(capacity: self.capacity)
    }

    deinit { items.deallocate() }

    public func removeAll() { count = 0 }

    /// Adds Y (n × w.rows, rows `ldy` apart) = X (n × w.cols, rows `ldx` apart) · Wᵀ.
    public func add(_ w: WeightMatrix, _ x: UnsafePointer<Float>, n: Int, _ y: UnsafeMutablePointer<Float>,
                    ldx: Int? = nil, ldy: Int? = nil) {
        precondition(w.type.canCompute, "cannot compute with \(w.type.name)")
        guard n > 0, w.rows > 0 else { return }
        if count == capacity {
            let grown = UnsafeMutablePointer<mk_matmul>.allocate(capacity: capacity * 2)
            grown.moveInitialize(from: items, count: count)
            items.deallocate()
            items = grown
            capacity *= 2
        }
        items[count] = mk_matmul(type: w.type.rawValue, w: w.data, row_bytes: w.rowBytes, rows: w.rows, cols: w.cols,
                                 x: x, ldx: ldx ?? w.cols, n: n, y: y, ldy: ldy ?? w.rows, act: nil, act_stride: 0)
        count += 1
    }

    /// Runs every product added since `removeAll()`.
    public func run(pool: ThreadPool, activations: Activations) {
        guard count > 0 else { return }
        if activations == .exact {
            for i in 0..<count {
                let m = items[i]
                let w = WeightMatrix(type: TensorType(rawValue: m.type)!, rows: m.rows, cols: m.cols, data: m.w)
                if m.ldx != m.cols || m.ldy != m.rows {
                    for t in 0..<m.n {
                        LinearAlgebra.matvec(w, m.x + t * m.ldx, m.y + t * m.ldy, pool: pool, activations: .exact)
                    }
                } else {
                    LinearAlgebra.matmul(w, m.x, n: m.n, m.y, pool: pool, scratch: scratch, activations: .exact)
                }
            }
            return
        }
        if let observer = LinearAlgebra.observer {
            for i in 0..<count {
                let m = items[i]
                let w = WeightMatrix(type: TensorType(rawValue: m.type)!, rows: m.rows, cols: m.cols, data: m.w)
                observer.observe(w, m.x, n: m.n, ldx: m.ldx)
            }
        }
        mk_gemm_batch(pool.handle, items, Int32(count), LinearAlgebra.parallelThreshold)
    }
}

/// Sees the activations of every product before it runs (`moecoder imatrix` sums their squares per column).
public protocol ActivationObserver: AnyObject {
    /// `x` holds `n` activation rows of `w.cols` floats, `ldx` apart, about to multiply `w`.
    func observe(_ w: WeightMatrix, _ x: UnsafePointer<Float>, n: Int, ldx: Int)
}

extension LinearAlgebra {
    /// The observer of every product (nil, the default, costs one check per product). Set it only while no
    /// product runs; it is called on the thread that starts each product.
    nonisolated(unsafe) public static var observer: ActivationObserver?
}
