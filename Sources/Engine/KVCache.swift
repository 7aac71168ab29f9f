import CKernels
import Foundation
import Kernels

/// Keys and values of one sequence, per layer, for positions 0..<count, stored in fixed-size blocks of a
/// `KVBlockPool` (paged: a block table maps positions to blocks, so sequences with the same prefix hold the same
/// blocks).
///
/// A block holds `blockTokens` positions of every layer: per layer its keys (`keyWidth` elements a position),
/// then its values (`valueWidth` elements a position), stored as the pool's `type` (f32, f16 or q8_0). Standard attention stores `headCountKV × keyLength` keys and
/// `headCountKV × valueLength` values a position; latent attention (deepseek2) stores the normalised latent
/// (`kvLoraRank`) as "values" and the rotary key part (`rope dims`) as "keys".
///
/// Blocks another sequence holds, or that the pool's prefix index holds, are never written: the first write
/// into one copies it (copy on write). Not thread-safe: one user at a time (the pool is).
public final class KVCache: @unchecked Sendable {
    public let pool: KVBlockPool
    /// Positions at most.
    public let capacity: Int
    /// Positions filled so far.
    public internal(set) var count = 0
    /// The token at each filled position (what the prefix index is keyed by).
    public private(set) var tokens: [Int32] = []
    /// Block ids in position order.
    private(set) var blocks: [Int] = []
    /// Block storage in position order, as the attention kernels read it.
    let table: UnsafeMutablePointer<UnsafeRawPointer?>
    /// Full blocks already offered to the prefix index.
    private var published = 0
    /// Blocks promised by `reserve` and not taken yet.
    var reservedBlocks = 0
    /// The LoRA adapters this sequence runs with; nil: the model's own (`Transformer.setAdapters`). A cache with
    /// adapters other than the model's must be outside the shared pool (`KVCache(config:)`): its keys and values
    /// differ from other sequences' for the same tokens.
    public var adapters: [AdapterUse]? = nil
    /// Added to every position the rotary embedding sees (tests: a sequence computed as if it started at another
    /// position, which shifted keys must equal). 0 everywhere else.
    var ropeOffset = 0
    /// A chunk placed ahead of `count` (`reuseShiftedChunks` with a gap): its rows are written at
    /// `start..<start + tokens.count`; once the positions before it are computed (`didAppend` reaches `start`), it
    /// counts as held.
    private var pending: (start: Int, tokens: ArraySlice<Int32>)?
    /// Where a chunk placed ahead waits and its length (the positions before `start` must be computed first).
    public var pendingChunk: (start: Int, length: Int)? { pending.map { ($0.start, $0.tokens.count) } }

    var keyWidth: Int { pool.keyWidth }
    var valueWidth: Int { pool.valueWidth }
    var blockTokens: Int { pool.blockTokens }

    /// A cache of its own, outside any shared pool (room for `capacity` positions, default the context length).
    public convenience init(config: ModelConfig, capacity: Int? = nil, type: TensorType = .f32) {
        let positions = max(1, capacity ?? config.contextLength)
        let pool = KVBlockPool(config: config, budgetBytes: nil, sharing: false, type: type)
        pool.setBudget(blocks: (positions + pool.blockTokens - 1) / pool.blockTokens + 1)
        self.init(pool: pool, capacity: positions)
    }

    /// A cache whose blocks come from `pool` (shared prefixes, the pool's budget).
    public init(pool: KVBlockPool, capacity: Int) {
        self.pool = pool
        self.capacity = max(1, capacity)
        let maxBlocks = (self.capacity + pool.blockTokens - 1) / pool.blockTokens
        table = .allocate(capacity: maxBlocks)
        table.initialize(repeating: nil, count: maxBlocks)
    }

    deinit {
        pool.retire(self)
        table.deallocate()
    }

    /// Bytes of the blocks this sequence holds (blocks shared with others counted in full).
    public var byteCount: Int { blocks.count * pool.blockBytes }
    /// Blocks held.
    public var blockCount: Int { blocks.count }

    /// Forgets positions from `length` on (to reuse a shared prefix, or start over with 0).
    public func truncate(to length: Int) {
        if pending != nil {
            pending = nil
            dropBlocks(after: count)
        }
        let length = min(count, max(0, length))
        guard length < count else { return }
        count = length
        tokens.removeSubrange(length...)
        let keep = (length + blockTokens - 1) / blockTokens
        if keep < blocks.count {
            pool.release(Array(blocks[keep...]))
            for i in keep..<blocks.count { table[i] = nil }
            blocks.removeSubrange(keep...)
        }
        published = min(published, length / blockTokens)
    }

    /// Makes the cache hold the longest prefix of `prompt` it can get without computing: what it holds
    /// already, or the pool's cached blocks when they go further (shared blocks by reference, the block at the
    /// divergence copied). At most `limit` positions (the last prompt token must still be run for its
    /// logits). Returns the positions now held.
    @discardableResult
    public func reusePrefix(of prompt: [Int32], limit: Int) -> Int {
        let limit = max(0, min(limit, prompt.count, capacity))
        var own = 0
        while own < min(count, limit) && tokens[own] == prompt[own] { own += 1 }
        truncate(to: own)
        guard pool.sharing, own < limit else { return own }
        guard let found = pool.lookup(prompt, limit: limit), found.positions > own else { return own }
        // The pool's prefix is longer: start over from it.
        truncate(to: 0)
        blocks = found.blocks
        for (i, id) in blocks.enumerated() { table[i] = UnsafeRawPointer(pool.storage(id)) }
        count = found.positions
        tokens = Array(prompt[..<found.positions])
        published = found.shared
        return count
    }

    /// After `reusePrefix`: extends the cache with chunks of at least `minimum` positions that the pool holds at
    /// other positions (llama.cpp's `--cache-reuse`): while the prompt's next tokens reappear as a run of indexed
    /// positions anywhere in the pool, their keys and values are copied to the new positions, keys rotated by the
    /// position change (`KeyShift`). Approximate: the copied entries were computed with another left context.
    /// A chunk may start up to `maxGap` tokens after the positions held (a window cut inside what was one token:
    /// "\n\n" before, "\n" now): it is placed ahead (`pendingChunk`) and counts once those tokens are computed,
    /// and the search stops there. At most `limit` positions; returns the positions held or placed. Stops where no
    /// chunk is long enough or the budget has no room for the copy.
    @discardableResult
    public func reuseShiftedChunks(of prompt: [Int32], limit: Int, minimum: Int, shift: KeyShift,
                                   maxGap: Int = 0) -> Int {
        let limit = max(0, min(limit, prompt.count, capacity))
        guard pool.sharing, minimum > 0, pending == nil, count <= limit, prompt.prefix(count).elementsEqual(tokens)
        else { return count }
        while count < limit,
              let chunk = pool.findChunk(prompt, at: count, limit: limit, minimum: minimum, maxGap: maxGap) {
            defer { pool.release(chunk.blocks) }
            let gap = chunk.start - count
            do { try prepareWrite(gap + chunk.length) } catch {
                dropBlocks(after: count)   // no room: give back the blocks acquired for it
                break
            }
            copyShifted(chunk, to: chunk.start, shift: shift)
            pool.recordShifted(chunk.length)
            if gap > 0 {
                pending = (chunk.start, prompt[chunk.start..<(chunk.start + chunk.length)])
                return chunk.start + chunk.length
            }
            didAppend(prompt[count..<(count + chunk.length)])
        }
        return count
    }

    /// Gives back the blocks past those that hold positions `..<positions`.
    private func dropBlocks(after positions: Int) {
        let keep = (positions + blockTokens - 1) / blockTokens
        guard keep < blocks.count else { return }
        pool.release(Array(blocks[keep...]))
        for i in keep..<blocks.count { table[i] = nil }
        blocks.removeSubrange(keep...)
    }

    /// Writes `chunk`'s positions at `destination...` (blocks already writable): values copied, keys copied
    /// when the position does not change, else converted to floats, rotated and stored back in the pool's type.
    func copyShifted(_ chunk: KVBlockPool.Chunk, to destination: Int, shift: KeyShift) {
        let delta = destination - chunk.from
        let firstBlock = chunk.from / blockTokens
        let sources = chunk.blocks.map { UnsafeRawPointer(pool.storage($0)) }
        let angleCount = max(2, shift.rope.dimensions)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: angleCount + keyWidth) { buffer in
            let angles = buffer.baseAddress!, key = angles + angleCount
            shift.rope.shiftAngles(delta: delta, into: angles)
            for i in 0..<chunk.length {
                let from = chunk.from + i, to = destination + i
                let source = sources[from / blockTokens - firstBlock]
                let target = UnsafeMutableRawPointer(mutating: table[to / blockTokens]!)
                let fromRow = from % blockTokens, toRow = to % blockTokens
                for layer in 0..<pool.layers {
                    let keyFrom = source + keyOffset(layer: layer) + fromRow * pool.keyRowBytes
                    let keyTo = target + keyOffset(layer: layer) + toRow * pool.keyRowBytes
                    if delta == 0 {
                        keyTo.copyMemory(from: keyFrom, byteCount: pool.keyRowBytes)
                    } else {
                        Quant.dequantize(pool.type, keyFrom, key, count: keyWidth)
                        shift.rope.apply(key, heads: shift.heads, stride: shift.stride, angles: angles)
                        if pool.type == .q8_0 { mk_quantize_q8_0(key, keyTo, keyWidth) } else {
                            Quant.quantize(pool.type, key, keyTo, count: keyWidth)
                        }
                    }
                    (target + valueOffset(layer: layer) + toRow * pool.valueRowBytes)
                        .copyMemory(from: source + valueOffset(layer: layer) + fromRow * pool.valueRowBytes,
                                    byteCount: pool.valueRowBytes)
                }
            }
        }
    }

    /// Promises blocks for `positions` positions in all (prompt and generation) so that the pass never finds
    /// the budget full midway; false when the pool's budget cannot promise them now.
    public func reserve(positions: Int) -> Bool {
        let needed = blocksNeeded(positions: positions)
        guard needed > reservedBlocks else { return true }
        guard pool.reserve(needed - reservedBlocks) else { return false }
        reservedBlocks = needed
        return true
    }

    /// Blocks that a reservation of `positions` would add (the scheduler's admission test).
    public func blocksNeeded(positions: Int) -> Int {
        max(0, (min(positions, capacity) + blockTokens - 1) / blockTokens - blocks.count + 1)
    }

    /// Makes positions count..<count+n writable: new blocks for them, and a private copy of the partly
    /// filled last block when it is shared.
    func prepareWrite(_ n: Int) throws {
        let end = count + n
        guard end <= capacity else {
            throw ModelError("the context is full: \(count) + \(n) tokens exceed the cache's \(capacity)")
        }
        if count % blockTokens != 0 {
            let last = count / blockTokens
            if let copy = try pool.makeWritable(blocks[last], cache: self) {
                blocks[last] = copy
                table[last] = UnsafeRawPointer(pool.storage(copy))
                published = min(published, last)
            }
        }
        let needed = (end + blockTokens - 1) / blockTokens
        while blocks.count < needed {
            let id = try pool.acquire(for: self)
            table[blocks.count] = UnsafeRawPointer(pool.storage(id))
            blocks.append(id)
        }
    }

    /// Records `n` new positions (their keys and values are written) and offers full blocks to the index.
    func didAppend(_ new: ArraySlice<Int32>) {
        count += new.count
        tokens.append(contentsOf: new)
        if let chunk = pending, count >= chunk.start {
            pending = nil
            if count == chunk.start {
                count += chunk.tokens.count
                tokens.append(contentsOf: chunk.tokens)
            }
        }
        guard pool.sharing else { return }
        while published < count / blockTokens {
            let i = published
            let start = i * blockTokens
            if let existing = pool.publish(block: blocks[i], parent: i > 0 ? blocks[i - 1] : nil,
                                           tokens: tokens[start..<(start + blockTokens)]) {
                blocks[i] = existing
                table[i] = UnsafeRawPointer(pool.storage(existing))
            }
            published += 1
        }
    }

    /// The last block's tokens when it is partly filled and its prefix is indexed (kept when the cache ends).
    func partialTail() -> (block: Int, parent: Int?, tokens: ArraySlice<Int32>)? {
        let full = count / blockTokens
        guard count % blockTokens != 0, published == full, full < blocks.count else { return nil }
        return (blocks[full], full > 0 ? blocks[full - 1] : nil, tokens[(full * blockTokens)...])
    }

    /// Stores `keyWidth` floats as the key of `position` in `layer` (converted to the pool's type).
    func storeKey(layer: Int, position: Int, from source: UnsafePointer<Float>) {
        let row = UnsafeMutableRawPointer(mutating: table[position / blockTokens]!)
            + keyOffset(layer: layer) + (position % blockTokens) * pool.keyRowBytes
        if pool.type == .q8_0 { mk_quantize_q8_0(source, row, keyWidth) } else { Quant.quantize(pool.type, source, row, count: keyWidth) }
    }

    /// Stores `valueWidth` floats as the value of `position` in `layer`.
    func storeValue(layer: Int, position: Int, from source: UnsafePointer<Float>) {
        let row = UnsafeMutableRawPointer(mutating: table[position / blockTokens]!)
            + valueOffset(layer: layer) + (position % blockTokens) * pool.valueRowBytes
        if pool.type == .q8_0 { mk_quantize_q8_0(source, row, valueWidth) } else { Quant.quantize(pool.type, source, row, count: valueWidth) }
    }

    /// Bytes from a block's start to this layer's keys and values.
    func keyOffset(layer: Int) -> Int { layer * pool.layerBytes }
    func valueOffset(layer: Int) -> Int { layer * pool.layerBytes + blockTokens * pool.keyRowBytes }
}

/// The KV blocks of one model's sequences: a memory budget, a prefix index over token ids, and eviction.
///
/// - **Prefix index**: a tree of blocks keyed by their tokens (a child per distinct next block). A sequence's
///   full blocks enter it as soon as they are written; when a sequence ends, its partly filled last block
///   enters as a leaf. A new sequence takes every full block of its longest indexed prefix by reference
///   (reference-counted) and a copy of the positions it shares with the best block at the divergence.
/// - **Budget**: blocks allocated never exceed `budgetBlocks`. Indexed blocks no sequence holds are evicted to
///   make room, leaves first, lowest score first: score = last use (a clock that ticks per lookup) +
///   `hitWeight` × log2(1 + hits), so a block many requests hit outlives one used once a little later. Blocks
///   a sequence holds are never evicted; `reserve` promises blocks to a sequence ahead of its pass.
/// - Thread-safe (one lock).
public final class KVBlockPool: @unchecked Sendable {
    /// Positions a block holds.
    public let blockTokens: Int
    public let layers: Int
    let keyWidth, valueWidth: Int
    /// How keys and values are stored: f32 (exact), f16, or q8_0 (8 bits with a scale per 32 values).
    public let type: TensorType
    /// Bytes of one position's keys and values, of one layer in a block (keys then values), of one block.
    let keyRowBytes, valueRowBytes: Int
    let layerBytes: Int
    public let blockBytes: Int
    /// Whether blocks are indexed and shared between sequences (false: a private cache's pool).
    public let sharing: Bool
    /// How much a hit counts against recency in eviction, in lookups.
    public static let hitWeight = 4.0

    /// Counters for metrics and reports.
    public struct Stats: Sendable, Equatable {
        /// Prompt positions taken from the cache instead of computed, and positions looked up.
        public var hitTokens = 0
        public var lookupTokens = 0
        public var lookups = 0
        /// Blocks evicted to make room.
        public var evictions = 0
        /// Blocks allocated now, blocks held by sequences, blocks only the index holds.
        public var blocks = 0
        public var heldBlocks = 0
        public var cachedBlocks = 0
        public var budgetBlocks = 0
        public var blockBytes = 0
        /// Copies made because a shared block was written, or at a divergence.
        public var copies = 0
        /// Prompt positions taken from cached chunks at other positions (`--cache-reuse`; also in `hitTokens`).
        public var shiftedTokens = 0
        public var shiftedChunks = 0
        public init() {}
    }

    private let lock = NSLock()
    private var budget: Int
    private var storageByID: [UnsafeMutableRawPointer?] = []
    private var refs: [Int] = []
    private var nodes: [PrefixNode?] = []
    private var freeIDs: [Int] = []
    private var allocated = 0
    private var held = 0
    private var promised = 0
    private var clock: UInt64 = 0
    private let root = PrefixNode(block: -1, tokens: [], parent: nil)
    private var counters = Stats()
    /// Indexed full blocks by their tokens, wherever they sit in the tree (chunks that reappear at other
    /// positions, `findChunk`).
    private var fullBlocks: [[Int32]: [PrefixNode]] = [:]

    /// The KV storage types: f32 (exact, the default), f16 and q8_0.
    public static let types: [TensorType] = [.f32, .f16, .q8_0]

    /// Why `config`'s keys and values cannot be stored as `type`, or nil when they can.
    public static func unsupported(_ type: TensorType, config: ModelConfig) -> String? {
        guard types.contains(type) else {
            return "KV cache type \(type.name.lowercased()) is not supported; use f32, f16 or q8_0"
        }
        guard type == .q8_0 else { return nil }
        let widths = config.architecture == .deepseek2
            ? [config.rope.dimensions, config.kvLoraRank]
            : [config.keyLength, config.valueLength]
        if let bad = widths.first(where: { $0 % 32 != 0 }) {
            return "a q8_0 KV cache needs head sizes that are multiples of 32 (this model has \(bad)); use f16"
        }
        return nil
    }

    /// A pool for `config`'s caches; `budgetBytes` nil: a quarter of the machine's memory.
    /// - Precondition: `unsupported(type, config:)` is nil.
    public init(config: ModelConfig, budgetBytes: Int?, sharing: Bool = true, blockTokens: Int = 16,
                type: TensorType = .f32) {
        precondition(Self.unsupported(type, config: config) == nil, Self.unsupported(type, config: config) ?? "")
        let (keyWidth, valueWidth) = config.architecture == .deepseek2
            ? (config.rope.dimensions, config.kvLoraRank)
            : (config.headCountKV * config.keyLength, config.headCountKV * config.valueLength)
        self.blockTokens = max(1, blockTokens)
        self.layers = config.blockCount
        self.keyWidth = keyWidth
        self.valueWidth = valueWidth
        self.type = type
        keyRowBytes = keyWidth / type.blockSize * type.blockBytes
        valueRowBytes = valueWidth / type.blockSize * type.blockBytes
        layerBytes = self.blockTokens * (keyRowBytes + valueRowBytes)
        blockBytes = layerBytes * config.blockCount
        self.sharing = sharing
        let bytes = budgetBytes ?? Self.defaultBudgetBytes
        budget = max(1, bytes / max(1, blockBytes))
    }

    /// Bytes of `elements` consecutive elements of a stored row (a head's slice).
    func rowBytes(_ elements: Int) -> Int { elements / type.blockSize * type.blockBytes }

    deinit {
        for pointer in storageByID { pointer?.deallocate() }
    }

    /// A quarter of physical memory, at least 64 MiB.
    public static var defaultBudgetBytes: Int {
        max(64 << 20, Int(ProcessInfo.processInfo.physicalMemory / 4))
    }

    public var budgetBlocks: Int { lock.withLock { budget } }
    public var budgetBytes: Int { budgetBlocks * blockBytes }

    /// Sets the budget (blocks beyond it are evicted as room is needed, not at once).
    public func setBudget(blocks: Int) { lock.withLock { budget = max(1, blocks) } }
    /// The budget in bytes (rounded down to whole blocks, at least one).
    public func setBudget(bytes: Int) { setBudget(blocks: bytes / blockBytes) }

    public var stats: Stats {
        lock.withLock {
            var s = counters
            s.blocks = allocated
            s.heldBlocks = held
            s.cachedBlocks = allocated - held
            s.budgetBlocks = budget
            s.blockBytes = blockBytes
            return s
        }
    }

    /// A new cache in this pool.
    public func makeCache(capacity: Int) -> KVCache { KVCache(pool: self, capacity: capacity) }

    /// Forgets every indexed block that no sequence holds.
    public func clear() {
        lock.withLock {
            while let victim = evictionCandidate() { evict(victim) }
        }
    }

    /// Checks the pool's bookkeeping against the caches alive (`holders`: every cache of this pool): nil when
    /// consistent, else what is wrong (tests).
    public func audit(holders: [KVCache]) -> String? {
        lock.withLock {
            var expected = [Int](repeating: 0, count: refs.count)
            for cache in holders { for id in cache.blocks { expected[id] += 1 } }
            if allocated > budget { return "\(allocated) blocks allocated over a budget of \(budget)" }
            for id in refs.indices {
                if refs[id] != expected[id] { return "block \(id) counted \(refs[id]) holders, held by \(expected[id])" }
                if expected[id] > 0 && storageByID[id] == nil { return "block \(id) is held but was freed" }
                if let node = nodes[id] {
                    if node.block != id { return "block \(id)'s index entry names block \(node.block)" }
                    if storageByID[id] == nil { return "indexed block \(id) was freed" }
                    guard let parent = node.parent, parent.children.contains(where: { $0 === node }) else {
                        return "indexed block \(id) is not under its parent"
                    }
                }
            }
            if allocated != storageByID.count(where: { $0 != nil }) { return "allocated count is off" }
            if held != refs.count(where: { $0 > 0 }) { return "held count is off" }
            let promises = holders.reduce(0) { $0 + $1.reservedBlocks }
            if promised != promises { return "\(promised) blocks promised, caches hold \(promises)" }
            return nil
        }
    }

    // MARK: - Persistence (KVStore)

    /// Visits the indexed blocks, parents before children, under the lock: `body` gets the parent's visit
    /// number (-1: the root), the hit count, the tokens and the block's bytes.
    func forEachIndexed(_ body: (Int, Int, [Int32], UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
        try lock.withLock {
            var queue: [(PrefixNode, Int)] = root.children.map { ($0, -1) }
            var visited = 0
            while !queue.isEmpty {
                let batch = queue
                queue.removeAll()
                for (node, parent) in batch {
                    let bytes = UnsafeRawBufferPointer(start: storageByID[node.block]!, count: blockBytes)
                    try body(parent, node.hits, node.tokens, bytes)
                    queue += node.children.map { ($0, visited) }
                    visited += 1
                }
            }
            return visited
        }
    }

    /// Adds saved blocks to the index (records in `forEachIndexed`'s order), while the budget has room
    /// without evicting; returns how many were added. A record whose parent was not added is skipped.
    func restore(_ records: [(parent: Int, hits: Int, tokens: [Int32], bytes: UnsafeRawPointer)]) -> Int {
        lock.withLock {
            var added: [PrefixNode?] = []
            var count = 0
            for record in records {
                guard allocated < budget, record.tokens.count <= blockTokens, record.parent < added.count else {
                    added.append(nil)
                    continue
                }
                let parentNode: PrefixNode
                if record.parent < 0 { parentNode = root } else if let p = added[record.parent] { parentNode = p } else {
                    added.append(nil)
                    continue
                }
                if parentNode.children.contains(where: { $0.tokens == record.tokens }) {
                    added.append(nil)
                    continue
                }
                guard let id = newBlock() else { added.append(nil); continue }
                storageByID[id]!.copyMemory(from: record.bytes, byteCount: blockBytes)
                let node = PrefixNode(block: id, tokens: record.tokens, parent: parentNode)
                node.hits = record.hits
                parentNode.children.append(node)
                nodes[id] = node
                if record.tokens.count == blockTokens { fullBlocks[record.tokens, default: []].append(node) }
                added.append(node)
                count += 1
            }
            return count
        }
    }

    // MARK: - Used by KVCache

    func storage(_ id: Int) -> UnsafeMutableRawPointer { lock.withLock { storageByID[id]! } }

    func reserve(_ blocks: Int) -> Bool {
        lock.withLock {
            guard held + promised + blocks <= budget else { return false }
            promised += blocks
            return true
        }
    }

    /// A fresh block for `cache` (from its reservation when it has one), evicting if the budget is reached.
    func acquire(for cache: KVCache) throws -> Int {
        try lock.withLock {
            if cache.reservedBlocks > 0 {
                cache.reservedBlocks -= 1
                promised -= 1
            } else if held + promised + 1 > budget {
                throw KVBudgetError(budgetBytes: budget * blockBytes, heldBytes: held * blockBytes)
            }
            guard let id = newBlock() else {
                throw KVBudgetError(budgetBytes: budget * blockBytes, heldBytes: held * blockBytes)
            }
            refs[id] = 1
            held += 1
            return id
        }
    }

    /// Nil when `id` may be written by its one holder, else a private copy (the holder's reference moves to it).
    func makeWritable(_ id: Int, cache: KVCache) throws -> Int? {
        try lock.withLock {
            guard refs[id] > 1 || nodes[id] != nil else { return nil }
            if cache.reservedBlocks > 0 {
                cache.reservedBlocks -= 1
                promised -= 1
            } else if held + promised + 1 > budget {
                throw KVBudgetError(budgetBytes: budget * blockBytes, heldBytes: held * blockBytes)
            }
            refs[id] += 1   // keep the source while room is made
            defer { unreference(id) }
            guard let copy = newBlock() else {
                throw KVBudgetError(budgetBytes: budget * blockBytes, heldBytes: held * blockBytes)
            }
            storageByID[copy]!.copyMemory(from: storageByID[id]!, byteCount: blockBytes)
            refs[copy] = 1
            held += 1
            unreference(id)
            counters.copies += 1
            return copy
        }
    }

    func release(_ ids: [Int]) {
        lock.withLock { for id in ids { unreference(id) } }
    }

    /// Called when a cache ends: its partly filled last block joins the index, its blocks and promise are
    /// given back.
    func retire(_ cache: KVCache) {
        let tail = sharing ? cache.partialTail() : nil
        let ids = cache.blocks
        lock.withLock {
            if let tail { insert(block: tail.block, parent: tail.parent, tokens: tail.tokens) }
            promised -= cache.reservedBlocks
            for id in ids { unreference(id) }
        }
        cache.reservedBlocks = 0
    }

    /// Indexes a full block; returns an equal block already indexed (the caller swaps to it) or nil.
    func publish(block: Int, parent: Int?, tokens: ArraySlice<Int32>) -> Int? {
        lock.withLock {
            guard let existing = insert(block: block, parent: parent, tokens: tokens) else { return nil }
            refs[existing] += 1
            if refs[existing] == 1 { held += 1 }
            unreference(block)
            return existing
        }
    }

    /// The longest indexed prefix of `prompt` (at most `limit` positions): full blocks retained for the caller,
    /// and a copy of the block at the divergence holding the positions it shares. Nil when nothing matches.
    func lookup(_ prompt: [Int32], limit: Int) -> (blocks: [Int], shared: Int, positions: Int)? {
        lock.withLock {
            clock += 1
            counters.lookups += 1
            counters.lookupTokens += limit
            var node = root, position = 0
            var taken: [Int] = []
            while position + blockTokens <= limit {
                let want = prompt[position..<(position + blockTokens)]
                guard let child = node.children.first(where: { $0.tokens.count == blockTokens && $0.tokens.elementsEqual(want) })
                else { break }
                // Holding an idle block takes it out of what the budget can still promise.
                if refs[child.block] == 0 && held + promised + 1 > budget { break }
                child.lastUse = clock
                child.hits += 1
                refs[child.block] += 1
                if refs[child.block] == 1 { held += 1 }
                taken.append(child.block)
                node = child
                position += blockTokens
            }
            let shared = taken.count
            // The divergence: the child sharing the most leading tokens, copied up to there.
            var best: PrefixNode?, bestLength = 0
            for child in node.children {
                var n = 0
                let end = min(child.tokens.count, limit - position)
                while n < end && child.tokens[n] == prompt[position + n] { n += 1 }
                if n > bestLength { best = child; bestLength = n }
            }
            if let best, bestLength > 0, held + promised + 1 <= budget {
                refs[best.block] += 1
                if refs[best.block] == 1 { held += 1 }
                if let copy = newBlock() {
                    storageByID[copy]!.copyMemory(from: storageByID[best.block]!, byteCount: blockBytes)
                    refs[copy] = 1
                    held += 1
                    taken.append(copy)
                    position += bestLength
                    best.lastUse = clock
                    best.hits += 1
                    counters.copies += 1
                }
                unreference(best.block)
            }
            guard position > 0 else { return nil }
            counters.hitTokens += position
            return (taken, shared, position)
        }
    }

    /// A run of cached positions to reuse at other positions: `blocks` (retained for the caller, who releases
    /// them) hold cached positions `from..<from + length`, the first at row `from % blockTokens` of `blocks[0]`;
    /// they are the prompt's positions `start..<start + length`.
    struct Chunk {
        let blocks: [Int]
        let from: Int
        let start: Int
        let length: Int
    }

    /// The best run of at least `minimum` indexed positions whose tokens are `prompt[s..<s + length]`, for a
    /// start s from `start` to `start + maxGap` (`s + length <= limit`), at any position of any indexed sequence:
    /// llama.cpp's `--cache-reuse` search, over every cached sequence instead of one slot's (longest first, then
    /// the smallest gap). A run is found through a full indexed block inside it (at one of the
    /// `blockTokens + maxGap` offsets from `start`), then followed back through its ancestors to where the tokens
    /// stop matching (not before `start`) and forward through the children that continue the prompt. Nil when
    /// none is that long.
    func findChunk(_ prompt: [Int32], at start: Int, limit: Int, minimum: Int, maxGap: Int = 0) -> Chunk? {
        let limit = min(limit, prompt.count)
        guard minimum > 0, start >= 0, maxGap >= 0, limit - start >= max(minimum, blockTokens) else { return nil }
        return lock.withLock {
            var best: (path: [PrefixNode], from: Int, start: Int, length: Int)?
            var seen = Set<ObjectIdentifier>()
            for offset in 0..<(blockTokens + maxGap) where start + offset + blockTokens <= limit {
                let at = start + offset
                guard let candidates = fullBlocks[Array(prompt[at..<(at + blockTokens)])] else { continue }
                // Many equal blocks (a common header under many prefixes): the most recently indexed few.
                for node in candidates.suffix(32) where !seen.contains(ObjectIdentifier(node)) {
                    seen.insert(ObjectIdentifier(node))
                    // Back: the ancestors' tokens before the block, while they match the prompt's before `at`.
                    var path = [node]
                    var back = 0, ancestor = node.parent
                    backward: while let block = ancestor, block.depth >= 0, block.tokens.count == blockTokens {
                        var i = blockTokens - 1
                        while i >= 0 && at - back - 1 >= start && block.tokens[i] == prompt[at - back - 1] {
                            back += 1
                            i -= 1
                        }
                        if i < blockTokens - 1 { path.insert(block, at: 0) }
                        guard i < 0 else { break backward }
                        ancestor = block.parent
                    }
                    let chunkStart = at - back
                    guard chunkStart - start <= maxGap else { continue }
                    // Forward: the children that continue the prompt.
                    var end = at + blockTokens, current = node
                    while end < limit {
                        var next: PrefixNode?, matched = 0
                        for child in current.children {
                            let stop = min(child.tokens.count, limit - end)
                            var n = 0
                            while n < stop && child.tokens[n] == prompt[end + n] { n += 1 }
                            if n > matched { next = child; matched = n }
                        }
                        guard let next else { break }
                        path.append(next)
                        end += matched
                        guard matched == blockTokens else { break }
                        current = next
                    }
                    let length = end - chunkStart
                    guard length >= minimum else { continue }
                    if let b = best, length < b.length || (length == b.length && chunkStart >= b.start) { continue }
                    best = (path, node.depth * blockTokens - back, chunkStart, length)
                }
            }
            guard let best else { return nil }
            // Holding idle blocks takes them out of what the budget can still promise.
            let idle = best.path.count(where: { refs[$0.block] == 0 })
            guard held + promised + idle <= budget else { return nil }
            clock += 1
            for node in best.path {
                node.lastUse = clock
                node.hits += 1
                refs[node.block] += 1
                if refs[node.block] == 1 { held += 1 }
            }
            return Chunk(blocks: best.path.map(\.block), from: best.from, start: best.start, length: best.length)
        }
    }

    /// Counts `positions` taken from a chunk at other positions (after the copy succeeded).
    func recordShifted(_ positions: Int) {
        lock.withLock {
            counters.hitTokens += positions
            counters.shiftedTokens += positions
            counters.shiftedChunks += 1
        }
    }

    // MARK: - Under the lock

    /// A block id with storage, allocated or taken from an evicted block; nil when all of the budget is held.
    private func newBlock() -> Int? {
        if allocated >= budget {
            guard let victim = evictionCandidate() else { return nil }
            evict(victim)
        }
        let id: Int
        if let free = freeIDs.popLast() {
            id = free
        } else {
            id = storageByID.count
            storageByID.append(nil)
            refs.append(0)
            nodes.append(nil)
        }
        storageByID[id] = .allocate(byteCount: blockBytes, alignment: 64)
        allocated += 1
        return id
    }

    private func unreference(_ id: Int) {
        refs[id] -= 1
        if refs[id] == 0 {
            held -= 1
            if nodes[id] == nil { free(id) }
        }
    }

    private func free(_ id: Int) {
        storageByID[id]?.deallocate()
        storageByID[id] = nil
        allocated -= 1
        freeIDs.append(id)
    }

    /// Adds `block` under the node of `parent` (nil: the root) unless that node has a block with the same
    /// tokens already: returns that block's id then (for a full block; a partial block covered by an existing
    /// child is not added, and nil is returned). A block whose parent is not indexed is not added.
    @discardableResult
    private func insert(block: Int, parent: Int?, tokens: ArraySlice<Int32>) -> Int? {
        guard nodes[block] == nil else { return nil }
        let parentNode: PrefixNode
        if let parent {
            guard let p = nodes[parent] else { return nil }
            parentNode = p
        } else {
            parentNode = root
        }
        let full = tokens.count == blockTokens
        for child in parentNode.children where child.tokens.count >= tokens.count
            && child.tokens.prefix(tokens.count).elementsEqual(tokens) {
            // Already covered: a full equal block is shared instead, a partial one is simply not kept.
            if full { return child.block }
            return nil
        }
        let node = PrefixNode(block: block, tokens: Array(tokens), parent: parentNode)
        node.lastUse = clock
        parentNode.children.append(node)
        nodes[block] = node
        if full { fullBlocks[node.tokens, default: []].append(node) }
        // A partial block now covered by this longer one is redundant.
        parentNode.children.removeAll { other in
            guard other !== node, other.tokens.count < tokens.count, other.children.isEmpty,
                  refs[other.block] == 0, tokens.prefix(other.tokens.count).elementsEqual(other.tokens) else { return false }
            nodes[other.block] = nil
            free(other.block)
            return true
        }
        return nil
    }

    private func evictionCandidate() -> PrefixNode? {
        var best: PrefixNode?, bestScore = Double.infinity
        for case let node? in nodes where node.children.isEmpty && refs[node.block] == 0 {
            let score = Double(node.lastUse) + Self.hitWeight * log2(1 + Double(node.hits))
            if score < bestScore { best = node; bestScore = score }
        }
        return best
    }

    private func evict(_ node: PrefixNode) {
        node.parent?.children.removeAll { $0 === node }
        if node.tokens.count == blockTokens {
            fullBlocks[node.tokens]?.removeAll { $0 === node }
            if fullBlocks[node.tokens]?.isEmpty == true { fullBlocks[node.tokens] = nil }
        }
        nodes[node.block] = nil
        free(node.block)
        counters.evictions += 1
    }
}

/// One indexed block: its tokens (a full block or, as a leaf, a partial one) under its parent's prefix.
final class PrefixNode {
    let block: Int
    let tokens: [Int32]
    weak var parent: PrefixNode?
    var children: [PrefixNode] = []
    var lastUse: UInt64 = 0
    var hits = 0
    /// Blocks above it (its first position is `depth × blockTokens`); -1 for the root.
    let depth: Int

    init(block: Int, tokens: [Int32], parent: PrefixNode?) {
        self.block = block
        self.tokens = tokens
        self.parent = parent
        depth = parent.map { $0.depth + 1 } ?? -1
    }
}

/// How a model's cached keys move to other positions: the rotary embedding and the rotated heads of a stored
/// key row (`Transformer.keyShift`).
public struct KeyShift: Sendable {
    let rope: Rope
    /// Heads in a stored key row and the floats from one head's start to the next (each head's first
    /// `rope.dimensions` values are rotated).
    let heads: Int
    let stride: Int
}

/// The KV budget cannot hold another block.
public struct KVBudgetError: Error, CustomStringConvertible {
    public let budgetBytes: Int
    public let heldBytes: Int
    public var description: String {
        "the KV cache budget is full: running sequences hold \(Self.mib(heldBytes)) of \(Self.mib(budgetBytes)); "
            + "raise --kv-budget, shorten the request, or retry when fewer requests run"
    }

    /// What a request that needs `neededBytes` is told when it cannot be admitted.
    public func refusal(neededBytes: Int) -> String {
        if neededBytes > budgetBytes {
            return "this request needs \(Self.mib(neededBytes)) of KV cache, more than the whole --kv-budget of "
                + "\(Self.mib(budgetBytes)): raise --kv-budget or shorten the request (prompt plus max_tokens)"
        }
        return "this request needs \(Self.mib(neededBytes)) of KV cache: \(self)"
    }

    /// Bytes as MiB with one decimal ("1.4 MiB").
    static func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
