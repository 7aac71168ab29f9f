import Foundation
import Testing
@testable import Kernels

@Suite("thread pool")
struct ThreadPoolTests {
    @Test("parallelFor hands every index to exactly one contiguous, non-empty chunk, one chunk per thread at most",
          arguments: [1, 2, 3, 4])
    func coversEveryIndexOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        for count in [0, 1, 2, 3, 7, 64, 1001] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count + 1)
            hits.initialize(repeating: 0)
            // ends[s] = e records chunk s..<e; chunks are disjoint, so threads never write the same slot.
            let ends = UnsafeMutableBufferPointer<Int>.allocate(capacity: count + 1)
            ends.initialize(repeating: -1)
            pool.parallelFor(count) { range in
                ends[range.lowerBound] = range.upperBound
                for i in range { hits[i] += 1 }
            }
            #expect(hits.prefix(count).allSatisfy { $0 == 1 }, "count \(count)")
            var start = 0, chunks = 0
            while start < count, ends[start] > start {
                start = ends[start]
                chunks += 1
            }
            #expect(start == count, "chunks are contiguous and non-empty")
            #expect(chunks <= threads)
            hits.deallocate()
            ends.deallocate()
        }
    }

    @Test("the context form gives each chunk its own index below `threads` and covers every index once",
          arguments: [1, 2, 3])
    func contextFormCoversEveryIndexOnce(threads: Int) {
        let pool = ThreadPool(threads: threads)
        let count = 100
        // Slot i holds 1 + the chunk that ran index i.
        let owner = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        owner.initialize(repeating: 0)
        pool.parallelFor(count, context: UnsafeRawPointer(owner.baseAddress!)) { context, chunk, range in
            let owner = UnsafeMutablePointer(mutating: context.assumingMemoryBound(to: Int.self))
            for i in range { owner[i] += 1 + chunk }
        }
        #expect(owner.allSatisfy { $0 >= 1 && $0 <= threads })
        // Chunks are contiguous and in order: the owning chunk never decreases along the indices.
        #expect(zip(owner, owner.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(Set(owner).count == min(threads, count))
        owner.deallocate()
    }

    @Test("thousands of calls in a row neither deadlock nor lose work")
    func manyCallsInARow() {
        let pool = ThreadPool(threads: 3)
        let sums = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        sums.initialize(repeating: 0)
        for _ in 0..<5_000 {
            pool.parallelFor(3) { range in
                for i in range { sums[i] += 1 }
            }
        }
        #expect(Array(sums) == [5_000, 5_000, 5_000])
        sums.deallocate()
    }

    @Test("a caller that waits long for another thread's chunk (it sleeps instead of spinning) sees all the work done",
          arguments: [2, 4])
    func longWaitsForOtherChunks(threads: Int) {
        let pool = ThreadPool(threads: threads)
        // The caller's chunk sleeps a little (time for the workers to wake and claim the others); the chunks that
        // workers run sleep far beyond the caller's spin (microseconds), so the caller, done with its own, waits on
        // the futex; a missed wake-up would hang here.
        let count = 4 * threads
        let caller = pthread_self()
        let written = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        for round in 1...30 {
            written.initialize(repeating: 0)
            pool.parallelFor(count) { range in
                usleep(pthread_equal(pthread_self(), caller) != 0 ? 200 : UInt32(1_500 + 100 * (round % 5)))
                for i in range { written[i] = round &* 1_000 &+ i }
            }
            #expect(written.indices.allSatisfy { written[$0] == round * 1_000 + $0 }, "round \(round)")
        }
        // Calls in a row right after (a wake-up left over from the last wait is harmless).
        for _ in 0..<2_000 {
            pool.parallelFor(count) { range in for i in range { written[i] &+= 1 } }
        }
        #expect(written.indices.allSatisfy { written[$0] == 30_000 + $0 + 2_000 })
        written.deallocate()
    }

    @Test("a pool can be created and released repeatedly (workers exit and are joined)")
    func createAndRelease() {
        for _ in 0..<20 {
            let pool = ThreadPool(threads: 2)
            var total = 0
            pool.parallelFor(1) { total += $0.count }
            #expect(total == 1 && pool.threads == 2)
        }
    }
}
