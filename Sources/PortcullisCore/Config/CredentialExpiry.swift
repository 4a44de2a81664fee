import Foundation

/// When a credential the gateway signs in with stops working: Entra client secrets live at
/// most 24 months and certificates have a `notAfter`, and an expired one stops every sign-in
/// at once. Warned about from ``warningWindow`` before, at start, on reload and by
/// `check-config`.
public struct CredentialExpiry: Sendable, Equatable {
    /// The config field that holds the credential (`entra.clientSecretExpiresAt`, …).
    public var field: String
    public var expires: Date

    public static let warningWindow: TimeInterval = 30 * 86_400

    public init(field: String, expires: Date) {
        self.field = field
        self.expires = expires
    }

    /// A warning sentence when the credential expires within the window (or has), else nil.
    public func warning(now: Date) -> String? {
        let left = expires.timeIntervalSince(now)
        guard left < Self.warningWindow else { return nil }
        let date = Self.format(expires)
        if left <= 0 { return "\(field): the credential expired on \(date); sign-ins with Entra fail until it is replaced" }
        let days = Int((left / 86_400).rounded(.up))
        return "\(field): the credential expires on \(date), in \(days) day\(days == 1 ? "" : "s"); replace it before then or every sign-in fails"
    }

    /// `2027-06-30` (the end of that day, UTC, as Entra shows secret expiry dates) or a full
    /// ISO 8601 timestamp (`2027-06-30T12:00:00Z`).
    public static func parseDate(_ text: String) -> Date? {
        let timestamp = ISO8601DateFormatter()
        if let date = timestamp.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text).map { $0.addingTimeInterval(86_399) }
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }
}
