/// `localUsers.lockout`: how failed local passwords slow down and then stop guessing.
/// Counted per account and per client address (see ``LoginThrottle``).
public struct LockoutConfig: ConfigSection, Sendable, Equatable {
    /// Failures within ``window`` that lock the key.
    public var maxFailures: Int
    /// Seconds from a key's first failure during which failures add up.
    public var window: Double
    /// Seconds a lockout lasts.
    public var duration: Double
    /// Seconds to wait after the first failure; doubles with each further failure.
    public var backoffBase: Double
    /// Longest wait between attempts, in seconds.
    public var backoffMax: Double

    public static var fields: [ConfigField] {
        [.value("maxFailures"), .value("window"), .value("duration"), .value("backoffBase"), .value("backoffMax")]
    }

    public init(maxFailures: Int = 5, window: Double = 900, duration: Double = 900, backoffBase: Double = 1, backoffMax: Double = 30) {
        self.maxFailures = maxFailures
        self.window = window
        self.duration = duration
        self.backoffBase = backoffBase
        self.backoffMax = backoffMax
    }

    public init(reading reader: ConfigObjectReader) {
        maxFailures = reader.int("maxFailures", default: 5, in: 1...100)
        window = reader.seconds("window", default: 900, in: 1...86_400)
        duration = reader.seconds("duration", default: 900, in: 1...86_400)
        backoffBase = reader.seconds("backoffBase", default: 1, in: 0...60)
        backoffMax = reader.seconds("backoffMax", default: 30, in: 0...3_600)
        if backoffMax < backoffBase {
            reader.fail("backoffMax", "must be at least backoffBase (\(JSONValue.number(backoffBase)))")
        }
    }
}
