import NIOHTTP1
import Tracing

/// A proxied request's OpenTelemetry server span (only when `tracing` is on): started from
/// the client's W3C trace context, passed to the upstream as `traceparent` (and `tracestate`),
/// ended with the status when the exchange is logged. The client's own trace fields are
/// stripped with the identity headers while tracing is on, so the upstream sees exactly one
/// context: the gateway's span, a child of the client's.
enum RequestTracing {
    /// The fields the gateway owns while tracing is on.
    static let fieldNames = ["traceparent", "tracestate"]

    /// One traced exchange: its span and the trace fields for the upstream request. A class,
    /// so an exchange holds one optional reference and tracing off costs one nil check (an
    /// optional `any Span` is a five-word existential, copied on every read).
    final class Active {
        let span: any Span
        let fields: [(String, String)]

        init(span: any Span, fields: [(String, String)]) {
            self.span = span
            self.fields = fields
        }
    }

    /// Starts the span, with the trace fields for the upstream request.
    static func start(tracer: any Tracer, head: HTTPRequestHead, path: Substring, route: String) -> Active {
        var context = ServiceContext.topLevel
        tracer.extract(head.headers, into: &context, using: HTTPHeadersExtractor())
        let span = tracer.startSpan("\(head.method.rawValue) \(route)", context: context, ofKind: .server)
        span.attributes["http.request.method"] = head.method.rawValue
        span.attributes["url.path"] = String(path)
        span.attributes["http.route"] = route
        var fields: [(String, String)] = []
        tracer.inject(span.context, into: &fields, using: FieldListInjector())
        return Active(span: span, fields: fields)
    }

    /// Ends the span with the answer's status and how the exchange ended.
    static func end(_ span: any Span, status: UInt, outcome: StaticString) {
        span.attributes["http.response.status_code"] = Int(status)
        span.attributes["portcullis.outcome"] = "\(outcome)"
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }
}

struct HTTPHeadersExtractor: Extractor {
    func extract(key: String, from carrier: HTTPHeaders) -> String? {
        carrier.first(name: key)
    }
}

struct FieldListInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [(String, String)]) {
        carrier.append((key, value))
    }
}
