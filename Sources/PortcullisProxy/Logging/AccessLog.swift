import NIOCore
import NIOHTTP1
import PortcullisCore

/// One line per request the gateway answered or proxied: what was asked (method, path
/// without the query string, which may carry codes or tokens), which route took it, the
/// outcome, timings and sizes.
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
        var route: String?
        var status: UInt
        var peer: String
        var started: NIODeadline
        var upstreamMillis: Double?
        var bytesIn: Int
        var bytesOut: Int
        var outcome: StaticString
    }

    /// Where a connection renders its lines; reused for every request on it.
    struct Scratch {
        var line: [UInt8] = []
        var timestamp = LogTimestamp.Cache()
    }

    func record(_ entry: Entry, in scratch: inout Scratch) {
        let total = Double((NIODeadline.now() - entry.started).nanoseconds) / 1_000_000
        scratch.line.removeAll(keepingCapacity: true)
        scratch.line.reserveCapacity(200 + entry.path.utf8.count)
        switch format {
        case .json: Self.renderJSON(entry, total: total, into: &scratch)
        case .text: Self.renderText(entry, total: total, into: &scratch)
        }
        sink.write(bytes: scratch.line)
    }

    private static func renderJSON(_ entry: Entry, total: Double, into scratch: inout Scratch) {
        scratch.line.append("{\"ts\":\"")
        LogTimestamp.append(to: &scratch.line, cache: &scratch.timestamp)
        scratch.line.append("\",\"level\":\"info\",\"logger\":\"portcullis.access\",\"msg\":\"access\",\"method\":\"")
        scratch.line.appendJSONText(entry.method.rawValue)
        scratch.line.append("\",\"path\":\"")
        scratch.line.appendJSONText(entry.path)
        if let route = entry.route {
            scratch.line.append("\",\"route\":\"")
            scratch.line.appendJSONText(route)
        }
        scratch.line.append("\",\"status\":")
        scratch.line.appendDecimal(Int(entry.status))
        scratch.line.append(",\"client\":\"")
        scratch.line.append(contentsOf: entry.peer.utf8)
        scratch.line.append("\",\"ms\":")
        scratch.line.appendMillis(total)
        if let upstream = entry.upstreamMillis {
            scratch.line.append(",\"upstreamMs\":")
            scratch.line.appendMillis(upstream)
        }
        scratch.line.append(",\"bytesIn\":")
        scratch.line.appendDecimal(entry.bytesIn)
        scratch.line.append(",\"bytesOut\":")
        scratch.line.appendDecimal(entry.bytesOut)
        scratch.line.append(",\"outcome\":\"")
        scratch.line.append(entry.outcome)
        scratch.line.append("\"}\n")
    }

    private static func renderText(_ entry: Entry, total: Double, into scratch: inout Scratch) {
        LogTimestamp.append(to: &scratch.line, cache: &scratch.timestamp)
        scratch.line.append(" INFO portcullis.access: ")
        scratch.line.append(contentsOf: entry.method.rawValue.utf8)
        scratch.line.append(" ")
        if isPrintable(entry.path) {
            scratch.line.append(contentsOf: entry.path.utf8)
        } else {
            scratch.line.append(contentsOf: JSONText.escaped(String(entry.path)).utf8)
        }
        scratch.line.append(" route=")
        if let route = entry.route { scratch.line.append(contentsOf: route.utf8) } else { scratch.line.append("-") }
        scratch.line.append(" status=")
        scratch.line.appendDecimal(Int(entry.status))
        scratch.line.append(" client=")
        scratch.line.append(contentsOf: entry.peer.utf8)
        scratch.line.append(" ms=")
        scratch.line.appendMillis(total)
        if let upstream = entry.upstreamMillis {
            scratch.line.append(" upstreamMs=")
            scratch.line.appendMillis(upstream)
        }
        scratch.line.append(" bytesIn=")
        scratch.line.appendDecimal(entry.bytesIn)
        scratch.line.append(" bytesOut=")
        scratch.line.appendDecimal(entry.bytesOut)
        scratch.line.append(" outcome=")
        scratch.line.append(entry.outcome)
        scratch.line.append("\n")
    }

    /// The path as sent, which the request-target check has already limited to visible
    /// ASCII; anything else is shown escaped so a line can never be split or forged.
    static func isPrintable(_ path: Substring) -> Bool {
        path.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    static func millis(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }
}

extension [UInt8] {
    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(-value)
            return
        }
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var remaining = value
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }

    /// Milliseconds with one decimal, as `AccessLog.millis` renders them.
    mutating func appendMillis(_ value: Double) {
        let scaled = Int((value * 10).rounded())
        appendDecimal(scaled / 10)
        append(UInt8(ascii: "."))
        appendDecimal(scaled % 10)
    }

    /// The contents of a JSON string literal for `text`: the bytes themselves when nothing
    /// needs escaping (the usual case), `JSONText.escaped` otherwise.
    mutating func appendJSONText<Text: StringProtocol>(_ text: Text) {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            append(contentsOf: text.utf8)
        } else {
            append(contentsOf: JSONText.escaped(String(text)).utf8)
        }
    }
}
