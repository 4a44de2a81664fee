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
/// than the rest of the proxying work (see bench/README.md).
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
        var outcome: String
    }

    func record(_ entry: Entry) {
        let total = Double((NIODeadline.now() - entry.started).nanoseconds) / 1_000_000
        var line = ""
        line.reserveCapacity(200 + entry.path.utf8.count)
        switch format {
        case .json:
            line += "{\"ts\":\"\(LogTimestamp.now())\",\"level\":\"info\",\"logger\":\"portcullis.access\",\"msg\":\"access\""
            line += ",\"method\":\"\(JSONText.escaped(entry.method.rawValue))\",\"path\":\"\(JSONText.escaped(String(entry.path)))\""
            if let route = entry.route { line += ",\"route\":\"\(JSONText.escaped(route))\"" }
            line += ",\"status\":\(entry.status),\"client\":\"\(entry.peer)\",\"ms\":\(Self.millis(total))"
            if let upstream = entry.upstreamMillis { line += ",\"upstreamMs\":\(Self.millis(upstream))" }
            line += ",\"bytesIn\":\(entry.bytesIn),\"bytesOut\":\(entry.bytesOut),\"outcome\":\"\(entry.outcome)\"}\n"
        case .text:
            line += "\(LogTimestamp.now()) INFO portcullis.access: \(entry.method.rawValue) \(Self.printable(entry.path))"
            line += " route=\(entry.route ?? "-") status=\(entry.status) client=\(entry.peer) ms=\(Self.millis(total))"
            if let upstream = entry.upstreamMillis { line += " upstreamMs=\(Self.millis(upstream))" }
            line += " bytesIn=\(entry.bytesIn) bytesOut=\(entry.bytesOut) outcome=\(entry.outcome)\n"
        }
        sink.write(line)
    }

    /// The path as sent, which the request-target check has already limited to visible
    /// ASCII; anything else is shown escaped so a line can never be split or forged.
    static func printable(_ path: Substring) -> String {
        if path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) { return String(path) }
        return JSONText.escaped(String(path))
    }

    static func millis(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }
}
