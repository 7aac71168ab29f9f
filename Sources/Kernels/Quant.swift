import CKernels

/// Conversion between floats and ggml's stored types, and dot products of a stored row with a float vector.
///
/// Each entry point dispatches once on the type to a kernel for that format; the formats live in
/// QuantFloat.swift (f32/f16/bf16), QuantLegacy.swift (q8_0/q4_0/q4_1/q5_0/q5_1), QuantK.swift
/// (q2_K/q3_K/q4_K/q5_K/q6_K) and QuantTable.swift (iq4_nl/iq4_xs/mxfp4).
/// Nothing here allocates: callers own every buffer.
public enum Quant {
    /// Dequantizes `count` elements (a multiple of `type.blockSize`) of `type` starting at `src` into `dst`.
    /// - Precondition: `type.canCompute`.
    public static func dequantize(_ type: TensorType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % type.blockSize == 0, "\(count) elements are not whole \(type.name) blocks")
        switch type {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: FloatFormats.dequantizeF16(src, dst, count: count)
        case .bf16: FloatFormats.dequantizeBF16(src, dst, count: count)
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: LegacyQuants.dequantize(type, src, dst, count: count)
        case .q4_K: KQuants.dequantizeQ4_K(src, dst, count: count)
        case .q5_K: KQuants.dequantizeQ5_K(src, dst, count: count)
        case .q6_K: KQuants.dequantizeQ6_K(src, dst, count: count)
        case .q2_K: LowBitKQuants.dequantizeQ2_K(src, dst, count: count)
        case .q3_K: LowBitKQuants.dequantizeQ3_K(src, dst, count: count)
        case .iq4_nl: TableQuants.dequantizeIQ4_NL(src, dst, count: count)
        case .iq4_xs: TableQuants.dequantizeIQ4_XS(src, dst, count: count)
        case .mxfp4: TableQuants.dequantizeMXFP4(src, dst, count: count)
        default: preconditionFailure("cannot dequantize \(type.name)")
        }
    }

    /// Quantizes `count` floats (a multiple of `type.blockSize`) into `type`, rounding exactly as ggml's
    /// reference quantizers do, so that the bytes match what llama.cpp writes.
    /// - Precondition: `type.canQuantize` (f32, f16, bf16, q8_0, q4_0).
    public static func quantize(_ type: TensorType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, count: Int) {
        precondition(count % type.blockSize == 0, "\(count) elements are not whole \(type.name) blocks")
        switch type {
        case .f32: dst.copyMemory(from: src, byteCount: count * 4)
        case .f16:
            for i in 0..<count { dst.storeBytes(of: src[i].fp16Bits, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<count { dst.storeBytes(of: src[i].bf16Bits, toByteOffset: 2 * i, as: UInt16.self) }
        case .q8_0: LegacyQuants.quantizeQ8_0(src, dst, count: count)
        case .q4_0: LegacyQuants.quantizeQ4_0(src, dst, count: count)
        default: preconditionFailure("cannot quantize to \(type.name)")
        }
    }

    /// Quantizes `rows` rows of `cols` floats into `type` for storing model weights: the searching quantizers
    /// in Sources/CKernels/quantize.c for the block formats `TensorType.canQuantizeWeights` lists (their error is
    /// at most llama.cpp's, not their bytes identical), `quantize(_:_:_:count:)` for f32/f16/bf16.
    /// `importance` (nil, or `cols` non-negative weights) says how much each column's error matters.
    /// - Precondition: `type.canQuantizeWeights`, `cols` a multiple of `type.blockSize`.
    public static func quantizeRows(_ type: TensorType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer,
                                    rows: Int, cols: Int, importance: UnsafePointer<Float>? = nil) {
        precondition(type.canQuantizeWeights, "cannot quantize weights to \(type.name)")
        precondition(cols % type.blockSize == 0, "\(cols) columns are not whole \(type.name) blocks")
        switch type {
        case .f32, .f16, .bf16: quantize(type, src, dst, count: rows * cols)
        default: _ = mk_quantize_rows(type.rawValue, src, dst, rows, cols, importance)
        }
    }

    /// Σ row[i]·x[i] over `count` elements (a multiple of `type.blockSize`) of a row stored as `type`.
    /// - Precondition: `type.canCompute`.
    @inline(__always)
    public static func dot(_ type: TensorType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch type {
        case .f32: FloatFormats.dotF32(row, x, count: count)
        case .f16: FloatFormats.dotF16(row, x, count: count)
        case .bf16: FloatFormats.dotBF16(row, x, count: count)
        case .q8_0: LegacyQuants.dotQ8_0(row, x, count: count)
        case .q4_0: LegacyQuants.dotQ4_0(row, x, count: count)
        case .q4_1: LegacyQuants.dotQ4_1(row, x, count: count)
        case .q5_0: LegacyQuants.dotQ5_0(row, x, count: count)
        case .q5_1: LegacyQuants.dotQ5_1(row, x, count: count)
        case .q4_K: KQuants.dotQ4_K(row, x, count: count)
        case .q5_K: KQuants.dotQ5_K(row, x, count: count)
        case .q6_K: KQuants.dotQ6_K(row, x, count: count)
        case .q2_K: LowBitKQuants.dotQ2_K(row, x, count: count)
        case .q3_K: LowBitKQuants.dotQ3_K(row, x, count: count)
        case .iq4_nl: TableQuants.dotIQ4_NL(row, x, count: count)
        case .iq4_xs: TableQuants.dotIQ4_XS(row, x, count: count)
        case .mxfp4: TableQuants.dotMXFP4(row, x, count: count)
        default: preconditionFailure("cannot compute with \(type.name)")
        }
    }
}

/// Widening conversions from small-integer lanes to float lanes, shared by the kernels.
///
/// Written as lane loops on purpose: LLVM turns these into punpck/psrad/cvtdq2ps sequences inline, while the
/// standard library's `SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded:))` compiles to out-of-line calls that
/// spill every vector register around them (measured ~2× slower Q8_0 dots, ~20× slower f16 ones).
extension SIMD16 where Scalar == Float {
    @inline(__always)
    init(_ bytes: SIMD16<UInt8>) {
        self.init()
        for i in 0..<16 { self[i] = Float(bytes[i]) }
    }

    @inline(__always)
    init(_ bytes: SIMD16<Int8>) {
        self.init()
        for i in 0..<16 { self[i] = Float(bytes[i]) }
    }
}

extension SIMD8 where Scalar == Float {
    @inline(__always)
    init(exactly ints: SIMD8<UInt32>) {
        self.init()
        for i in 0..<8 { self[i] = Float(Int32(bitPattern: ints[i])) }
    }
}

extension SIMD8 where Scalar == UInt32 {
    @inline(__always)
    init(widening halves: SIMD8<UInt16>) {
        self.init()
        for i in 0..<8 { self[i] = UInt32(halves[i]) }
    }
}

extension UnsafePointer where Pointee == Float {
    /// 16 floats starting `offset` elements in.
    @inline(__always)
    func load16(_ offset: Int) -> SIMD16<Float> {
        UnsafeRawPointer(self + offset).loadUnaligned(as: SIMD16<Float>.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    /// Stores 16 floats starting `offset` elements in.
    @inline(__always)
    func store16(_ v: SIMD16<Float>, _ offset: Int) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: SIMD16<Float>.self)
    }
}
