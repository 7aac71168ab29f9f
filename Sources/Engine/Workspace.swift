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
    let sharedGate = FloatBuffer(), sharedUp = FloatBuffer(), expertDown = FloatBuffer()
    /// Products that run as one dispatch (q/k/v; the router beside the shared expert; the chosen experts).
    let batch = ProductBatch()
    let low = FloatBuffer(), heads = FloatBuffer()
    /// Routing: the scores that choose experts (with a selection bias, groups masked) and the groups' scores.
    let choice = FloatBuffer(), groupScores = FloatBuffer()
    /// Each row's rotary cos and sin (`Rope.angles`), computed once a pass for every layer.
    let rope = FloatBuffer()
    let logits = FloatBuffer()
    let matmul = MatmulScratch()
    /// Tokens routed to each expert in the current batch: (token index, weight).
    var assignments: [[(token: Int, weight: Float)]] = []
    var selection: [Int] = []
    var probabilities: [Float] = []
    /// The sequences of the current pass, their attention view for the layer at hand, and the rows projected
    /// to logits.
    var segments: [Transformer.Segment] = []
    var headSegments: [HeadSegment] = []
    var logitRows: [Int] = []
    /// LoRA: whether any row of the pass has adapters, the distinct adapter lists of the pass, each token row's
    /// list (an index into `loraMixes`), the rank-sized intermediate, and token indices of routed rows.
    var loraActive = false
    var loraMixes: [[AdapterUse]] = []
    var rowMix: [Int] = []
    let loraLow = FloatBuffer()
    var loraTokens: [Int] = []
    /// Adapters of caches already checked against the model (they are kept alive by the caches that use them).
    var checkedAdapters = Set<ObjectIdentifier>()
    /// The next attention task to claim (threads take tasks one at a time: their costs differ widely).
    let nextTask = UnsafeMutablePointer<Int>.allocate(capacity: 1)

    deinit { nextTask.deallocate() }

    /// Orders the attention tasks costliest first (so that no thread is left with a big one at the end) and
    /// rewinds the task counter.
    func orderHeadTasks() {
        headSegments.sort { $0.n * ($0.start + $0.n) > $1.n * ($1.start + $1.n) }
        nextTask.pointee = 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
