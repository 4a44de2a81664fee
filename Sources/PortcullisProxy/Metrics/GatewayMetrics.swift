import CoreMetrics
import Foundation
import Logging
import NIOCore
import PortcullisAuth
import PortcullisCore
import PortcullisOIDC
import Prometheus
import Synchronization

/// The gateway's metrics, rendered for Prometheus on the admin listener.
///
/// Two sources: the control plane records through swift-metrics into a swift-prometheus
/// registry (audit events by kind, counted by ``AuditEventCounter`` on the audit logger, so
/// every audited decision is a metric: sign-ins by method and outcome, lockouts, denials,
/// step-ups, reloads); the data plane counts per event loop (``LoopMetrics``) and is added
/// up at scrape time. Gauges that are cheap to read (sessions cached, the SSO switch, the
/// config's hash, credential expiry) are read at scrape time too.
public final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let started = Date()
    static let version = "0.3.0"
    /// The running config file's hash (set at start and by each applied reload).
    private let configHash = Mutex<String?>(nil)

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// An audit event: `portcullis_audit_events_total{event="signin.success"}`.
    func auditEvent(_ event: String) {
        CoreMetrics.Counter(label: "portcullis_audit_events_total", dimensions: [("event", event)], factory: factory).increment()
    }

    /// A call to the identity provider (Entra, Graph): `portcullis_idp_requests_total` by call
    /// and outcome, and `portcullis_idp_request_seconds` by call. Key refreshes are the
    /// `keys` calls.
    func providerCall(_ call: OpenIDProvider.Call, seconds: Double, failed: Bool) {
        recordCall("portcullis_idp", ("call", call.rawValue), seconds: seconds, failed: failed)
    }

    /// A call to the shared session store, likewise by operation.
    func storeCall(_ operation: String, seconds: Double, failed: Bool) {
        recordCall("portcullis_store", ("operation", operation), seconds: seconds, failed: failed)
    }

    /// `<prefix>_requests_total{kind,outcome}` and `<prefix>_request_seconds{kind}`.
    private func recordCall(_ prefix: String, _ kind: (String, String), seconds: Double, failed: Bool) {
        CoreMetrics.Counter(label: prefix + "_requests_total", dimensions: [kind, ("outcome", failed ? "error" : "ok")], factory: factory).increment()
        CoreMetrics.Timer(label: prefix + "_request_seconds", dimensions: [kind], factory: factory).recordSeconds(seconds)
    }

    /// Records the running config's hash: `portcullis_config_info{hash="…"} 1`.
    public func setConfigHash(_ hash: String) {
        configHash.withLock { $0 = hash }
    }

    /// The Prometheus text for everything, `loops` read on their own event loops.
    func render(loops: GatewayLoops, runtime: GatewayRuntime, gate: SessionGate) async -> String {
        var out = registry.emitToString()
        let snapshot = await loops.snapshot()
        let routes = snapshot.routes.sorted { $0.key < $1.key }
        out += "# HELP portcullis_requests_total Requests answered, by route and status class.\n# TYPE portcullis_requests_total counter\n"
        let classes = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
        for (route, counts) in routes {
            for (index, count) in counts.byClass.enumerated() where count > 0 {
                out += "portcullis_requests_total{route=\(Self.label(route)),status=\"\(classes[index])\"} \(count)\n"
            }
        }
        out += "# HELP portcullis_upstream_failures_total Requests answered 502 or 504 (upstream unreachable or too slow), by route.\n# TYPE portcullis_upstream_failures_total counter\n"
        for (route, counts) in routes where route != "-" {
            out += "portcullis_upstream_failures_total{route=\(Self.label(route))} \(counts.upstreamFailures)\n"
        }
        out += "# HELP portcullis_upstream_response_seconds Time from sending a request upstream to its response head, by route.\n# TYPE portcullis_upstream_response_seconds histogram\n"
        for (route, counts) in routes where route != "-" {
            var cumulative: UInt64 = 0
            for (index, bound) in LoopMetrics.latencyBuckets.enumerated() {
                cumulative += counts.latency[index]
                out += "portcullis_upstream_response_seconds_bucket{route=\(Self.label(route)),le=\"\(bound)\"} \(cumulative)\n"
            }
            cumulative += counts.latency[LoopMetrics.latencyBuckets.count]
            out += "portcullis_upstream_response_seconds_bucket{route=\(Self.label(route)),le=\"+Inf\"} \(cumulative)\n"
            out += "portcullis_upstream_response_seconds_sum{route=\(Self.label(route))} \(counts.latencySum)\n"
            out += "portcullis_upstream_response_seconds_count{route=\(Self.label(route))} \(cumulative)\n"
        }
        let config = runtime.config
        out += "# HELP portcullis_sessions_cached Sessions in this instance's cache.\n# TYPE portcullis_sessions_cached gauge\n"
        out += "portcullis_sessions_cached \(gate.cache.count)\n"
        out += "# HELP portcullis_session_cache_lookups_total Session cookies of requests to protected routes looked up in the cache: hit (no store read) or miss.\n# TYPE portcullis_session_cache_lookups_total counter\n"
        out += "portcullis_session_cache_lookups_total{result=\"hit\"} \(snapshot.sessionLookups.hits)\n"
        out += "portcullis_session_cache_lookups_total{result=\"miss\"} \(snapshot.sessionLookups.misses)\n"
        if let hash = configHash.withLock({ $0 }) {
            out += "# HELP portcullis_config_info The running config file's hash (SHA-256, first 16 hex digits).\n# TYPE portcullis_config_info gauge\n"
            out += "portcullis_config_info{hash=\(Self.label(hash))} 1\n"
        }
        out += "# HELP portcullis_sso_enabled The SSO switch: 1 on, 0 off (the emergency).\n# TYPE portcullis_sso_enabled gauge\n"
        out += "portcullis_sso_enabled \(config.sso.enabled ? 1 : 0)\n"
        out += "# HELP portcullis_credential_expiry_timestamp_seconds When a sign-in credential expires.\n# TYPE portcullis_credential_expiry_timestamp_seconds gauge\n"
        for expiry in CredentialExpiry.all(in: config) {
            out += "portcullis_credential_expiry_timestamp_seconds{credential=\(Self.label(expiry.field))} \(Int(expiry.expires.timeIntervalSince1970))\n"
        }
        out += "# HELP portcullis_build_info The running version.\n# TYPE portcullis_build_info gauge\n"
        out += "portcullis_build_info{version=\"\(Self.version)\"} 1\n"
        out += "# HELP portcullis_start_time_seconds When the process started.\n# TYPE portcullis_start_time_seconds gauge\n"
        out += "portcullis_start_time_seconds \(Int(started.timeIntervalSince1970))\n"
        return out
    }

    /// A label value, quoted and escaped as the exposition format wants.
    static func label(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}

/// Counts every audit line by its `event` metadata, beside the audit log's own handler:
/// one mechanism turns every audited decision into a metric.
struct AuditEventCounter: LogHandler {
    let metrics: GatewayMetrics
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if case .string(let name)? = event.metadata?["event"] ?? metadata["event"] { metrics.auditEvent(name) }
    }
}

/// Hands every log event to another logger as it is (its handler, level and metadata).
struct ForwardingLogHandler: LogHandler {
    let target: Logger
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        get { target.logLevel }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        target.log(level: event.level, event.message, metadata: merged, source: event.source, file: event.file, function: event.function, line: event.line)
    }
}
