import Foundation
import Metrics
import Prometheus

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
    }

    func request(route: String, status: Int) {
        Metrics.Counter(label: "moecoder_requests_total", dimensions: [("route", route), ("status", "\(status)")],
                factory: factory).increment()
    }

    func text() -> String { registry.emitToString() }
}
