import Foundation
import Metrics
import Prometheus
import Engine

/// The service's Prometheus metrics (through swift-metrics), served on `GET /metrics`.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    let promptTokens: Metrics.Counter
    let generatedTokens: Metrics.Counter
    let timeToFirstToken: Metrics.Timer
    let tokenLatency: Metrics.Timer
    let queueDepth: Metrics.Gauge
    let batchSize: Metrics.Gauge
    let runningSequences: Metrics.Gauge
    let cacheBytes: Metrics.Gauge
    let stepSeconds: Metrics.Timer
    let kvHeldBlocks: Metrics.Gauge
    let kvCachedBlocks: Metrics.Gauge
    let kvBudgetBytes: Metrics.Gauge
    let kvHitTokens: Metrics.Counter
    let kvLookupTokens: Metrics.Counter
    let kvEvictions: Metrics.Counter
    let kvShiftedTokens: Metrics.Counter
    private let lastKV = LastStats()

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
            .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        self.factory = factory
        promptTokens = Metrics.Counter(label: "moecoder_prompt_tokens_total", factory: factory)
        generatedTokens = Metrics.Counter(label: "moecoder_generated_tokens_total", factory: factory)
        timeToFirstToken = Metrics.Timer(label: "moecoder_time_to_first_token_seconds", factory: factory)
        tokenLatency = Metrics.Timer(label: "moecoder_token_latency_seconds", factory: factory)
        stepSeconds = Metrics.Timer(label: "moecoder_step_seconds", factory: factory)
        queueDepth = Metrics.Gauge(label: "moecoder_queue_depth", factory: factory)
        batchSize = Metrics.Gauge(label: "moecoder_batch_size", factory: factory)
        runningSequences = Metrics.Gauge(label: "moecoder_running_sequences", factory: factory)
        cacheBytes = Metrics.Gauge(label: "moecoder_kv_cache_bytes", factory: factory)
        kvHeldBlocks = Metrics.Gauge(label: "moecoder_kv_blocks", dimensions: [("state", "held")], factory: factory)
        kvCachedBlocks = Metrics.Gauge(label: "moecoder_kv_blocks", dimensions: [("state", "cached")], factory: factory)
        kvBudgetBytes = Metrics.Gauge(label: "moecoder_kv_budget_bytes", factory: factory)
        kvHitTokens = Metrics.Counter(label: "moecoder_kv_hit_tokens_total", factory: factory)
        kvLookupTokens = Metrics.Counter(label: "moecoder_kv_lookup_tokens_total", factory: factory)
        kvEvictions = Metrics.Counter(label: "moecoder_kv_evicted_blocks_total", factory: factory)
        kvShiftedTokens = Metrics.Counter(label: "moecoder_kv_shifted_tokens_total", factory: factory)
    }

    func request(route: String, status: Int) {
        Metrics.Counter(label: "moecoder_requests_total", dimensions: [("route", route), ("status", "\(status)")],
                factory: factory).increment()
    }

    func text() -> String { registry.emitToString() }

    /// The KV pool's state: blocks held by running sequences and cached for later ones, the budget, and the
    /// prompt tokens served from the cache (counters advance by what changed since the last call).
    func record(kv: KVBlockPool.Stats) {
        kvHeldBlocks.record(kv.heldBlocks)
        kvCachedBlocks.record(kv.cachedBlocks)
        kvBudgetBytes.record(kv.budgetBlocks * kv.blockBytes)
        let last = lastKV.swap(kv)
        if kv.hitTokens > last.hitTokens { kvHitTokens.increment(by: kv.hitTokens - last.hitTokens) }
        if kv.lookupTokens > last.lookupTokens { kvLookupTokens.increment(by: kv.lookupTokens - last.lookupTokens) }
        if kv.evictions > last.evictions { kvEvictions.increment(by: kv.evictions - last.evictions) }
        if kv.shiftedTokens > last.shiftedTokens { kvShiftedTokens.increment(by: kv.shiftedTokens - last.shiftedTokens) }
    }
}

/// The last KV statistics recorded (counters advance by differences).
private final class LastStats: @unchecked Sendable {
    private let lock = NSLock()
    private var stats = KVBlockPool.Stats()
    func swap(_ new: KVBlockPool.Stats) -> KVBlockPool.Stats {
        lock.withLock {
            let old = stats
            stats = new
            return old
        }
    }
}
