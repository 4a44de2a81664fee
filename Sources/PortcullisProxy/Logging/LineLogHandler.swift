import Foundation
import Logging
import NIOCore
import NIOConcurrencyHelpers
import PortcullisCore

/// A swift-log handler that writes one line per event to standard output, as readable text
/// or as a JSON object (for log shippers). Lines are buffered and written in batches, so the
/// access log costs the data plane a lock and a copy, not a system call per request.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format
    private let sink: LineSink

    public init(label: String, format: Format, level: Logger.Level, sink: LineSink = .standardOutput) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line: String
        switch format {
        case .text: line = Self.text(label: label, level: event.level, message: event.message.description, merged)
        case .json: line = Self.json(label: label, level: event.level, message: event.message.description, merged)
        }
        sink.write(line, urgent: event.level >= .warning)
    }

    static func timestamp() -> String { LogTimestamp.now() }

    static func text(label: String, level: Logger.Level, message: String, _ metadata: Logger.Metadata) -> String {
        var line = "\(timestamp()) \(level.rawValue.uppercased()) \(label): \(message)"
        for key in metadata.keys.sorted() { line += " \(key)=\(metadata[key]!)" }
        return line + "\n"
    }

    static func json(label: String, level: Logger.Level, message: String, _ metadata: Logger.Metadata) -> String {
        var line = "{\"ts\":\"\(timestamp())\",\"level\":\"\(level.rawValue)\",\"logger\":\"\(JSONText.escaped(label))\",\"msg\":\"\(JSONText.escaped(message))\""
        for key in metadata.keys.sorted() { line += ",\"\(JSONText.escaped(key))\":\(jsonValue(metadata[key]!))" }
        return line + "}\n"
    }

    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text):
            if let number = Int(text), String(number) == text { return text }
            return "\"\(JSONText.escaped(text))\""
        case .stringConvertible(let convertible): return "\"\(JSONText.escaped(convertible.description))\""
        case .array(let items): return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let dict):
            return "{" + dict.keys.sorted().map { "\"\(JSONText.escaped($0))\":\(jsonValue(dict[$0]!))" }.joined(separator: ",") + "}"
        }
    }

}

/// Where log lines go: an in-memory buffer flushed to a file descriptor when it grows, when
/// a warning arrives, and at least every 200 ms by a background timer.
public final class LineSink: Sendable {
    public static let standardOutput = LineSink(fileDescriptor: 1)

    /// A sink appending to `path` (created with mode 0640 if missing).
    public static func appending(toFile path: String) throws -> LineSink {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        return LineSink(fileDescriptor: descriptor)
    }

    public struct LogFileError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot open the log file \"\(path)\": \(reason)" }
    }

    private let fileDescriptor: Int32
    private let buffer = NIOLockedValueBox<[UInt8]>([])
    private let flushThreshold = 64 * 1024

    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        let flusher = Thread { [weak self] in
            while let sink = self {
                sink.flush()
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        flusher.name = "portcullis-log-flush"
        flusher.start()
    }

    public func write(_ line: String, urgent: Bool = false) {
        let full = buffer.withLockedValue { bytes -> Bool in
            bytes.append(contentsOf: line.utf8)
            return bytes.count >= flushThreshold
        }
        if full || urgent { flush() }
    }

    /// Appends an already rendered line (the access log's per-request path: no string).
    func write(bytes line: ByteBuffer) {
        let full = line.withUnsafeReadableBytes { raw in
            buffer.withLockedValue { bytes -> Bool in
                bytes.append(contentsOf: raw)
                return bytes.count >= flushThreshold
            }
        }
        if full { flush() }
    }

    public func flush() {
        let bytes = buffer.withLockedValue { bytes -> [UInt8] in
            defer { bytes.removeAll(keepingCapacity: true) }
            return bytes
        }
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
