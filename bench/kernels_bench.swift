// Matvec throughput of the Kernels module on a 4096×4096 matrix, compiled by kernels_bench.sh together with
// Sources/Kernels (as one module, -Ounchecked) so no executable target is needed in Package.swift.
import Foundation

let rows = 4096, cols = 4096
/// xorshift64: SystemRandomNumberGenerator makes a system call per number, which dominated set-up time.
struct FastRandom: RandomNumberGenerator {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
var rng = FastRandom()
let weights = (0..<rows * cols).map { _ in Float.random(in: -1...1, using: &rng) }
let x = (0..<cols).map { _ in Float.random(in: -1...1, using: &rng) }
var y = [Float](repeating: 0, count: rows)

func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

for type in TensorType.allCases where type.canCompute {
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: type.byteCount(elements: rows * cols)!, alignment: 64)
    defer { bytes.deallocate() }
    if type.canQuantize {
        Quant.quantize(type, weights, bytes, count: rows * cols)
    } else {
        // No quantizer for this type: random blocks with small finite f16 scales stand in (speed does not depend on values).
        for i in 0..<type.byteCount(elements: rows * cols)! { bytes.storeBytes(of: UInt8.random(in: 0...255, using: &rng), toByteOffset: i, as: UInt8.self) }
        let scaleOffsets: [Int] = switch type {
        case .q6_K: [208]
        case .q5_0: [0]
        default: [0, 2]
        }
        for b in 0..<rows * cols / type.blockSize {
            for o in scaleOffsets { bytes.storeBytes(of: Float(0.01).fp16Bits, toByteOffset: b * type.blockBytes + o, as: UInt16.self) }
        }
    }
    let w = WeightMatrix(type: type, rows: rows, cols: cols, data: bytes)
    var line = "\(type.name.padding(toLength: 5, withPad: " ", startingAt: 0)) \(w.byteCount >> 20) MiB"
    for threads in [1, 2] {
        let pool = ThreadPool(threads: threads)
        LinearAlgebra.matvec(w, x, &y, pool: pool)  // warm up
        var best = Double.infinity
        for _ in 0..<15 { best = min(best, seconds { LinearAlgebra.matvec(w, x, &y, pool: pool) }) }
        let gflops = 2 * Double(rows * cols) / best / 1e9
        let gbps = Double(w.byteCount) / best / 1e9
        line += String(format: "   %dT: %6.2f ms %6.2f GFLOP/s %5.1f GB/s", threads, best * 1e3, gflops, gbps)
    }
    print(line)
}

// Kernel speed alone: 8 rows that stay in cache, timed by this thread's CPU time, so the figure holds up
// while other processes share the machine (wall-clock numbers above do not).
func threadSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
for type in TensorType.allCases where type.canCompute {
    let byteCount = type.byteCount(elements: 8 * cols)!
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    defer { bytes.deallocate() }
    if type.canQuantize {
        Quant.quantize(type, weights, bytes, count: 8 * cols)
    } else {
        // Any bytes with small scales do; 0x11 gives f16 scales of about 0.0005.
        bytes.initializeMemory(as: UInt8.self, repeating: 0x11, count: byteCount)
    }
    let w = WeightMatrix(type: type, rows: 8, cols: cols, data: bytes)
    let pool = ThreadPool(threads: 1)
    var best = Double.infinity
    for _ in 0..<5 {
        let start = threadSeconds()
        for _ in 0..<500 { LinearAlgebra.matvec(w, x, &y, pool: pool) }
        best = min(best, (threadSeconds() - start) / 4000)
    }
    print(String(format: "dot %@ in cache: %.3f µs per 4096-element row, %.2f GFLOP/s", type.name, best * 1e6, 2 * Double(cols) / best / 1e9))
}

// Prefill-sized matmul: n activation rows at once through dequantize + sgemm.
let scratch = MatmulScratch()
let pool = ThreadPool(threads: 2)
for type in [TensorType.f32, .q8_0, .q4_0] {
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: type.byteCount(elements: rows * cols)!, alignment: 64)
    defer { bytes.deallocate() }
    Quant.quantize(type, weights, bytes, count: rows * cols)
    let w = WeightMatrix(type: type, rows: rows, cols: cols, data: bytes)
    for n in [1, 8, 64] {
        let xs = [Float](repeating: 0.5, count: n * cols)
        var ys = [Float](repeating: 0, count: n * rows)
        LinearAlgebra.matmul(w, xs, n: n, &ys, pool: pool, scratch: scratch)
        var best = Double.infinity
        for _ in 0..<3 { best = min(best, seconds { LinearAlgebra.matmul(w, xs, n: n, &ys, pool: pool, scratch: scratch) }) }
        print(String(format: "matmul %@ n=%2d 2T: %7.2f ms %6.2f GFLOP/s", type.name, n, best * 1e3, 2 * Double(n * rows * cols) / best / 1e9))
    }
}
