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
}
