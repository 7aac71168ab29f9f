/// Keys and values of one sequence, per layer, for positions 0..<count (F32, contiguous).
///
/// Standard attention stores per position `headCountKV × keyLength` keys and `headCountKV × valueLength`
/// values; latent attention (deepseek2) stores the normalised latent (`kvLoraRank`) as "values" and the
/// rotary key part (`rope dims`) as "keys".
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    /// Positions filled so far.
    public internal(set) var count = 0
    let keyWidth: Int
    let valueWidth: Int
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    public init(config: ModelConfig, capacity: Int? = nil) {
        let positions = max(1, capacity ?? config.contextLength)
        let (keyWidth, valueWidth) = config.architecture == .deepseek2
            ? (config.rope.dimensions, config.kvLoraRank)
            : (config.headCountKV * config.keyLength, config.headCountKV * config.valueLength)
        self.capacity = positions
        self.keyWidth = keyWidth
        self.valueWidth = valueWidth
        keys = (0..<config.blockCount).map { _ in .allocate(capacity: positions * keyWidth) }
        values = (0..<config.blockCount).map { _ in .allocate(capacity: positions * valueWidth) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes held.
    public var byteCount: Int { (keys.count * keyWidth + values.count * valueWidth) * capacity * 4 }

    /// Forgets positions from `length` on (to reuse a shared prefix, or start over with 0).
    public func truncate(to length: Int) { count = min(count, max(0, length)) }

    func key(layer: Int, position: Int) -> UnsafeMutablePointer<Float> { keys[layer] + position * keyWidth }
    func value(layer: Int, position: Int) -> UnsafeMutablePointer<Float> { values[layer] + position * valueWidth }
}
