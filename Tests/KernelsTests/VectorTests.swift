#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import Kernels

@Suite("vector helpers")
struct VectorTests {
    @Test("rmsNorm divides by the root mean square plus eps and applies the weight, also in place")
    func rmsNorm() {
        var x: [Float] = (0..<19).map { Float($0) - 9 }
        let weight: [Float] = (0..<19).map { Float($0 % 3) + 0.5 }
        let ms = x.map { Double($0) * Double($0) }.reduce(0, +) / 19
        let expected = (0..<19).map { Float(Double(x[$0]) / (ms + 1e-5).squareRoot() * Double(weight[$0])) }
        x.withUnsafeMutableBufferPointer { p in
            Vector.rmsNorm(p.baseAddress!, weight, p.baseAddress!, count: 19, eps: 1e-5)
        }
        #expect(zip(x, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
    }

    @Test("softmax is shift-invariant, sums to one, and survives large logits")
    func softmax() {
        var x: [Float] = [1000, 1001, 999, -.infinity]
        Vector.softmax(&x, count: 4)
        let e1: Double = exp(1.0)
        let total: Double = 1 + e1 + exp(-1.0)
        #expect(abs(Double(x[1]) - e1 / total) < 1e-6 && x[3] == 0)
        #expect(abs(x.reduce(0, +) - 1) < 1e-6)
    }

    @Test("silu, siluMul, add, scale, axpy and dot agree with their formulas on odd lengths")
    func elementwise() {
        let a = randomFloats(21, scale: 4, seed: 61), b = randomFloats(21, scale: 4, seed: 62)
        var silu = a
        Vector.silu(&silu, count: 21)
        for i in 0..<21 {
            let expected: Float = a[i] / (1 + exp(-a[i]))
            #expect(abs(silu[i] - expected) <= 1e-6)
        }
        var gated = a
        Vector.siluMul(&gated, b, count: 21)
        #expect((0..<21).allSatisfy { abs(gated[$0] - silu[$0] * b[$0]) <= 1e-5 })
        var sum = a
        Vector.add(&sum, b, count: 21)
        #expect(sum == zip(a, b).map(+))
        var scaled = a
        Vector.scale(&scaled, 0.5, count: 21)
        #expect(scaled == a.map { $0 * 0.5 })
        var y = b
        Vector.axpy(2, a, &y, count: 21)
        #expect(y == zip(a, b).map { 2 * $0 + $1 })
        #expect(relativeError(Vector.dot(a, b, count: 21), referenceDot(a, b)) <= 1e-6)
    }
}
