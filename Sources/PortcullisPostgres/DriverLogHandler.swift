import Logging

/// postgres-nio's view of our logger: the same destination, never below warning. At debug
/// and trace it logs protocol messages, which carry bound session ids and notification
/// payloads. A wrapper, not `logLevel` set on a copy: a class-based handler is shared by
/// copies, so that would silence the store's own logs too.
struct DriverLogHandler: LogHandler {
    let base: any LogHandler
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        event.metadata = metadata.merging(event.metadata ?? [:]) { $1 }
        base.log(event: event)
    }

    static func logger(wrapping logger: Logger) -> Logger {
        let handler = DriverLogHandler(base: logger.handler, logLevel: max(logger.logLevel, .warning))
        return Logger(label: logger.label) { _ in handler }
    }
}
