import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise helpers for the forward pass, on caller-owned buffers of `count` floats; none allocates.
/// Where an output is also an input it is updated in place, and `out` may be the same buffer as `x`.
public enum Vector {
    /// RMS norm: out[i] = x[i] / √(mean(x²) + eps) · weight[i].
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                               count: Int, eps: Float) {
        let meanSquare = dot(x, x, count: count) / Float(count)
        let inverse = 1 / (meanSquare + eps).squareRoot()
        forEach16(count) { i in out.store16(x.load16(i) * inverse * weight.load16(i), i) }
            tail: { i in out[i] = x[i] * inverse * weight[i] }
    }

    /// Softmax in place: x[i] = exp(x[i] − max x) / Σ_j exp(x[j] − max x).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var largest = x[0]
        for i in 1..<count { largest = max(largest, x[i]) }
        var sum: Float = 0
        for i in 0..<count {
            let e = exp(x[i] - largest)
            x[i] = e
            sum += e
        }
        scale(x, 1 / sum, count: count)
    }

    /// SiLU in place: x[i] = x[i] · σ(x[i]) = x[i] / (1 + exp(−x[i])).
    public static func silu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] / (1 + exp(-x[i])) }
    }

    /// SwiGLU in place: gate[i] = silu(gate[i]) · up[i].
    public static func siluMul(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        mk_silu_mul(gate, up, count)
    }

    /// Residual add in place: y[i] += x[i].
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        forEach16(count) { i in y.store16(UnsafePointer(y).load16(i) + x.load16(i), i) }
            tail: { i in y[i] += x[i] }
    }

    /// Scale in place: x[i] *= s.
    public static func scale(_ x: UnsafeMutablePointer<Float>, _ s: Float, count: Int) {
        forEach16(count) { i in x.store16(UnsafePointer(x).load16(i) * s, i) }
            tail: { i in x[i] *= s }
    }

    /// Σ a[i]·b[i].
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        FloatFormats.dotF32(UnsafeRawPointer(a), b, count: count)
    }

    /// y[i] += a·x[i] (BLAS axpy), e.g. adding an expert's output weighted by its router probability.
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        forEach16(count) { i in y.store16(UnsafePointer(y).load16(i) + a * x.load16(i), i) }
            tail: { i in y[i] += a * x[i] }
    }

    /// Calls `vector(i)` for i = 0, 16, 32, … while 16 elements remain, then `tail(i)` for the rest.
    @inline(__always)
    private static func forEach16(_ count: Int, _ vector: (Int) -> Void, tail: (Int) -> Void) {
        var i = 0
        while i + 16 <= count { vector(i); i += 16 }
        while i < count { tail(i); i += 1 }
    }
}
