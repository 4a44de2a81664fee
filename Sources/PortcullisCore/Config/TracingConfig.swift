/// `tracing`: optional OpenTelemetry tracing. Each proxied request becomes a server span,
/// continuing the client's W3C trace context (`traceparent`, `tracestate`) when it sent one,
/// and the upstream receives the span's context, so its own spans join the trace. Spans go
/// to an OTLP/HTTP collector in batches. Off by default, and then the data plane does no
/// tracing work at all: the client's trace context passes to the upstream untouched.
public struct TracingConfig: ConfigSection, Sendable, Equatable {
    public var enabled: Bool
    /// The collector's OTLP/HTTP traces URL.
    public var endpoint: String
    public var serviceName: String
    /// The share of new traces recorded (0 to 1); a client's sampled flag is followed.
    public var sampleRatio: Double
    /// Seconds between exports of finished spans.
    public var exportInterval: Double

    public static var fields: [ConfigField] {
        [.value("enabled"), .value("endpoint"), .value("serviceName"), .value("sampleRatio"), .value("exportInterval")]
    }

    public init(reading reader: ConfigObjectReader) {
        enabled = reader.bool("enabled", default: false)
        endpoint = reader.string("endpoint", default: "http://127.0.0.1:4318/v1/traces")
        serviceName = reader.string("serviceName", default: "portcullis")
        sampleRatio = reader.number("sampleRatio") ?? 1
        exportInterval = reader.seconds("exportInterval", default: 5, in: 0.05...300)
        if case .failure(let failure) = HTTPURL.parse(endpoint) { reader.fail("endpoint", failure.reason) }
        if serviceName.isEmpty { reader.fail("serviceName", "must not be empty") }
        if !(0...1).contains(sampleRatio) { reader.fail("sampleRatio", "\(sampleRatio) is not from 0 to 1") }
    }
}
