import Foundation
import PortcullisAuth
import PortcullisCore
@testable import PortcullisSessions
import Testing

func makeSession(
    _ username: String = "alice", sid: String? = "sid-1", refreshToken: String? = "rt-secret-0123456789", at time: Date = Date(),
    absolute: TimeInterval = 24 * 3600
) -> Session {
    Session(
        id: .random(),
        identity: Identity(username: username, email: "\(username)@contoso.example", roles: ["Reader"], groups: ["g1"], method: .sso),
        created: time, absoluteExpiry: time.addingTimeInterval(absolute), providerSessionID: sid, logoutHint: "hint-\(username)",
        refreshToken: refreshToken)
}

@Suite("Session cache (the memory store)")
struct SessionCacheTests {
    @Test("a put session is found; an unknown id is not")
    func hitAndMiss() {
        let cache = SessionCache(capacity: 100, idleTimeout: 3600)
        let session = makeSession()
        cache.put(session)
        #expect(cache.lookup(id: session.id)?.session == session)
        #expect(cache.lookup(id: .random()) == nil)
    }

    @Test("a revalidated copy replaces a cached session, but never brings back one ended meanwhile")
    func replaceIfPresent() async throws {
        let cache = SessionCache(capacity: 100, idleTimeout: 3600)
        var session = makeSession()
        cache.put(session)
        session.validated = Date().addingTimeInterval(10)
        #expect(cache.replaceIfPresent(session))
        #expect(cache.lookup(id: session.id)?.session.validated == session.validated)
        _ = cache.remove(id: session.id)
        #expect(try await cache.replace(session, ttl: 600) == false)
        #expect(cache.lookup(id: session.id) == nil)
    }

    @Test("idle and absolute timeouts end a session")
    func expiry() {
        let start = Date()
        let cache = SessionCache(capacity: 100, idleTimeout: 600)
        let idle = makeSession(at: start)
        let old = makeSession(at: start, absolute: 900)
        cache.put(idle)
        cache.put(old)
        // Used at 500 s: the idle clock restarts (a touch is due after 60 s).
        #expect(cache.lookup(id: old.id, now: start.addingTimeInterval(500))?.touched == true)
        #expect(cache.lookup(id: idle.id, now: start.addingTimeInterval(599)) != nil)
        #expect(cache.lookup(id: idle.id, now: start.addingTimeInterval(599 + 600)) == nil)
        // Active, but past its absolute expiry.
        #expect(cache.lookup(id: old.id, now: start.addingTimeInterval(901)) == nil)
    }

    @Test("lastSeen moves at most once a minute")
    func touchGranularity() {
        let start = Date()
        let cache = SessionCache(capacity: 100, idleTimeout: 3600)
        let session = makeSession(at: start)
        cache.put(session)
        #expect(cache.lookup(id: session.id, now: start.addingTimeInterval(30))?.touched == false)
        let hit = cache.lookup(id: session.id, now: start.addingTimeInterval(61))
        #expect(hit?.touched == true)
        #expect(hit?.session.lastSeen == start.addingTimeInterval(61))
        #expect(cache.lookup(id: session.id, now: start.addingTimeInterval(90))?.touched == false)
    }

    @Test("beyond capacity the least recently used go first")
    func bounded() {
        let start = Date()
        let cache = SessionCache(capacity: 100, idleTimeout: 3600)
        let first = makeSession(at: start)
        cache.put(first)
        var others: [Session] = []
        for _ in 0..<99 {
            let session = makeSession(at: start)
            others.append(session)
            cache.put(session)
        }
        // Using the first makes the second-oldest the least recently used.
        #expect(cache.lookup(id: first.id, now: start.addingTimeInterval(61)) != nil)
        for _ in 0..<5000 { cache.put(makeSession(at: start)) }
        #expect(cache.count == 100)
        #expect(cache.lookup(id: others[0].id, now: start.addingTimeInterval(62)) == nil)
    }

    @Test("revocation by user, by provider session and by eviction message")
    func revocation() {
        let cache = SessionCache(capacity: 100, idleTimeout: 3600)
        let a1 = makeSession("alice", sid: "s1"), a2 = makeSession("alice", sid: "s2"), b = makeSession("bob", sid: "s1")
        [a1, a2, b].forEach(cache.put)
        #expect(cache.remove(username: "alice") == 2)
        #expect(cache.lookup(id: b.id) != nil)
        cache.apply(.providerSession("s1"))
        #expect(cache.count == 0)
        let c = makeSession("carol")
        cache.put(c)
        cache.apply(SessionEviction(message: SessionEviction.session(c.id).message)!)
        #expect(cache.count == 0)
    }
}

@Suite("Session encoding and eviction messages")
struct SessionCodecTests {
    @Test("a session survives encoding, with its refresh token sealed")
    func roundTrip() throws {
        let codec = SessionCodec(keyRing: .ephemeral())
        let session = makeSession()
        let bytes = codec.encode(session)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("rt-secret"))
        let decoded = try #require(codec.decode(bytes, id: session.id))
        // Dates pass through as seconds since 1970; compare at that resolution.
        #expect(decoded.identity == session.identity)
        #expect(decoded.refreshToken == "rt-secret-0123456789")
        #expect(decoded.providerSessionID == "sid-1")
        #expect(abs(decoded.absoluteExpiry.timeIntervalSince(session.absoluteExpiry)) < 0.001)
    }

    @Test("a refresh token sealed with a key no longer in the ring is dropped, the session kept")
    func foreignKey() throws {
        let session = makeSession()
        let bytes = SessionCodec(keyRing: .ephemeral()).encode(session)
        let decoded = try #require(SessionCodec(keyRing: .ephemeral()).decode(bytes, id: session.id))
        #expect(decoded.refreshToken == nil)
        #expect(decoded.identity.username == "alice")
    }

    @Test("garbage decodes to nil")
    func garbage() {
        let codec = SessionCodec(keyRing: .ephemeral())
        #expect(codec.decode(Array("{}".utf8), id: .random()) == nil)
        #expect(codec.decode([0xff, 0x00], id: .random()) == nil)
        #expect(codec.decode([], id: .random()) == nil)
    }

    @Test("eviction messages round-trip; anything else is refused")
    func evictionMessages() {
        let id = SessionID.random()
        for eviction in [SessionEviction.session(id), .user("alice"), .providerSession("0a1b-sid")] {
            #expect(SessionEviction(message: eviction.message) == eviction)
        }
        for bad in ["", "s:", "s:xyz", "x:alice", "u", "s:" + String(repeating: "g", count: 64)] {
            #expect(SessionEviction(message: bad) == nil)
        }
        #expect(SessionID(hex: id.hex) == id)
        #expect(!"\(id)".contains(id.hex))
    }
}

@Suite("Session and identity values")
struct SessionValueTests {
    @Test("copies are independent values (copy-on-write records)")
    func valueSemantics() {
        let identity = Identity(username: "alice", email: "a@x", roles: ["R"], groups: ["G"], method: .sso)
        var changed = identity
        changed.roles.append("Admin")
        changed.username = "mallory"
        #expect(identity.roles == ["R"] && identity.username == "alice")
        #expect(changed.roles == ["R", "Admin"] && changed.username == "mallory")
        #expect(identity != changed)

        let now = Date()
        let session = Session(id: SessionID.random(), identity: identity, created: now, absoluteExpiry: now.addingTimeInterval(60))
        var copy = session
        #expect(copy == session)
        copy.identity = changed
        copy.lastSeen = now.addingTimeInterval(5)
        copy.refreshToken = "rt"
        #expect(session.identity == identity && session.lastSeen == now && session.refreshToken == nil)
        #expect(copy.identity.username == "mallory" && copy.refreshToken == "rt" && copy != session)
    }

    @Test("an identity stored before the copy-on-write record still decodes, and encodes the same shape")
    func identityJSON() throws {
        let stored = #"{"username":"alice","email":"a@x","tenantId":"t","roles":["R"],"groups":[],"method":"sso"}"#
        let identity = try JSONDecoder().decode(Identity.self, from: Data(stored.utf8))
        #expect(identity == Identity(username: "alice", email: "a@x", tenantId: "t", roles: ["R"], method: .sso))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let again = String(decoding: try encoder.encode(identity), as: UTF8.self)
        #expect(again == #"{"email":"a@x","groups":[],"method":"sso","roles":["R"],"tenantId":"t","username":"alice"}"#)
    }
}

@Suite("Compact token text")
struct CompactTextTests {
    @Test("every text comes back as it was: tokens, escapes, other characters, empty")
    func roundTrip() {
        var rng = SystemRandomNumberGenerator()
        let tokenAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        var samples = ["", "A", "_", ".", "__..", "0.AXEA-_x", "ünïcode", "a b", "a=b+c/d", "1.AXEA" + String(repeating: "z", count: 1_494)]
        for length in 0..<70 {
            samples.append(String((0..<length).map { _ in tokenAlphabet.randomElement(using: &rng)! }))
        }
        for _ in 0..<50 {
            samples.append(String((0..<Int.random(in: 1..<2_000, using: &rng)).map { _ in tokenAlphabet.randomElement(using: &rng)! }))
        }
        for text in samples {
            #expect(CompactText(text).text == text)
        }
        #expect(CompactText("abc") == CompactText("abc") && CompactText("abc") != CompactText("abd"))
    }

    @Test("a session keeps its refresh token and logout hint exactly")
    func sessionTokens() {
        let token = "1.AXEA" + String((0..<1_494).map { Array("abcXYZ019-_.")[$0 % 12] })
        var session = makeSession(refreshToken: token)
        #expect(session.refreshToken == token && session.hasRefreshToken && session.logoutHint == "hint-alice")
        session.refreshToken = nil
        #expect(session.refreshToken == nil && !session.hasRefreshToken)
        session.refreshToken = "plain text, not a token ✓"
        #expect(session.refreshToken == "plain text, not a token ✓")
    }
}

@Suite("Shared values in the memory store")
struct SharedValuesTests {
    @Test("sessions put in the cache keep their identity exactly, sharing repeated values")
    func sharing() {
        let cache = SessionCache(capacity: 10, idleTimeout: 3600)
        func session(_ user: String) -> Session {
            let now = Date()
            // Each built from fresh strings, as decoding two tokens gives.
            let identity = Identity(
                username: user, tenantId: String(decoding: Array("tenant-0000-0000-0000-000000000000".utf8), as: UTF8.self),
                roles: ["Repairs.Read", String(decoding: Array("Repairs.Write.Everything.Else".utf8), as: UTF8.self)],
                groups: [String(decoding: Array("9a000000-0000-4000-8000-000000000001".utf8), as: UTF8.self)], method: .sso)
            return Session(id: .random(), identity: identity, created: now, absoluteExpiry: now.addingTimeInterval(60))
        }
        let a = session("alice")
        let b = session("bob")
        cache.put(a)
        cache.put(b)
        let storedA = cache.lookup(id: a.id)!.session
        let storedB = cache.lookup(id: b.id)!.session
        #expect(storedA.identity == a.identity && storedB.identity == b.identity)
        // One copy of the repeated values: the same string and array storage.
        func address(_ text: String?) -> UInt64 { text.map { $0.utf8.withContiguousStorageIfAvailable { UInt64(UInt(bitPattern: $0.baseAddress)) } ?? 0 } ?? 0 }
        #expect(address(storedA.identity.tenantId) == address(storedB.identity.tenantId))
        #expect(address(storedA.identity.groups[0]) == address(storedB.identity.groups[0]))
        #expect(storedA.identity.roles.withUnsafeBufferPointer { $0.baseAddress } == storedB.identity.roles.withUnsafeBufferPointer { $0.baseAddress })
    }
}
