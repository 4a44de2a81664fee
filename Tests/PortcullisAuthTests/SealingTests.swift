import Foundation
import PortcullisAuth
import PortcullisCore
import Testing

@Suite("Sealing, PKCE and pending logins")
struct SealingTests {
    @Test("a sealed value opens with the same context, and only then")
    func roundTrip() {
        let ring = KeyRing.ephemeral()
        let sealed = ring.seal(Array("session-id-123".utf8), context: "session")
        #expect(ring.open(sealed, context: "session") == Array("session-id-123".utf8))
        #expect(ring.open(sealed, context: "pending-login") == nil)
    }

    @Test("every single-byte change, truncation or extension makes it unopenable")
    func tampering() {
        let ring = KeyRing.ephemeral()
        let sealed = ring.seal(Array("payload".utf8), context: "session")
        var bytes = Base64URL.decode(sealed)!
        for index in bytes.indices {
            bytes[index] ^= 0x01
            #expect(ring.open(Base64URL.encode(bytes), context: "session") == nil)
            bytes[index] ^= 0x01
        }
        for length in 0..<bytes.count {
            #expect(ring.open(Base64URL.encode(bytes.prefix(length)), context: "session") == nil)
        }
        #expect(ring.open(Base64URL.encode(bytes + [0]), context: "session") == nil)
    }

    @Test("garbage and oversized values are anonymous, not errors", arguments: [
        "", "=", "%00", "a", "AAAA", "!!!!", "\u{0}", "e30", "null", String(repeating: "A", count: 10_000), "AQ" + String(repeating: "_", count: 60),
    ])
    func garbage(_ value: String) {
        #expect(KeyRing.ephemeral().open(value, context: "session") == nil)
    }

    @Test("key rotation: old keys still open, new key seals; a foreign key never opens")
    func rotation() {
        let old = KeyRing.newKey(), new = KeyRing.newKey()
        let before = KeyRing(keys: [old])
        let after = KeyRing(keys: [new, old])
        let sealedBefore = before.seal([1, 2, 3], context: "session")
        #expect(after.open(sealedBefore, context: "session") == [1, 2, 3])
        let sealedAfter = after.seal([4, 5], context: "session")
        #expect(before.open(sealedAfter, context: "session") == nil)
        #expect(KeyRing(keys: [new]).open(sealedAfter, context: "session") == [4, 5])
        #expect(KeyRing.ephemeral().open(sealedAfter, context: "session") == nil)
    }

    @Test("PKCE S256 matches RFC 7636 appendix B")
    func pkceVector() {
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        let fresh = PKCE()
        #expect(fresh.verifier.utf8.count == 43)
        #expect(fresh.verifier != PKCE().verifier)
    }

    @Test("a pending login opens until it expires, and not with another ring")
    func pendingLogin() {
        let ring = KeyRing.ephemeral()
        let login = PendingLogin(returnTo: "/app?x=1", now: 1_000)
        let sealed = login.sealed(with: ring)
        #expect(PendingLogin.open(sealed, with: ring, now: 1_100) == login)
        #expect(PendingLogin.open(sealed, with: ring, now: 1_000 + PendingLogin.lifetime) == nil)
        #expect(PendingLogin.open(sealed, with: KeyRing.ephemeral(), now: 1_100) == nil)
        #expect(PendingLogin.open(ring.seal(Array("{}".utf8), context: "portcullis pending-login"), with: ring, now: 1_100) == nil)
        #expect(login.state != PendingLogin(returnTo: "/", now: 1_000).state)
    }

    @Test("the key refresh schedule rate-limits forced fetches")
    func keySchedule() {
        var schedule = KeyRefreshSchedule()
        let start = Date(timeIntervalSince1970: 0)
        #expect(schedule.isStale(now: start))
        schedule.fetched(at: start)
        #expect(!schedule.isStale(now: start.addingTimeInterval(3599)))
        #expect(schedule.isStale(now: start.addingTimeInterval(3600)))
        let first = schedule.allowForcedFetch(now: start)
        let tooSoon = schedule.allowForcedFetch(now: start.addingTimeInterval(299))
        let later = schedule.allowForcedFetch(now: start.addingTimeInterval(300))
        #expect(first && !tooSoon && later)
    }

    @Test("base64url round-trips every length and matches Foundation; non-canonical text is refused")
    func base64url() {
        for length in 0..<70 {
            let bytes = RandomToken.bytes(max(length, 1)).prefix(length)
            let encoded = Base64URL.encode(bytes)
            let foundation = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(encoded == foundation)
            #expect(Base64URL.decode(encoded) == Array(bytes))
        }
        for bad in ["A", "AB=", "AB+/", "AB C", "AR", "AAB", "Zh=="] {  // "AR"/"AAB": non-zero unused bits
            #expect(Base64URL.decode(bad) == nil, "\(bad)")
        }
        #expect(Base64URL.decode("") == [])
    }
}
