import ArgumentParser
import Engine
import Foundation

/// The KV cache options of the commands that keep prefixes between requests (serve, lsp, complete, generate).
struct KVOptions: ParsableArguments {
    @Option(name: .customLong("kv-budget"), help: ArgumentHelp(
        "Megabytes of KV cache for running requests and cached prefixes (default: a quarter of the machine's "
            + "memory). Cached prefixes are evicted, least recently and least often used first, to stay within it.",
        valueName: "MB"))
    var kvBudget: Int?

    @Option(name: .customLong("persist-kv"), help: ArgumentHelp(
        "Keep cached prefixes in this folder across runs (one file per model): loaded at start, saved at exit.",
        valueName: "dir"))
    var persistKV: String?

    func validate() throws {
        if let kvBudget, kvBudget < 1 { throw ValidationError("--kv-budget must be at least 1 (megabytes)") }
        if let persistKV, persistKV.isEmpty { throw ValidationError("--persist-kv is empty; give a folder") }
    }

    /// Sets the budget and loads saved prefixes; returns the store to save to at exit (nil without
    /// --persist-kv). Problems with the saved file are reported and the run goes on without it.
    func apply(to model: LanguageModel, quiet: Bool = false) -> KVStore? {
        let pool = model.transformer.kvPool
        if let kvBudget {
            pool.setBudget(bytes: kvBudget << 20)
            if pool.budgetBlocks * pool.blockTokens < 256 {
                warn("--kv-budget \(kvBudget) MB holds only \(pool.budgetBlocks * pool.blockTokens) positions of "
                     + "this model's KV cache (\(pool.blockBytes) bytes per \(pool.blockTokens) positions)")
            }
        }
        guard let persistKV else { return nil }
        let store = KVStore(directory: persistKV, model: model)
        do {
            let blocks = try store.load(into: pool)
            if blocks > 0 && !quiet {
                warn("loaded \(blocks * pool.blockTokens) cached positions (\((blocks * pool.blockBytes) >> 20) MB) "
                     + "from \(store.path)")
            }
        } catch {
            warn("\(error)")
        }
        return store
    }

    /// Saves the cached prefixes (reporting, not failing, when it cannot).
    static func save(_ store: KVStore?, model: LanguageModel) {
        guard let store else { return }
        do { try store.save(model.transformer.kvPool) } catch { warn("\(error)") }
    }
}
