import Foundation
import NIOConcurrencyHelpers

/// ISO 8601 UTC timestamps with milliseconds for log lines, without a date formatter per
/// line: the `YYYY-MM-DDTHH:MM:SS` part is rendered once per second and cached.
enum LogTimestamp {
    private static let cache = NIOLockedValueBox<(second: Int, prefix: String)>((-1, ""))

    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let second = time.tv_sec
        let millis = Int(time.tv_nsec / 1_000_000)
        let prefix = cache.withLockedValue { cached -> String in
            if cached.second == second { return cached.prefix }
            var parts = tm()
            var seconds = second
            gmtime_r(&seconds, &parts)
            let rendered =
                "\(parts.tm_year + 1900)-\(pad(Int(parts.tm_mon) + 1))-\(pad(Int(parts.tm_mday)))T"
                + "\(pad(Int(parts.tm_hour))):\(pad(Int(parts.tm_min))):\(pad(Int(parts.tm_sec)))"
            cached = (second, rendered)
            return rendered
        }
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(prefix).\(fraction)Z"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// The same timestamp as `now()` in two parts: the `YYYY-MM-DDTHH:MM:SS` prefix, cached
    /// by the caller per second (one cache per connection: no lock, no string), and the
    /// milliseconds.
    static func current(cache: inout Cache) -> (prefix: [UInt8], millis: Int) {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        if cache.second != time.tv_sec {
            var parts = tm()
            var seconds = time.tv_sec
            gmtime_r(&seconds, &parts)
            var prefix: [UInt8] = []
            prefix.reserveCapacity(19)
            for (value, width, separator) in [
                (Int(parts.tm_year) + 1900, 4, "-"), (Int(parts.tm_mon) + 1, 2, "-"), (Int(parts.tm_mday), 2, "T"),
                (Int(parts.tm_hour), 2, ":"), (Int(parts.tm_min), 2, ":"), (Int(parts.tm_sec), 2, ""),
            ] as [(Int, Int, String)] {
                let digits = String(value)
                prefix.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, width - digits.utf8.count)))
                prefix.append(contentsOf: digits.utf8)
                prefix.append(contentsOf: separator.utf8)
            }
            cache = Cache(second: time.tv_sec, prefix: prefix)
        }
        return (cache.prefix, Int(time.tv_nsec / 1_000_000))
    }

    /// Appends a timestamp from `current(cache:)`.
    static func append(prefix: [UInt8], millis: Int, to line: inout ByteWriter) {
        prefix.withUnsafeBytes { line.append(bytes: $0) }
        line.append(byte: UInt8(ascii: "."))
        line.appendDecimal(millis, width: 3)
        line.append(byte: UInt8(ascii: "Z"))
    }

    /// The most `append(prefix:millis:to:)` writes.
    static let size = 24

    /// The rendered `YYYY-MM-DDTHH:MM:SS` of one second.
    struct Cache {
        var second = -1
        var prefix: [UInt8] = []
    }
}
