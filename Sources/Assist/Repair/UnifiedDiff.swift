/// Unified diffs (`diff -u` layout) between two versions of one file.
public enum UnifiedDiff {
    /// The diff of `old` and `new` as one hunk around the changed lines, with `context` lines either side;
    /// empty when they are equal. Repairs change one region, so one hunk is exact.
    public static func make(old: String, new: String, path: String, context: Int = 3) -> String {
        let a = lines(old), b = lines(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        if prefix == a.count && prefix == b.count { return "" }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] {
            suffix += 1
        }
        let start = max(0, prefix - context)
        let endA = min(a.count, a.count - suffix + context), endB = min(b.count, b.count - suffix + context)
        var out = "--- a/\(path)\n+++ b/\(path)\n"
        out += "@@ -\(range(start, endA - start)) +\(range(start, endB - start)) @@\n"
        for line in a[start..<prefix] { out += " " + line }
        for line in a[prefix..<(a.count - suffix)] { out += "-" + line }
        for line in b[prefix..<(b.count - suffix)] { out += "+" + line }
        for line in a[(a.count - suffix)..<endA] { out += " " + line }
        return out
    }

    /// `start,count` with diff's conventions: 1-based, and the line before when the range is empty.
    private static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }

    /// Lines with their newlines; a last line without one gets diff's marker.
    private static func lines(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        for c in text {
            current.append(c)
            if c == "\n" || c == "\r\n" {
                result.append(current)
                current = ""
            }
        }
        if !current.isEmpty { result.append(current + "\n\\ No newline at end of file\n") }
        return result
    }
}
