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

    /// Appends the same timestamp as `now()` to `line` as bytes, with the per-second part
    /// cached by the caller (one cache per connection: no lock, no string).
    static func append(to line: inout [UInt8], cache: inout Cache) {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        if cache.second != time.tv_sec {
            var parts = tm()
            var seconds = time.tv_sec
            gmtime_r(&seconds, &parts)
            var prefix: [UInt8] = []
            prefix.reserveCapacity(19)
            appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &prefix)
            prefix.append(UInt8(ascii: "-"))
            appendDigits(Int(parts.tm_mon) + 1, width: 2, to: &prefix)
            prefix.append(UInt8(ascii: "-"))
            appendDigits(Int(parts.tm_mday), width: 2, to: &prefix)
            prefix.append(UInt8(ascii: "T"))
            appendDigits(Int(parts.tm_hour), width: 2, to: &prefix)
            prefix.append(UInt8(ascii: ":"))
            appendDigits(Int(parts.tm_min), width: 2, to: &prefix)
            prefix.append(UInt8(ascii: ":"))
            appendDigits(Int(parts.tm_sec), width: 2, to: &prefix)
            cache = Cache(second: time.tv_sec, prefix: prefix)
        }
        line.append(contentsOf: cache.prefix)
        line.append(UInt8(ascii: "."))
        appendDigits(Int(time.tv_nsec / 1_000_000), width: 3, to: &line)
        line.append(UInt8(ascii: "Z"))
    }

    /// The rendered `YYYY-MM-DDTHH:MM:SS` of one second.
    struct Cache {
        var second = -1
        var prefix: [UInt8] = []
    }

    /// `value` in decimal, zero-padded to at least `width` digits.
    private static func appendDigits(_ value: Int, width: Int, to line: inout [UInt8]) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        for _ in digits..<max(width, digits) { line.append(UInt8(ascii: "0")) }
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        var remaining = value
        while divisor > 0 {
            line.append(UInt8(ascii: "0") + UInt8(remaining / divisor))
            remaining %= divisor
            divisor /= 10
        }
    }
}
