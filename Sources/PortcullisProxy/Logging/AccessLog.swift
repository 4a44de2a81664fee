import NIOCore
import NIOHTTP1
import PortcullisCore

/// One line per request the gateway answered or proxied: what was asked (method, path
/// without the query string, which may carry codes or tokens, and the protocol: HTTP/1.1,
/// HTTP/1.0 or HTTP/2), which route took it, the outcome, timings and sizes.
///
/// The line is rendered directly in a fixed field order into the same sink and format
/// (text or JSON lines) as the swift-log handler, rather than through `Logger` metadata:
/// building, merging and sorting a metadata dictionary per request cost about 10 µs, more
/// than the rest of the proxying work (see bench/README.md). It is rendered as bytes into a
/// per-connection scratch buffer, so a line costs no allocation and the sink's lock is held
/// only for the copy.
struct AccessLog: Sendable {
    let format: LineLogHandler.Format
    let sink: LineSink

    struct Entry {
        var method: HTTPMethod
        var path: Substring
        /// The client's protocol (an HTTP/2 stream is `2.0`, although the data plane reads it
        /// as an HTTP/1.1 request).
        var version: HTTPVersion
        var route: String?
        var status: UInt
        var peer: String
        var started: NIODeadline
        var upstreamTime: TimeAmount?
        var bytesIn: Int
        var bytesOut: Int
        var outcome: StaticString
    }

    /// Where a connection renders its lines; reused for every request on it.
    struct Scratch {
        var line = ByteBuffer()
        var timestamp = LogTimestamp.Cache()
    }

    func record(_ entry: Entry, in scratch: inout Scratch, now: NIODeadline = .now()) {
        let total = now - entry.started
        let method = entry.method.rawValue
        let route = entry.route ?? "-"
        let pathIsPlain = Self.isPlain(entry.path, json: format == .json)
        let routeIsPlain = format == .text || Self.isPlain(Substring(route), json: true)
        // Fields that need escaping (rare) are escaped into strings first; the rest is copied.
        let path = pathIsPlain ? entry.path : Substring(JSONText.escaped(String(entry.path)))
        let routeText = routeIsPlain ? route : JSONText.escaped(route)
        let size =
            LogTimestamp.size + 400 + method.utf8.count + path.utf8.count + routeText.utf8.count + entry.peer.utf8.count
            + entry.outcome.utf8CodeUnitCount
        scratch.line.clear()
        let (prefix, millis) = LogTimestamp.current(cache: &scratch.timestamp)
        scratch.line.writeBytes(capacity: size) { line in
            switch format {
            case .json:
                line.append("{\"ts\":\"")
                LogTimestamp.append(prefix: prefix, millis: millis, to: &line)
                line.append("\",\"level\":\"info\",\"logger\":\"portcullis.access\",\"msg\":\"access\",\"method\":\"")
                line.appendText(method)
                line.append("\",\"path\":\"")
                line.appendText(path)
                line.append("\",\"protocol\":\"")
                line.append(Self.protocolName(entry.version))
                if entry.route != nil {
                    line.append("\",\"route\":\"")
                    line.appendText(routeText)
                }
                line.append("\",\"status\":")
                line.appendDecimal(Int(entry.status))
                line.append(",\"client\":\"")
                line.appendText(entry.peer)
                line.append("\",\"ms\":")
                line.appendMillis(total)
                if let upstream = entry.upstreamTime {
                    line.append(",\"upstreamMs\":")
                    line.appendMillis(upstream)
                }
                line.append(",\"bytesIn\":")
                line.appendDecimal(entry.bytesIn)
                line.append(",\"bytesOut\":")
                line.appendDecimal(entry.bytesOut)
                line.append(",\"outcome\":\"")
                line.append(entry.outcome)
                line.append("\"}\n")
            case .text:
                LogTimestamp.append(prefix: prefix, millis: millis, to: &line)
                line.append(" INFO portcullis.access: ")
                line.appendText(method)
                line.append(byte: UInt8(ascii: " "))
                line.appendText(path)
                line.append(byte: UInt8(ascii: " "))
                line.append(Self.protocolName(entry.version))
                line.append(" route=")
                line.appendText(routeText)
                line.append(" status=")
                line.appendDecimal(Int(entry.status))
                line.append(" client=")
                line.appendText(entry.peer)
                line.append(" ms=")
                line.appendMillis(total)
                if let upstream = entry.upstreamTime {
                    line.append(" upstreamMs=")
                    line.appendMillis(upstream)
                }
                line.append(" bytesIn=")
                line.appendDecimal(entry.bytesIn)
                line.append(" bytesOut=")
                line.appendDecimal(entry.bytesOut)
                line.append(" outcome=")
                line.append(entry.outcome)
                line.append(byte: UInt8(ascii: "\n"))
            }
        }
        sink.write(bytes: scratch.line)
    }

    /// The protocol as a request line writes it (a static string: no allocation per line).
    static func protocolName(_ version: HTTPVersion) -> StaticString {
        switch (version.major, version.minor) {
        case (1, 1): "HTTP/1.1"
        case (2, _): "HTTP/2"
        case (1, 0): "HTTP/1.0"
        default: "HTTP/other"
        }
    }

    /// Whether `text` can be written as it is. In text lines the path as sent, which the
    /// request-target check has already limited to visible ASCII, is shown as is; anything
    /// else is shown escaped so a line can never be split or forged. In JSON, anything that
    /// needs no escaping.
    static func isPlain(_ text: Substring, json: Bool) -> Bool {
        json
            ? text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
            : text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }
}

extension ByteWriter {
    /// Milliseconds with one decimal, rounded half up.
    mutating func appendMillis(_ time: TimeAmount) {
        let tenths = max(0, Int((time.nanoseconds + 50_000) / 100_000))
        appendDecimal(tenths / 10)
        append(byte: UInt8(ascii: "."))
        appendDecimal(tenths % 10)
    }
}
