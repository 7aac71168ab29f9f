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

    init(prefix: String, suffix: String, budget: Int, suffixShare: Double = 0.25,
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
            prefixTokens = encodePrefix(lines[first...].joined())
            while prefixTokens.count > prefixLimit, first < lines.count - 1 {
                first += 1
                prefixTokens = encodePrefix(lines[first...].joined())
            }
            if prefixTokens.count > prefixLimit { prefixTokens.removeFirst(prefixTokens.count - prefixLimit) }
            droppedPrefixLines = first
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
