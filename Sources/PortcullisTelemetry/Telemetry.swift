import Logging
import OTel
import PortcullisCore
import ServiceLifecycle
import Tracing

/// Builds the OpenTelemetry tracer `tracing` asks for: OTLP over HTTP (protobuf) to the
/// configured collector, W3C trace context, parent-based sampling at `sampleRatio`. The
/// standard `OTEL_*` environment variables still override it (an operator's usual lever).
///
/// The tracer is not installed globally: the gateway is handed it, so several gateways in one
/// process (tests) each have their own, and nothing else in the process starts tracing.
public enum Telemetry {
    /// The tracer and the service that exports its spans (run it in the process's
    /// `ServiceGroup`; it flushes on graceful shutdown), or nil when tracing is off.
    public static func tracer(for config: TracingConfig, logger: Logger) throws -> (tracer: any Tracer, exporter: any Service)? {
        guard config.enabled else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = config.serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.propagators = [.traceContext]
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.endpoint = config.endpoint
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.sampler = .parentBasedTraceIDRatio(ratio: config.sampleRatio) ?? .parentBasedAlwaysOn
        configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(Int64(config.exportInterval * 1000))
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        return (backend.factory, backend.service)
    }
}
