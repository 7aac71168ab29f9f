import Foundation
import GGUF
import Kernels

/// `moecoder lora merge`: bakes adapters into a copy of the base model. Each adapted tensor is dequantized,
/// gets scale · factor · B·A added (per expert for stacked experts; for `attn_kv_b` also its split copies
/// `attn_k_b` (transposed per head) and `attn_v_b`), and is written back in its own type (or F32); every other
/// tensor and all metadata are copied unchanged.
public enum LoRAMerger {
    public struct Change: Sendable {
        public let name: String
        public let from: TensorType
        public let to: TensorType
    }

    public static func merge(base path: String, adapters: [AdapterUse], output: String, f32: Bool) throws -> [Change] {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch let error as GGUFError { throw ModelError("\(path): \(error.message)") }
        let model = try Transformer(file: file, threads: 1)
        for use in adapters { try model.check(use.adapter) }
        let c = model.config
        let h = c.headCount, nope = c.keyNoRopeLength, vLen = c.valueLength, lora = c.kvLoraRank
        // Per base tensor: how to add the deltas to its floats (expert-major, rows × cols each).
        var edits: [String: [(LoRADelta, Float, (inout [Float], [Float]) -> Void)]] = [:]
        for use in adapters {
            for delta in use.adapter.deltas {
                edits[delta.name, default: []].append((delta, use.scale, { w, d in for i in w.indices { w[i] += d[i] } }))
                guard let place = delta.place, place.tensor == "attn_kv_b" else { continue }
                let p = "blk.\(place.layer)."
                // attn_k_b: per head lora rows × nope cols = the key rows of kv_b transposed.
                edits[p + "attn_k_b.weight", default: []].append((delta, use.scale, { w, d in
                    for head in 0..<h {
                        let first = head * (nope + vLen)
                        for cIndex in 0..<lora { for r in 0..<nope { w[head * lora * nope + cIndex * nope + r] += d[(first + r) * lora + cIndex] } }
                    }
                }))
                edits[p + "attn_v_b.weight", default: []].append((delta, use.scale, { w, d in
                    for head in 0..<h {
                        let first = head * (nope + vLen) + nope
                        for r in 0..<vLen { for cIndex in 0..<lora { w[head * vLen * lora + r * lora + cIndex] += d[(first + r) * lora + cIndex] } }
                    }
                }))
            }
        }
        var changes: [Change] = []
        var descriptions: [GGUFStreamWriter.TensorDescription] = []
        for t in file.tensors {
            var type = t.type
            if edits[t.name] != nil {
                if f32 || !t.type.canQuantizeWeights || t.type.byteCount(elements: t.dimensions[0]) == nil { type = .f32 }
                changes.append(Change(name: t.name, from: t.type, to: type))
            }
            descriptions.append(.init(name: t.name, dimensions: t.dimensions, type: type))
        }
        var metadata: [(key: String, value: GGUFValue)] = []
        for key in file.metadataKeys where key != "general.alignment" {
            if let value = file.metadata[key] { metadata.append((key, value)) }
        }
        let writer: GGUFStreamWriter
        do {
            writer = try GGUFStreamWriter(path: output, metadata: metadata, tensors: descriptions, alignment: file.alignment,
                                          emptyArraysLike: file)
        } catch let error as GGUFError { throw ModelError("\(output): \(error.message)") }
        do {
            for (t, description) in zip(file.tensors, descriptions) {
                guard let list = edits[t.name] else {
                    try writer.append(UnsafeRawBufferPointer(start: file.data(t), count: t.byteCount))
                    continue
                }
                var w = [Float](repeating: 0, count: t.elementCount)
                w.withUnsafeMutableBufferPointer { Quant.dequantize(t.type, file.data(t), $0.baseAddress!, count: t.elementCount) }
                for (delta, scale, apply) in list {
                    if delta.experts > 0 {
                        let size = delta.rows * delta.cols
                        for e in 0..<delta.experts {
                            var slice = Array(w[(e * size)..<((e + 1) * size)])
                            apply(&slice, delta.dense(expert: e, scale: scale))
                            w.replaceSubrange((e * size)..<((e + 1) * size), with: slice)
                        }
                    } else {
                        apply(&w, delta.dense(scale: scale))
                    }
                }
                let cols = t.dimensions[0], rows = t.elementCount / cols
                var bytes = [UInt8](repeating: 0, count: description.type.byteCount(elements: cols)! * rows)
                w.withUnsafeBufferPointer { src in
                    bytes.withUnsafeMutableBytes {
                        Quant.quantizeRows(description.type, src.baseAddress!, $0.baseAddress!, rows: rows, cols: cols)
                    }
                }
                try bytes.withUnsafeBytes { try writer.append($0) }
            }
            try writer.finish()
        } catch let error as GGUFError {
            writer.abandon()
            throw ModelError("\(output): \(error.message)")
        }
        return changes
    }
}
