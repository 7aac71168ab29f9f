import Foundation

/// Writes the JSON of the plain trees the server answers with — dictionaries with string keys (sorted), arrays,
/// strings, integers, floating-point numbers, booleans and `NSNull` — without Foundation's `JSONSerialization`,
/// whose type checks cost a streamed token about as much as the rest of its event (5 % of the server's CPU time
/// under the editor load of `bench/serve_load.py`). The output is what `JSONSerialization` writes with
/// `.sortedKeys` and `.withoutEscapingSlashes` up to the spelling of numbers (shortest round-trip decimal here).
/// Anything else in the tree (an `NSNumber`, a non-finite number, a custom type) makes `encode` return nil, and
/// the caller falls back to `JSONSerialization`.
enum JSONWriter {
    static func encode(_ object: Any) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(192)
        return write(object, into: &out) ? out : nil
    }

    private static func write(_ value: Any, into out: inout [UInt8]) -> Bool {
        switch value {
        case let string as String:
            writeString(string, into: &out)
        case let dictionary as [String: Any]:
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in dictionary.keys.sorted() {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                guard write(dictionary[key]!, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, element) in array.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                guard write(element, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        case let flag as Bool:
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case let integer as Int:
            out.append(contentsOf: String(integer).utf8)
        case let integer as Int32:
            out.append(contentsOf: String(integer).utf8)
        case let integer as Int64:
            out.append(contentsOf: String(integer).utf8)
        case let integer as UInt32:
            out.append(contentsOf: String(integer).utf8)
        case let number as Double:
            guard number.isFinite else { return false }
            writeNumber(number, into: &out)
        case let number as Float:
            guard number.isFinite else { return false }
            writeNumber(Double(number), into: &out)
        default:
            return false
        }
        return true
    }

    private static func writeNumber(_ number: Double, into out: inout [UInt8]) {
        // Integral values as integers (as JSONSerialization writes them), the rest shortest round-trip.
        if number == number.rounded(), abs(number) < 1e15 {
            out.append(contentsOf: String(Int64(number)).utf8)
        } else {
            out.append(contentsOf: "\(number)".utf8)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
