/// Kernels for the unquantized storage types: f32, f16 and bf16.
enum FloatFormats {
    static func dotF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        let w = row.assumingMemoryBound(to: Float.self)
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            a0 += UnsafePointer(w).load16(i) * x.load16(i)
            a1 += UnsafePointer(w).load16(i + 16) * x.load16(i + 16)
            i += 32
        }
        var sum = (a0 + a1).sum()
        while i < count { sum += w[i] * x[i]; i += 1 }
        return sum
    }

    static func dotF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= count {
            let h0 = row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            let h1 = row.loadUnaligned(fromByteOffset: 2 * i + 16, as: SIMD8<UInt16>.self)
            a0 += SIMD8<Float>(fp16Bits: h0) * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            a1 += SIMD8<Float>(fp16Bits: h1) * UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            i += 16
        }
        var sum = (a0 + a1).sum()
        while i < count {
            sum += Float(fp16Bits: row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    static func dotBF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= count {
            let h0 = row.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            let h1 = row.loadUnaligned(fromByteOffset: 2 * i + 16, as: SIMD8<UInt16>.self)
            a0 += SIMD8<Float>(bf16Bits: h0) * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            a1 += SIMD8<Float>(bf16Bits: h1) * UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
            i += 16
        }
        var sum = (a0 + a1).sum()
        while i < count {
            sum += Float(bf16Bits: row.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }

    static func dequantizeF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = SIMD8<Float>(fp16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self))
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dst[i] = Float(fp16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)); i += 1 }
    }

    static func dequantizeBF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = SIMD8<Float>(bf16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self))
            UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dst[i] = Float(bf16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)); i += 1 }
    }
}
