import Foundation
import Logging
import Synchronization

/// A log handler that keeps every line (level, message and sorted metadata) for assertions.
public final class CapturedLog: LogHandler, @unchecked Sendable {
    private let stored = Mutex<[String]>([])
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init() {}

    public var lines: [String] { stored.withLock { $0 } }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        stored.withLock { $0.append("\(event.level) \(event.message) \(fields)") }
    }

    /// A logger whose lines land here.
    public func logger(label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in self }
        logger.logLevel = level
        return logger
    }
}

/// A wall clock tests can move forward (token expiry, session lifetimes), shared by the code
/// under test through a `now` closure.
public final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    public func advance(_ seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}
