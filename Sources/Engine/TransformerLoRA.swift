import CKernels
import Foundation
import GGUF
import Kernels

/// LoRA adapters at inference, unmerged: after each adapted product y = W x the pass adds
/// scale · factor · B (A x) to every row whose sequence runs with the adapter (its cache's `adapters`, else the
/// model's). Rows of one pass may use different adapters. With no adapter anywhere the pass checks one flag per
/// product and does nothing else.
extension Transformer {
    /// Sets the adapters every sequence runs with unless its cache names its own (`[]`: none). Checks each
    /// adapter against the model (architecture, tensor names, shapes) and merges `attn_kv_b` deltas into the
    /// engine's copies of the MLA projections.
    public func setAdapters(_ uses: [AdapterUse]) throws {
        for use in uses { try check(use.adapter) }
        layers = try mergedKVB(uses)
        adapters = uses
    }

    /// Throws when `adapter` cannot run with this model, saying which tensor and what was expected.
    public func check(_ adapter: LoRAAdapter) throws {
        let ours = config.architecture.rawValue
        if let theirs = adapter.architecture, theirs != ours {
            throw ModelError("\(adapter.path): the adapter is for a '\(theirs)' model; this model is '\(ours)'")
        }
        for delta in adapter.deltas {
            let missing = ModelError("\(adapter.path): the adapter adapts '\(delta.name)', which this \(ours) model does "
                                     + "not have (is the adapter for another model?)")
            guard let place = delta.place, place.layer < config.blockCount else { throw missing }
            let model: [Int]
            if let base = file.tensor(delta.name) {
                model = base.dimensions
            } else if place.tensor == "attn_kv_b", file.tensor("blk.\(place.layer).attn_k_b.weight") != nil {
                // Split MLA files: the delta is merged into attn_k_b/attn_v_b, the halves of this matrix.
                model = [config.kvLoraRank, config.headCount * (config.keyNoRopeLength + config.valueLength)]
            } else {
                throw missing
            }
            let expected = delta.experts > 0 ? [delta.cols, delta.rows, delta.experts] : [delta.cols, delta.rows]
            guard model == expected else {
                throw ModelError("\(adapter.path): the delta for '\(delta.name)' has shape \(expected) (lora_a [\(delta.cols), "
                                 + "\(delta.rank)], lora_b [\(delta.rank), \(delta.rows)]\(delta.experts > 0 ? " × \(delta.experts) experts" : "")); "
                                 + "the model's tensor is \(model): expected lora_a [\(model[0]), r] and lora_b [r, \(model.count > 1 ? model[1] : 0)]"
                                 + (model.count > 2 ? " for each of \(model[2]) experts" : ""))
            }
            if place.tensor != "attn_kv_b", !uses(delta.name) {
                throw ModelError("\(adapter.path): '\(delta.name)' is not one of the products moecoder's \(ours) "
                                 + "model computes with a LoRA delta")
            }
        }
    }

    /// Whether the forward pass adds a delta after the product of tensor `name` (a site exists for it and the
    /// layer has that product).
    private func uses(_ name: String) -> Bool {
        let delta = LoRADelta(name: name, rank: 0, cols: 0, rows: 0, experts: 0, factor: 0, a: [], b: [])
        guard let place = delta.place, let site = LoRASite.names[place.tensor] else { return false }
        let layer = baseLayers[place.layer]
        switch (site, layer.attention, layer.ffn) {
        case (.attnQ, .standard, _), (.attnK, .standard, _), (.attnV, .standard, _), (.attnOutput, _, _): return true
        case (.attnQ, .latent(let a), _): return a.q != nil
        case (.attnQA, .latent(let a), _), (.attnQB, .latent(let a), _): return a.qA != nil
        case (.attnKVA, .latent, _): return true
        case (.ffnGate, _, .dense), (.ffnUp, _, .dense), (.ffnDown, _, .dense): return true
        case (.router, _, .moe), (.gateExps, _, .moe), (.upExps, _, .moe), (.downExps, _, .moe): return true
        case (.sharedGate, _, .moe(let m)), (.sharedUp, _, .moe(let m)), (.sharedDown, _, .moe(let m)):
            return m.shared != nil
        default: return false
        }
    }

    /// A cache's own adapters must be checked, outside the shared pool, and free of merged (`attn_kv_b`) deltas.
    func checkOwnAdapters(_ own: [AdapterUse], cache: KVCache) throws {
        if cache.pool.sharing {
            throw ModelError("a sequence with adapters other than the model's needs a cache of its own (KVCache(config:)), "
                             + "not one in the shared pool: its keys and values differ from other sequences' for the same tokens")
        }
        for use in own + adapters where !use.adapter.kvB.isEmpty {
            throw ModelError("\(use.adapter.path) adapts attn_kv_b, which moecoder merges into the model when the adapter "
                             + "is loaded with the model (--lora); it cannot be switched per sequence")
        }
        for use in own where !work.checkedAdapters.contains(ObjectIdentifier(use.adapter)) {
            try check(use.adapter)
            work.checkedAdapters.insert(ObjectIdentifier(use.adapter))
        }
    }

    /// Finds the adapter lists of this pass's rows; `loraActive` is false when no row has one.
    func prepareLoRA(rows n: Int) {
        work.loraActive = false
        var any = !adapters.isEmpty
        if !any { for segment in work.segments where !(segment.cache.adapters?.isEmpty ?? true) { any = true; break } }
        guard any else { return }
        work.loraMixes.removeAll(keepingCapacity: true)
        if work.rowMix.count < n { work.rowMix = Array(repeating: 0, count: n) }
        for segment in work.segments {
            let mix = (segment.cache.adapters ?? adapters).filter { $0.scale != 0 }
            var index = work.loraMixes.firstIndex(of: mix)
            if index == nil { work.loraMixes.append(mix); index = work.loraMixes.count - 1 }
            for r in segment.row..<(segment.row + segment.n) { work.rowMix[r] = index! }
        }
        work.loraActive = work.loraMixes.contains { !$0.isEmpty }
    }

    /// y (n × out) += the deltas of `site` for rows x (n × in), rows i of the pass's token rows `tokens[i]`
    /// (nil: row i is token row i).
    func addLoRA(_ site: LoRASite, _ layer: Int, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
              expert: Int = 0, tokens: ArraySlice<Int>? = nil) {
        var start = 0
        while start < n {
            let mix = work.rowMix[tokens.map { $0[$0.startIndex + start] } ?? start]
            var end = start + 1
            while end < n, work.rowMix[tokens.map { $0[$0.startIndex + end] } ?? end] == mix { end += 1 }
            for use in work.loraMixes[mix] {
                guard let d = use.adapter.delta(layer: layer, site) else { continue }
                let m = end - start, r = d.rank
                let low = work.loraLow.ensure(m * r)
                d.a.withUnsafeBufferPointer { a in
                    mk_sgemm_ex(1, m, r, d.cols, x + start * d.cols, d.cols, a.baseAddress! + expert * r * d.cols, d.cols,
                                0, low, r)
                }
                let s = use.scale * d.factor
                for i in 0..<(m * r) { low[i] *= s }
                d.b.withUnsafeBufferPointer { b in
                    mk_sgemm_ex(1, m, d.rows, r, low, r, b.baseAddress! + expert * d.rows * r, r, 1, y + start * d.rows, d.rows)
                }
            }
            start = end
        }
    }

    /// The deltas of an expert tensor over the routed rows (laid out expert after expert as `work.assignments`
    /// orders them): x rows `inWidth` wide, y rows `outWidth` wide.
    func expertLoRA(_ site: LoRASite, _ layer: Int, _ x: UnsafePointer<Float>, _ inWidth: Int,
                    _ y: UnsafeMutablePointer<Float>, _ outWidth: Int) {
        guard work.loraMixes.contains(where: { $0.contains { $0.adapter.delta(layer: layer, site) != nil } }) else { return }
        work.loraTokens.removeAll(keepingCapacity: true)
        for routed in work.assignments { for item in routed { work.loraTokens.append(item.token) } }
        var row = 0
        for (expert, routed) in work.assignments.enumerated() where !routed.isEmpty {
            addLoRA(site, layer, x + row * inWidth, routed.count, y + row * outWidth, expert: expert,
                 tokens: work.loraTokens[row..<(row + routed.count)])
            row += routed.count
        }
    }

    /// The base layers with the `attn_kv_b` deltas of `uses` merged into owned F32 copies of the MLA head
    /// projections (split `attn_k_b`/`attn_v_b`, or the packed `attn_kv_b` and its transposed keys).
    private func mergedKVB(_ uses: [AdapterUse]) throws -> [DecoderLayer] {
        var result = baseLayers
        let h = config.headCount, nope = config.keyNoRopeLength, vLen = config.valueLength, lora = config.kvLoraRank
        for i in result.indices {
            let deltas = uses.compactMap { use in use.adapter.kvB[i].map { ($0, use.scale) } }
            guard !deltas.isEmpty, case .latent(var a) = result[i].attention else { continue }
            // The full kv_b (h·(nope + vLen) rows × lora) as floats, plus the deltas.
            let rows = h * (nope + vLen)
            var w = [Float](repeating: 0, count: rows * lora)
            switch a.heads {
            case .packed(let kvB):
                w.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<rows { Quant.dequantize(kvB.type, kvB.row(r), dst.baseAddress! + r * lora, count: lora) }
                }
            case .split(let kB, let vB):
                var row = [Float](repeating: 0, count: max(nope, lora))
                for head in 0..<h {
                    let first = head * (nope + vLen)
                    let k = kB.expert(head), v = vB.expert(head)
                    for c in 0..<lora {      // kB: lora rows × nope cols (transposed keys)
                        row.withUnsafeMutableBufferPointer { Quant.dequantize(k.type, k.row(c), $0.baseAddress!, count: nope) }
                        for r in 0..<nope { w[(first + r) * lora + c] = row[r] }
                    }
                    for r in 0..<vLen {
                        w.withUnsafeMutableBufferPointer {
                            Quant.dequantize(v.type, v.row(r), $0.baseAddress! + (first + nope + r) * lora, count: lora)
                        }
                    }
                }
            }
            for (delta, scale) in deltas {
                let d = delta.dense(scale: scale)
                for j in 0..<w.count { w[j] += d[j] }
            }
            let storage = OwnedBytes(count: rows * lora * 4)
            let floats = storage.pointer.bindMemory(to: Float.self, capacity: rows * lora)
            switch a.heads {
            case .packed:
                floats.update(from: w, count: w.count)
                let kvB = WeightMatrix(type: .f32, rows: rows, cols: lora, data: UnsafeRawPointer(floats))
                a.heads = .packed(kvB)
                let absorbed = DeepSeek2Architecture.transposedKeys(kvB, heads: h, nope: nope, vLen: vLen, lora: lora)
                a.absorbedKeys = absorbed?.0
                a.storage = absorbed?.1
            case .split:
                // Per head: kB (lora × nope) then vB (vLen × lora).
                let perHead = lora * nope + vLen * lora
                for head in 0..<h {
                    let first = head * (nope + vLen), base = floats + head * perHead
                    for c in 0..<lora { for r in 0..<nope { base[c * nope + r] = w[(first + r) * lora + c] } }
                    for r in 0..<vLen { for c in 0..<lora { base[lora * nope + r * lora + c] = w[(first + nope + r) * lora + c] } }
                }
                let raw = UnsafeRawPointer(floats)
                a.heads = .split(kB: ExpertMatrices(type: .f32, rows: lora, cols: nope, count: h, data: raw, stride: perHead * 4),
                                 vB: ExpertMatrices(type: .f32, rows: vLen, cols: lora, count: h,
                                                    data: raw + lora * nope * 4, stride: perHead * 4))
            }
            a.merged = storage
            result[i].attention = .latent(a)
        }
        return result
    }
}
