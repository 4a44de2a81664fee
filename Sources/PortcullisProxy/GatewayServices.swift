import AsyncHTTPClient
import Foundation
import Logging
import PortcullisAuth
import PortcullisCore
import PortcullisOIDC
import PortcullisSessions
import Tracing

/// What lives for the whole process, across reloads: the session gate (cache and store), the
/// HTTP client for Entra and Graph, the OAuth states already used, the audit logger. The
/// composition root (the executable, or a test) builds the store and the client and hands
/// them in; `run` is their background work, `shutdown` ends it.
public final class GatewayServices: Sendable {
    public let gate: SessionGate
    let oidcClient: HTTPClient
    let consumedStates: ConsumedStates
    /// Lockouts, used TOTP steps and Entra's failure count, kept across reloads.
    let localSignIn = LocalSignInState()
    /// Where password checks run: off the event loops, at the lowest priority.
    let passwords = PasswordChecker()
    public let audit: Logger
    let logger: Logger
    let now: @Sendable () -> Date
    /// Seals sessions when the config names no `session.keysFile`: made once, so a reload
    /// does not end every session.
    let ephemeralKeyRing: KeyRing
    /// Signs assertions when `assertion.keyFile` is not set: made once, so a reload does not
    /// change the key upstreams have fetched.
    let generatedAssertionKeys: AssertionKeys
    /// Counters and gauges for the admin listener's `/metrics`.
    public let metrics: GatewayMetrics
    /// The OpenTelemetry tracer when `tracing` is on (built and exported by the composition root).
    let tracer: (any Tracer)?

    public static let auditLabel = "portcullis.audit"

    /// - Parameters:
    ///   - store: the shared session store (`postgres`), or nil for `memory`.
    ///   - oidcClient: the client for Entra and Graph calls (see ``makeOIDCClient(timeout:)``);
    ///     shut down by ``shutdown()``.
    ///   - tracer: the tracer `tracing` asks for (its exporter runs beside the gateway), or nil.
    public init(
        session: SessionConfig, store: (any SessionStore)?, oidcClient: HTTPClient, audit: Logger = Logger(label: auditLabel),
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }, tracer: (any Tracer)? = nil
    ) {
        self.tracer = tracer
        let metrics = GatewayMetrics()
        self.metrics = metrics
        // Every audited decision is also counted, by its event.
        let audit = Logger(label: audit.label) { _ in MultiplexLogHandler([ForwardingLogHandler(target: audit), AuditEventCounter(metrics: metrics)]) }
        gate = SessionGate(config: session, store: store.map { MeasuredSessionStore(store: $0, metrics: metrics) }, audit: audit, logger: logger, now: now)
        self.oidcClient = oidcClient
        consumedStates = ConsumedStates(lifetime: TimeInterval(PendingLogin.lifetime))
        self.audit = audit
        self.logger = logger
        self.now = now
        ephemeralKeyRing = .ephemeral()
        generatedAssertionKeys = .generated()
    }

    /// The client for provider calls: no redirects followed, no decompression, bounded timeouts.
    public static func makeOIDCClient(timeout: Double = 10) -> HTTPClient {
        OpenIDProvider.makeHTTPClient(timeout: timeout)
    }

    /// The services' background work (the shared store's connections and notifications),
    /// until the task is cancelled.
    public func run() async {
        await gate.run()
    }

    public func shutdown() async {
        try? await oidcClient.shutdown()
        await passwords.shutdown()
    }
}
