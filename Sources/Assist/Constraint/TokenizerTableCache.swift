import Foundation
import Tokenizer

/// A value derived from a tokenizer's vocabulary (token bytes, flags, layouts), built once and kept for the last
/// tokenizer asked for: an editor's or a service's requests use one model, and reading an 8 K vocabulary again
/// for every completion cost about a millisecond.
final class TokenizerTableCache<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var last: (tokenizer: BPETokenizer, value: Value)?
    private let make: @Sendable (BPETokenizer) -> Value

    init(_ make: @escaping @Sendable (BPETokenizer) -> Value) { self.make = make }

    func value(for tokenizer: BPETokenizer) -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let last, last.tokenizer === tokenizer { return last.value }
        let made = make(tokenizer)
        last = (tokenizer, made)
        return made
    }
}
