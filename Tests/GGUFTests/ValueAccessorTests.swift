import GGUF
import Testing

/// The typed accessors the Engine reads hyper-parameters with: lenient across numeric widths, never trapping.
struct ValueAccessorTests {
    @Test("int accepts every integer case that fits, and nothing else")
    func int() {
        #expect(GGUFValue.uint8(200).int == 200)
        #expect(GGUFValue.int8(-3).int == -3)
        #expect(GGUFValue.uint16(60000).int == 60000)
        #expect(GGUFValue.int16(-300).int == -300)
        #expect(GGUFValue.uint32(.max).int == Int(UInt32.max))
        #expect(GGUFValue.int32(.min).int == Int(Int32.min))
        #expect(GGUFValue.int64(.min).int == Int.min)
        #expect(GGUFValue.uint64(UInt64(Int.max)).int == Int.max)
        #expect(GGUFValue.uint64(.max).int == nil)
        #expect(GGUFValue.float32(1).int == nil)
        #expect(GGUFValue.bool(true).int == nil)
        #expect(GGUFValue.string("1").int == nil)
    }

    @Test("double accepts integers and floats")
    func double() {
        #expect(GGUFValue.float32(0.5).double == 0.5)
        #expect(GGUFValue.float64(-1e300).double == -1e300)
        #expect(GGUFValue.uint64(.max).double == Double(UInt64.max))
        #expect(GGUFValue.int8(-2).double == -2)
        #expect(GGUFValue.string("1").double == nil)
    }

    @Test("scalar and array accessors return their case's contents, or nil for any other case")
    func casesAndArrays() {
        #expect(GGUFValue.string("a").string == "a")
        #expect(GGUFValue.uint8(1).string == nil)
        #expect(GGUFValue.bool(false).bool == false)
        #expect(GGUFValue.uint8(0).bool == nil)
        #expect(GGUFValue.array([.bool(true)]).array == [.bool(true)])
        #expect(GGUFValue.string("a").array == nil)

        #expect(GGUFValue.array([.string("a"), .string("b")]).strings == ["a", "b"])
        #expect(GGUFValue.array([.string("a"), .uint8(1)]).strings == nil)
        #expect(GGUFValue.array([.int32(-1), .uint64(7)]).ints == [-1, 7])
        #expect(GGUFValue.array([.uint64(.max)]).ints == nil)
        #expect(GGUFValue.array([.float32(0.25), .int32(2), .float64(1.5)]).floats == [0.25, 2, 1.5])
        #expect(GGUFValue.array([.string("x")]).floats == nil)
        #expect(GGUFValue.array([]).strings == [])
        #expect(GGUFValue.uint32(3).ints == nil)
    }
}
