import Foundation

/// Fits the code around the cursor into a token budget: whole lines are dropped from the far ends (the top of
/// the code before the cursor, the bottom of the code after it), so the lines nearest the cursor stay.
///
/// The code after the cursor may take up to `suffixShare` of the budget, or more when the code before it
/// leaves room. The cursor's own line is always kept; only a line too long for the whole budget is cut inside,
/// at a token boundary far from the cursor.
struct PromptWindow {
    var prefixTokens: [Int32]
    var suffixTokens: [Int32]
    /// Lines left out above the cursor and below it.
    var droppedPrefixLines = 0
    var droppedSuffixLines = 0

    init(prefix: String, suffix: String, budget: Int, suffixShare: Double = 0.25, starts: WindowStarts? = nil,
         encodePrefix: (String) -> [Int32], encodeSuffix: (String) -> [Int32]) {
        let budget = max(0, budget)
        prefixTokens = encodePrefix(prefix)
        suffixTokens = suffix.isEmpty ? [] : encodeSuffix(suffix)
        if prefixTokens.count + suffixTokens.count <= budget { return }

        let suffixLimit = max(Int(Double(budget) * suffixShare), budget - prefixTokens.count)
        if suffixTokens.count > suffixLimit {
            let lines = Self.lines(suffix)
            var kept = Self.keep(lines.indices, lines: lines, limit: suffixLimit, encode: encodeSuffix)
            suffixTokens = encodeSuffix(lines[..<kept].joined())
            while suffixTokens.count > suffixLimit, kept > 1 {
                kept -= 1
                suffixTokens = encodeSuffix(lines[..<kept].joined())
            }
            if suffixTokens.count > suffixLimit { suffixTokens.removeLast(suffixTokens.count - suffixLimit) }
            droppedSuffixLines = lines.count - kept
        }

        let prefixLimit = budget - suffixTokens.count
        if prefixTokens.count > prefixLimit {
            let lines = Self.lines(prefix)
            let kept = Self.keep(lines.indices.reversed(), lines: lines, limit: prefixLimit, encode: encodePrefix)
            var first = lines.count - kept
            // The window should stay put while the user types, so that the KV cache keeps serving the prefix
            // from one keystroke to the next: it starts where a recent prompt's window started while that still
            // fits, else on a multiple of `step` lines (with `starts`, half a step beyond the fewest lines to
            // drop, as room to type into). Costs at most a few lines of the window.
            let step = max(1, min(32, prefixLimit / 80))
            if let starts, let recent = starts.find(lines, from: first, through: min(lines.count - 2, first + 2 * step)) {
                first = recent
            } else {
                let slack = starts == nil ? 0 : step / 2
                let aligned = (first + slack + step - 1) / step * step
                if aligned < lines.count - 1 { first = aligned }
            }
            prefixTokens = encodePrefix(lines[first...].joined())
            while prefixTokens.count > prefixLimit, first < lines.count - 1 {
                first += 1
                prefixTokens = encodePrefix(lines[first...].joined())
            }
            if prefixTokens.count > prefixLimit { prefixTokens.removeFirst(prefixTokens.count - prefixLimit) }
            droppedPrefixLines = first
            starts?.remember(lines, first)
        }
    }

    /// Lines with their line breaks; the last one may have none (the cursor's line in the prefix). Split at
    /// "\n" bytes, so a "\r\n" (one Character in Swift) ends a line too.
    static func lines(_ text: String) -> [Substring] {
        var lines: [Substring] = []
        var start = text.startIndex
        while let newline = text.utf8[start...].firstIndex(of: ascii("\n")) {
            let end = text.utf8.index(after: newline)
            lines.append(text[start..<end])
            start = end
        }
        if start < text.endIndex || lines.isEmpty { lines.append(text[start...]) }
        return lines
    }

    /// How many lines, taken in `order` from the cursor outwards, fit in `limit` tokens by their separate
    /// token counts (at least one: the cursor's line).
    private static func keep<Order: Sequence<Int>>(_ order: Order, lines: [Substring], limit: Int,
                                                   encode: (String) -> [Int32]) -> Int {
        var total = 0, count = 0
        for index in order {
            total += encode(String(lines[index])).count
            if total > limit, count > 0 { break }
            count += 1
        }
        return count
    }
}

/// Where recent prompts' windows started (by the text of their first lines), so that the next prompt of the same
/// file starts at the same line while that still fits: its prefix is then the one the KV cache holds.
public final class WindowStarts: @unchecked Sendable {
    /// The process's memory, used by code completion.
    public static let shared = WindowStarts()
    private let lock = NSLock()
    private var recent: [Int] = []
    private let capacity = 64

    public init() {}

    private static func key(_ lines: [Substring], _ start: Int) -> Int {
        var hasher = Hasher()
        for line in lines[start..<min(lines.count, start + 3)] { hasher.combine(line) }
        return hasher.finalize()
    }

    /// The first line in `from...through` where a recent window started.
    func find(_ lines: [Substring], from: Int, through: Int) -> Int? {
        guard from <= through else { return nil }
        return lock.withLock {
            guard !recent.isEmpty else { return nil }
            return (from...through).first { recent.contains(Self.key(lines, $0)) }
        }
    }

    func remember(_ lines: [Substring], _ start: Int) {
        let key = Self.key(lines, start)
        lock.withLock {
            recent.removeAll { $0 == key }
            recent.append(key)
            if recent.count > capacity { recent.removeFirst() }
        }
    }
}
