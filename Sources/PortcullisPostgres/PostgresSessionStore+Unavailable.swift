import Foundation
import PortcullisSessions
import PostgresNIO

extension PostgresSessionStore {
    /// A reason an operator can act on, built from fields that cannot carry secrets: never
    /// the query or its bound values (session ids), never the server's `detail` (which
    /// quotes key values), and the password scrubbed in case an error ever echoes the URL.
    func unavailable(_ error: any Error) -> SessionStoreUnavailable {
        if let error = error as? SessionStoreUnavailable { return error }
        let reason: String
        switch error {
        case let error as DeadlineExceeded:
            reason = "no answer within \(error.timeout)" + (lastConnectFailure.withLock { $0 }.map { " (connecting: \($0))" } ?? "")
        case is CancellationError:
            reason = "cancelled"
        case let error as PSQLError:
            reason = Self.reason(error)
        default:
            reason = "\(type(of: error)): \(error)"
        }
        return SessionStoreUnavailable(scrub(reason))
    }

    private static func reason(_ error: PSQLError) -> String {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?"
            let message = error.serverInfo?[.message] ?? "no message"
            return "server error \(state): \(message)"
        case .connectionError, .serverClosedConnection, .uncleanShutdown:
            return "connection failed" + (error.underlying.map { ": \($0)" } ?? "")
        case .poolClosed:
            return "the store is not running"
        default:
            return "\(error.code)" + (error.underlying.map { ": \(type(of: $0)) \($0)" } ?? "")
        }
    }

    func scrub(_ text: String) -> String {
        guard let password = location.password, password.count >= 3 else { return text }
        return text.replacingOccurrences(of: password, with: "<password>")
    }
}
