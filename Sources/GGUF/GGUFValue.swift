/// A metadata value in a GGUF file. The cases follow the file's value types 0...12.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32),
         float32(Float), bool(Bool), string(String), array([GGUFValue]), uint64(UInt64), int64(Int64), float64(Double)

    /// Any integer case, when it fits in an `Int`.
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(exactly: v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// Any numeric case (integers and floats).
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        case .int64(let v): Double(v)
        default: int.map(Double.init)
        }
    }

    /// The `.string` case's text.
    public var string: String? {
        if case .string(let v) = self { v } else { nil }
    }

    /// The `.bool` case's value.
    public var bool: Bool? {
        if case .bool(let v) = self { v } else { nil }
    }

    /// The `.array` case's elements.
    public var array: [GGUFValue]? {
        if case .array(let v) = self { v } else { nil }
    }

    /// An array whose elements are all strings.
    public var strings: [String]? { elements(\.string) }

    /// An array whose elements are all integers that fit in an `Int`.
    public var ints: [Int]? { elements(\.int) }

    /// An array whose elements are all numeric, as `Float`.
    public var floats: [Float]? { elements { $0.double.map(Float.init) } }

    private func elements<T>(_ convert: (GGUFValue) -> T?) -> [T]? {
        guard let array else { return nil }
        var result: [T] = []
        result.reserveCapacity(array.count)
        for element in array {
            guard let converted = convert(element) else { return nil }
            result.append(converted)
        }
        return result
    }
}

/// The type tag a GGUF file stores before each value (and once per array for its elements).
enum GGUFValueType: UInt32, CaseIterable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    var name: String { String(describing: self) }

    /// The fewest bytes a value of this type takes: its size, a string's u64 length,
    /// or an array's u32 element type and u64 count.
    var minimumByteCount: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        }
    }
}

extension GGUFValue {
    var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// How deep arrays may nest (an array of scalars is depth 1). Real files use 1; the limit bounds the
    /// reader's recursion on hostile input, and the writer enforces it too so everything it writes reads back.
    static let maxArrayDepth = 16
}
