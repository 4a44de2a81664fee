import Foundation
import PortcullisAuth
import PortcullisCore

/// A session as bytes for a store outside the process: JSON, with the refresh token sealed
/// by the key ring (a copy of the database alone never yields a usable Entra token).
/// Decoding is total: anything unreadable, or a refresh token sealed with a key no longer
/// in the ring, gives nil or drops the token, never an error the caller must handle.
public struct SessionCodec: Sendable {
    static let refreshTokenContext = "portcullis refresh token"
    let keyRing: KeyRing

    public init(keyRing: KeyRing) { self.keyRing = keyRing }

    private struct Record: Codable {
        var v: Int
        var identity: Identity
        var created: Double
        var absoluteExpiry: Double
        var lastSeen: Double
        var validated: Double
        var sid: String?
        var logoutHint: String?
        var refreshToken: String?
    }

    public func encode(_ session: Session) -> [UInt8] {
        let record = Record(
            v: 1, identity: session.identity, created: session.created.timeIntervalSince1970,
            absoluteExpiry: session.absoluteExpiry.timeIntervalSince1970, lastSeen: session.lastSeen.timeIntervalSince1970,
            validated: session.validated.timeIntervalSince1970, sid: session.providerSessionID, logoutHint: session.logoutHint,
            refreshToken: session.refreshToken.map { keyRing.seal(Array($0.utf8), context: Self.refreshTokenContext) })
        return Array(try! JSONEncoder().encode(record))
    }

    /// The session stored under `id`, or nil when the bytes are not one.
    public func decode(_ bytes: some Collection<UInt8>, id: SessionID) -> Session? {
        guard let record = try? JSONDecoder().decode(Record.self, from: Data(bytes)), record.v == 1 else { return nil }
        let refreshToken = record.refreshToken.flatMap { sealed in
            keyRing.open(sealed, context: Self.refreshTokenContext).map { String(decoding: $0, as: UTF8.self) }
        }
        return Session(
            id: id, identity: record.identity, created: Date(timeIntervalSince1970: record.created),
            absoluteExpiry: Date(timeIntervalSince1970: record.absoluteExpiry), lastSeen: Date(timeIntervalSince1970: record.lastSeen),
            validated: Date(timeIntervalSince1970: record.validated), providerSessionID: record.sid, logoutHint: record.logoutHint,
            refreshToken: refreshToken)
    }
}
