import Foundation

/// Where the shared store lives: `postgres://user:password@host:port/database`.
///
/// TLS is not implemented yet: only `sslmode=disable` (also the default) is accepted, so a
/// URL asking for TLS fails at start instead of silently connecting in the clear. Keep the
/// database on loopback or a private network until then.
struct PostgresURL: Sendable, Equatable {
    var host: String
    var port: Int
    var username: String
    var password: String?
    /// Nil: the server's default (the user name).
    var database: String?

    init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Problems are fixed phrases: the URL carries the password, so no part of it is echoed.
    init(_ text: String) throws(InvalidPostgresURL) {
        guard let components = URLComponents(string: text) else {
            throw InvalidPostgresURL("not a URL (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw InvalidPostgresURL("the scheme must be postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else { throw InvalidPostgresURL("no host") }
        guard let username = components.user, !username.isEmpty else { throw InvalidPostgresURL("no user name") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw InvalidPostgresURL("the port is out of range") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw InvalidPostgresURL("the database name must be a single path segment") }
        guard components.fragment == nil else { throw InvalidPostgresURL("unexpected fragment (#...)") }
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw InvalidPostgresURL("unsupported query parameter (only sslmode=disable is understood)")
            }
            guard item.value == "disable" else {
                throw InvalidPostgresURL("only sslmode=disable is supported (TLS to PostgreSQL is not implemented yet)")
            }
        }
        self.init(host: host, port: port, username: username, password: components.password, database: path.isEmpty ? nil : path)
    }
}

/// A `postgres` store URL that cannot be used. The description names the problem, never the
/// URL: it holds the database password.
public struct InvalidPostgresURL: Error, CustomStringConvertible, Sendable {
    public var problem: String
    init(_ problem: String) { self.problem = problem }
    public var description: String { "invalid PostgreSQL URL: \(problem)" }
}
