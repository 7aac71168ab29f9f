import CKernels

/// A fixed pool of worker threads, created once, that split index ranges between them.
///
/// Work is cut into at most `threads` contiguous chunks, one per thread; the caller runs the first chunk
/// itself and waits for the rest, so a pool of `threads` uses `threads − 1` extra threads. After a job the
/// workers spin for `spinMicroseconds` before they park (a decode step issues many small jobs; waking a parked
/// thread costs more than most of them), so an idle pool uses no CPU once that time has passed.
/// One call runs at a time: calls from several threads at once, or from inside a task, are a programming
/// error (caught by a precondition).
///
/// Two forms: `parallelFor(_:_:)` takes any closure; `parallelFor(_:context:_:)` takes a closure that
/// captures nothing plus a pointer to its arguments and allocates nothing, for the forward pass's hot loops.
/// The pool itself lives in C (`mk_pool` in Sources/CKernels/pool.c), which the matrix kernels also drive directly.
public final class ThreadPool: @unchecked Sendable {
    /// A task of the allocation-free form: the context pointer given to `parallelFor`, the chunk's index
    /// (0..<threads, e.g. to pick a per-thread scratch slice) and its range of indices.
    public typealias Task = (_ context: UnsafeRawPointer, _ chunk: Int, _ range: Range<Int>) -> Void

    /// How many threads share the work, the caller included.
    public let threads: Int
    /// The C pool (for kernels that dispatch work themselves).
    let handle: OpaquePointer

    /// Starts `threads − 1` workers; `threads: 1` runs everything inline on the caller.
    public init(threads: Int, spinMicroseconds: Int = 500) {
        precondition(threads >= 1, "a pool needs at least one thread")
        guard let pool = mk_pool_create(Int32(threads), Int32(spinMicroseconds)) else {
            preconditionFailure("cannot create a thread pool of \(threads) threads: out of memory")
        }
        handle = pool
        self.threads = Int(mk_pool_threads(pool))
    }

    deinit { mk_pool_destroy(handle) }

    /// Whether the decode kernels run on this pool also prefetch far ahead into L2 (default true): for a model
    /// whose weights stream from memory; false where a decode step's weights stay in the caches.
    public var farPrefetch: Bool {
        get { mk_pool_far_prefetch(handle) != 0 }
        set { mk_pool_set_far_prefetch(handle, newValue ? 1 : 0) }
    }

    /// Runs `body` over 0..<count split into at most `threads` contiguous, non-empty chunks, one per thread,
    /// and returns when every chunk is done.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        if threads == 1 || count == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                parallelFor(count, context: pointer) { context, _, range in
                    context.assumingMemoryBound(to: ((Range<Int>) -> Void).self).pointee(range)
                }
            }
        }
    }

    /// Runs `task(context, chunk, range)` for each of at most `threads` contiguous, non-empty chunks of
    /// 0..<count, and returns when all are done. Allocates nothing when `task` captures nothing; pass what it
    /// needs through `context` (e.g. `withUnsafePointer(to: arguments)`).
    public func parallelFor(_ count: Int, context: UnsafeRawPointer, _ task: @escaping Task) {
        guard count > 0 else { return }
        if threads == 1 || count == 1 {
            task(context, 0, 0..<count)
            return
        }
        var call = PoolCall(task: task, context: context)
        let status = withUnsafeMutablePointer(to: &call) { call in
            mk_pool_run(handle, count, { raw, chunk, lo, hi in
                let call = raw!.assumingMemoryBound(to: PoolCall.self)
                call.pointee.task(call.pointee.context, chunk, lo..<hi)
            }, call)
        }
        precondition(status == 0, "ThreadPool.parallelFor is not reentrant")
    }
}

/// One `parallelFor` call as the C pool sees it: the Swift task and its context.
private struct PoolCall {
    let task: ThreadPool.Task
    let context: UnsafeRawPointer
}
