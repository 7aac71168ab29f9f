#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed pool of worker threads, created once, that split index ranges between them.
///
/// Work is cut into at most `threads` contiguous chunks, one per thread; the caller runs the first chunk
/// itself and waits for the rest, so a pool of `threads` uses `threads − 1` extra threads.
/// One call runs at a time: calls from several threads at once, or from inside a task, are a programming
/// error (caught by a precondition).
///
/// Two forms: `parallelFor(_:_:)` takes any closure but costs one small heap allocation per call (Swift boxes
/// a non-escaping closure to hand it to another thread); `parallelFor(_:context:_:)` takes a closure that
/// captures nothing plus a pointer to its arguments and allocates nothing, for the forward pass's hot loops.
public final class ThreadPool: @unchecked Sendable {
    /// A task of the allocation-free form: the context pointer given to `parallelFor`, the chunk's index
    /// (0..<threads, e.g. to pick a per-thread scratch slice) and its range of indices.
    public typealias Task = (_ context: UnsafeRawPointer, _ chunk: Int, _ range: Range<Int>) -> Void

    /// How many threads share the work, the caller included.
    public let threads: Int
    private let shared: PoolState
    private var workers: [pthread_t] = []

    /// Starts `threads − 1` workers; `threads: 1` runs everything inline on the caller.
    public init(threads: Int) {
        precondition(threads >= 1, "a pool needs at least one thread")
        self.threads = threads
        shared = PoolState(threads: threads)
        for worker in 1..<threads {
            let context = Unmanaged.passRetained(WorkerContext(state: shared, index: worker)).toOpaque()
            #if canImport(Darwin)
            var thread: pthread_t?
            #else
            var thread = pthread_t()
            #endif
            let rc = pthread_create(&thread, nil, { raw in
                #if canImport(Darwin)
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                #else
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                #endif
                context.state.workerLoop(index: context.index)
                return nil
            }, context)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            #if canImport(Darwin)
            workers.append(thread!)
            #else
            workers.append(thread)
            #endif
        }
    }

    deinit {
        shared.stop()
        for thread in workers { pthread_join(thread, nil) }
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
        shared.run(count: count, context: context, task: task)
    }
}

private final class WorkerContext {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) {
        self.state = state
        self.index = index
    }
}

/// The state the caller and the workers share, guarded by one mutex.
private final class PoolState: @unchecked Sendable {
    let threads: Int
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workReady = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workDone = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Bumped once per `run`; a worker runs a job when it sees a generation it has not run yet.
    private var generation = 0
    private var unfinished = 0
    private var count = 0
    private var task: ThreadPool.Task?
    private var context: UnsafeRawPointer?
    private var stopping = false

    init(threads: Int) {
        self.threads = threads
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workReady, nil)
        pthread_cond_init(workDone, nil)
    }

    deinit {
        pthread_cond_destroy(workDone)
        pthread_cond_destroy(workReady)
        pthread_mutex_destroy(mutex)
        workDone.deallocate()
        workReady.deallocate()
        mutex.deallocate()
    }

    /// Chunk `index` of `threads` contiguous chunks of 0..<count.
    @inline(__always)
    func chunk(_ index: Int, of count: Int) -> Range<Int> {
        (count * index / threads)..<(count * (index + 1) / threads)
    }

    func run(count: Int, context: UnsafeRawPointer, task: @escaping ThreadPool.Task) {
        pthread_mutex_lock(mutex)
        precondition(self.task == nil, "ThreadPool.parallelFor is not reentrant")
        self.task = task
        self.context = context
        self.count = count
        unfinished = threads - 1
        generation &+= 1
        pthread_cond_broadcast(workReady)
        pthread_mutex_unlock(mutex)

        let mine = chunk(0, of: count)
        if !mine.isEmpty { task(context, 0, mine) }

        pthread_mutex_lock(mutex)
        while unfinished > 0 { pthread_cond_wait(workDone, mutex) }
        // Drop the task before returning: it may wrap a closure that must not outlive `withoutActuallyEscaping`.
        self.task = nil
        self.context = nil
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(index: Int) {
        var seen = 0
        pthread_mutex_lock(mutex)
        while true {
            while generation == seen && !stopping { pthread_cond_wait(workReady, mutex) }
            if stopping { break }
            seen = generation
            let range = chunk(index, of: count)
            do {
                // The reference to `task` must end before `unfinished` drops, hence the scope.
                let task = self.task!, context = self.context!
                pthread_mutex_unlock(mutex)
                if !range.isEmpty { task(context, index, range) }
            }
            pthread_mutex_lock(mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(workDone) }
        }
        pthread_mutex_unlock(mutex)
    }

    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(workReady)
        pthread_mutex_unlock(mutex)
    }
}
