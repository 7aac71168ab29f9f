import Kernels

/// A growable float buffer owned by the workspace; grows only when a larger batch is seen.
final class FloatBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init(_ capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }

    deinit { pointer.deallocate() }

    /// At least `count` floats (contents not kept when it grows).
    @discardableResult
    func ensure(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: count)
        }
        return pointer
    }
}

/// All scratch memory of the forward pass, allocated once and grown by batch size, so that decoding a
/// token allocates nothing.
final class Workspace {
    let x = FloatBuffer(), h = FloatBuffer(), q = FloatBuffer(), k = FloatBuffer(), v = FloatBuffer()
    let attention = FloatBuffer(), projected = FloatBuffer()
    let gate = FloatBuffer(), up = FloatBuffer()
    let router = FloatBuffer(), gathered = FloatBuffer(), expertOut = FloatBuffer(), shared = FloatBuffer()
    let low = FloatBuffer(), heads = FloatBuffer()
    let logits = FloatBuffer()
    let matmul = MatmulScratch()
    /// Tokens routed to each expert in the current batch: (token index, weight).
    var assignments: [[(token: Int, weight: Float)]] = []
    var selection: [Int] = []
    var probabilities: [Float] = []
}

/// Small vector kernels on raw buffers (the forward pass's elementwise steps).
enum VectorMath {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var i = 0
        while i + 4 <= n {
            s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3]
            i += 4
        }
        while i < n { s0 += a[i] * b[i]; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    /// out = x / rms(x) ⊙ weight.
    static func rmsNorm(_ x: UnsafePointer<Float>, _ weight: [Float], _ out: UnsafeMutablePointer<Float>, _ n: Int, eps: Float) {
        var sum: Float = 0
        for i in 0..<n { sum += x[i] * x[i] }
        let scale = 1 / (sum / Float(n) + eps).squareRoot()
        weight.withUnsafeBufferPointer { w in
            for i in 0..<n { out[i] = x[i] * scale * w[i] }
        }
    }

    /// In-place softmax over n values.
    static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n where x[i] > m { m = x[i] }
        var sum: Float = 0
        for i in 0..<n {
            x[i] = expf(x[i] - m)
            sum += x[i]
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
    }

    @inline(__always)
    static func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// y += a · x.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += a * x[i] }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
