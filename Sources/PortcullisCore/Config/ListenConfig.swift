import Foundation

/// Where the gateway accepts client connections.
public struct ListenConfig: ConfigSection, Sendable {
    public var address: String
    public var port: Int
    /// TLS termination; nil: plain HTTP (behind a TLS-terminating load balancer, say).
    public var tls: ListenTLSConfig?
    /// `Strict-Transport-Security` on every answer; on by default with `tls`.
    public var hsts: HSTSConfig?
    /// A plain-HTTP listener that only redirects to the TLS one (`listen.httpRedirect`).
    public var httpRedirect: HTTPRedirectListenConfig?

    public static var fields: [ConfigField] {
        [
            .value("address"), .value("port"), .object("tls", ListenTLSConfig.self), .object("hsts", HSTSConfig.self),
            .object("httpRedirect", HTTPRedirectListenConfig.self),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        address = reader.string("address", default: "127.0.0.1")
        port = reader.int("port", default: 8080, in: 0...65535)
        if address.isEmpty { reader.fail("address", "must not be empty") }
        tls = reader.optionalSection("tls")
        let explicitHSTS: HSTSConfig? = reader.optionalSection("hsts")
        // A TLS listener sends HSTS unless told not to (`"hsts": {"maxAge": 0}`).
        hsts = (explicitHSTS ?? (tls != nil ? HSTSConfig.standard : nil)).flatMap { $0.maxAge > 0 ? $0 : nil }
        httpRedirect = reader.optionalSection("httpRedirect")
        if httpRedirect != nil && tls == nil {
            reader.fail("httpRedirect", "redirects to HTTPS, so it needs listen.tls (behind a TLS-terminating load balancer, let the balancer redirect)")
        }
        if let redirect = httpRedirect, redirect.port == port, redirect.address == address {
            reader.fail("httpRedirect.port", "is the TLS listener's own port")
        }
    }

    /// The sockets: a change needs a restart. HSTS and the TLS files are read per config, so a
    /// reload applies them.
    public func needsRestart(toBecome next: ListenConfig) -> Bool {
        address != next.address || port != next.port || tls != next.tls || httpRedirect != next.httpRedirect
    }
}

/// `listen.hsts`: the `Strict-Transport-Security` answer field (RFC 6797), which tells
/// browsers to use HTTPS only for this host from now on. The gateway's value replaces any
/// the upstream sends, so one policy holds at the edge.
public struct HSTSConfig: ConfigSection, Sendable, Equatable {
    /// Seconds browsers remember; 0 turns the field off.
    public var maxAge: Int
    public var includeSubDomains: Bool
    public var preload: Bool

    /// One year, this host only: what a TLS listener sends unless configured otherwise.
    public static let standard = HSTSConfig(maxAge: 31_536_000, includeSubDomains: false, preload: false)

    public static var fields: [ConfigField] { [.value("maxAge"), .value("includeSubDomains"), .value("preload")] }

    init(maxAge: Int, includeSubDomains: Bool, preload: Bool) {
        self.maxAge = maxAge
        self.includeSubDomains = includeSubDomains
        self.preload = preload
    }

    public init(reading reader: ConfigObjectReader) {
        maxAge = reader.int("maxAge", default: Self.standard.maxAge, in: 0...(2 * 31_536_000))
        includeSubDomains = reader.bool("includeSubDomains", default: false)
        preload = reader.bool("preload", default: false)
        // The preload list's own rule (hstspreload.org): a year or more, every subdomain.
        if preload && (maxAge < 31_536_000 || !includeSubDomains) {
            reader.fail("preload", "the HSTS preload list needs maxAge of at least 31536000 and includeSubDomains")
        }
    }

    /// The field's value, e.g. `max-age=31536000; includeSubDomains`.
    public var value: String {
        var text = "max-age=\(maxAge)"
        if includeSubDomains { text += "; includeSubDomains" }
        if preload { text += "; preload" }
        return text
    }
}

/// `listen.httpRedirect`: a plain-HTTP listener (port 80, say) that answers every request
/// with a permanent redirect to the same path on the TLS listener, and serves nothing else.
public struct HTTPRedirectListenConfig: ConfigSection, Sendable, Equatable {
    public var address: String
    public var port: Int

    public static var fields: [ConfigField] { [.value("address"), .value("port")] }

    public init(reading reader: ConfigObjectReader) {
        address = reader.string("address", default: "127.0.0.1")
        port = reader.int("port", default: 80, in: 0...65535)
        if address.isEmpty { reader.fail("address", "must not be empty") }
    }
}

/// `listen.tls`: the certificate chain and key the listener terminates TLS with, read with the
/// config, so a reload after a renewal (same paths, new files) serves the new certificate to new
/// connections while open ones keep theirs.
public struct ListenTLSConfig: ConfigSection, Sendable, Equatable {
    public var certificateFile: String
    public var keyFile: String
    /// The PEM texts (the key as a ``Secret``, never printed).
    public var certificatePEM: String
    public var keyPEM: Secret
    /// Offer HTTP/2 through ALPN (HTTP/1.1 stays the fallback).
    public var http2: Bool

    public static var fields: [ConfigField] { [.value("certificateFile"), .value("keyFile"), .value("http2")] }

    public init(reading reader: ConfigObjectReader) {
        certificateFile = reader.string("certificateFile") ?? ""
        keyFile = reader.string("keyFile") ?? ""
        certificatePEM = reader.pemFile("certificateFile", holding: .certificate) ?? ""
        keyPEM = Secret(reader.pemFile("keyFile", holding: .privateKey) ?? "")
        http2 = reader.bool("http2", default: true)
        if !reader.has("certificateFile") { reader.fail("certificateFile", "required: the PEM certificate chain (the server's first)") }
        if !reader.has("keyFile") { reader.fail("keyFile", "required: the certificate's PEM private key") }
    }

    /// Equal when the same files are named: new contents at the same paths are a renewal a
    /// reload applies, not a listener change that needs a restart (nor is `http2`, which is
    /// offered per config to new connections).
    public static func == (a: Self, b: Self) -> Bool {
        a.certificateFile == b.certificateFile && a.keyFile == b.keyFile
    }
}

/// Limits that protect the gateway from oversized or idle clients.
public struct LimitsConfig: ConfigSection, Sendable {
    /// Largest request head (all header names and values) accepted; larger gets 431.
    public var maxHeaderBytes: Int
    /// Seconds a client connection may sit idle between requests before it is closed.
    public var clientIdleTimeout: Double
    /// Seconds from the first byte of a request head to its end. Not reset by each byte, so a
    /// client trickling its head (slowloris) is cut off with 408.
    public var requestHeadTimeout: Double
    /// Client connections served at once; further ones are answered 503 and closed, instead
    /// of exhausting the process's file descriptors (each proxied connection uses two).
    public var maxConnections: Int

    public static let defaultMaxConnections = 4096

    public static var fields: [ConfigField] {
        [.value("maxHeaderBytes"), .value("clientIdleTimeout"), .value("requestHeadTimeout"), .value("maxConnections")]
    }

    public init(reading reader: ConfigObjectReader) {
        maxHeaderBytes = reader.int("maxHeaderBytes", default: 32 * 1024, in: 1024...(1024 * 1024))
        clientIdleTimeout = reader.seconds("clientIdleTimeout", default: 75, in: 1...86_400)
        requestHeadTimeout = reader.seconds("requestHeadTimeout", default: 10, in: 0.1...3_600)
        maxConnections = reader.int("maxConnections", default: Self.defaultMaxConnections, in: 1...1_000_000)
    }
}

/// Upstream keep-alive connection pooling; each event loop keeps its own pool.
public struct UpstreamPoolConfig: ConfigSection, Sendable, Equatable {
    /// Idle keep-alive connections kept per upstream on each event loop.
    public var maxIdlePerUpstream: Int
    /// Seconds an idle pooled connection is kept before it is closed.
    public var idleTimeout: Double

    public static var fields: [ConfigField] { [.value("maxIdlePerUpstream"), .value("idleTimeout")] }

    public init(reading reader: ConfigObjectReader) {
        maxIdlePerUpstream = reader.int("maxIdlePerUpstream", default: 64, in: 0...10_000)
        idleTimeout = reader.seconds("idleTimeout", default: 60, in: 1...3_600)
    }
}

/// Log level and format.
public struct LoggingConfig: ConfigSection, Sendable, Equatable {
    public var level: String
    /// `text` for people, `json` for one JSON object a line (log shippers).
    public var format: String
    /// Whether each proxied or answered request gets an access-log line.
    public var accessLog: Bool
    /// Files the access and audit logs go to instead of standard output (appended to, mode
    /// 0640), so they can be kept and shipped apart from the operational log.
    public var accessLogFile: String?
    public var auditLogFile: String?

    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public static var fields: [ConfigField] {
        [.value("level"), .value("format"), .value("accessLog"), .value("accessLogFile"), .value("auditLogFile")]
    }

    public init(reading reader: ConfigObjectReader) {
        level = reader.choice("level", default: "info", among: Self.levels)
        format = reader.choice("format", default: "text", among: ["text", "json"])
        accessLog = reader.bool("accessLog", default: true)
        // Resolved like other files but not watched: a reload on every line written would be absurd.
        func path(_ key: String) -> String? {
            reader.string(key).map { $0.hasPrefix("/") ? $0 : reader.baseDirectory.appendingPathComponent($0).path }
        }
        accessLogFile = path("accessLogFile")
        auditLogFile = path("auditLogFile")
        if accessLogFile != nil && !accessLog { reader.fail("accessLogFile", "names a file for the access log, but accessLog is false") }
    }
}
