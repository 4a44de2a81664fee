import PortcullisSessions

/// A NOTIFY payload on ``channel``: `<sender instance id> <eviction message>`. Carrying the
/// sender lets an instance skip its own changes, which it has already applied to its cache.
struct EvictionNotice: Equatable, Sendable {
    /// A constant: postgres-nio does not escape LISTEN channel names.
    static let channel = "portcullis_sessions"

    var sender: String
    var eviction: SessionEviction

    var payload: String { sender + " " + eviction.message }

    init(sender: String, eviction: SessionEviction) {
        self.sender = sender
        self.eviction = eviction
    }

    /// Nil for anything another program might send on the channel.
    init?(payload: String) {
        guard let space = payload.firstIndex(of: " ") else { return nil }
        let sender = payload[..<space]
        guard !sender.isEmpty, let eviction = SessionEviction(message: String(payload[payload.index(after: space)...])) else { return nil }
        self.init(sender: String(sender), eviction: eviction)
    }
}
