import Foundation

/// The progress bar `pull` draws on a terminal: `name  [#####-----]  45%  1.20 MiB / 2.67 MiB  3.1 MiB/s  ETA 0:01`.
public struct ProgressLine: Sendable {
    public var width: Int

    public init(width: Int = 24) {
        self.width = width
    }

    /// One line (no newline); `speed` in bytes per second, nil until it is known.
    public func render(name: String, received: Int64, total: Int64?, speed: Double?) -> String {
        var parts = [name.count > 40 ? "…" + name.suffix(39) : name]
        if let total, total > 0 {
            let fraction = min(1, max(0, Double(received) / Double(total)))
            let filled = Int(fraction * Double(width))
            parts.append("[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]")
            parts.append(String(format: "%3d%%", Int(fraction * 100)))
            parts.append("\(ByteCount.format(received)) / \(ByteCount.format(total))")
        } else {
            parts.append(ByteCount.format(received))
        }
        if let speed, speed > 0 {
            parts.append("\(ByteCount.format(Int64(speed)))/s")
            if let total, total > received {
                parts.append("ETA " + Self.duration(Double(total - received) / speed))
            }
        }
        return parts.joined(separator: "  ")
    }

    /// `0:07`, `12:34`, `1:02:03`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 360_000 else { return "--:--" }
        let s = Int(seconds.rounded(.up))
        let (h, m, r) = (s / 3600, (s % 3600) / 60, s % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, r) : String(format: "%d:%02d", m, r)
    }
}
