import Foundation
import PortcullisCore
import PortcullisSessions
import Testing

@testable import PortcullisProxy

/// The byte-level `Cookie` scanning behind the session check and the cookie hygiene on the
/// upstream hop.
@Suite("Cookie header scanning")
struct CookieHeaderTests {
    let settings = CookieSettings(sessionCookieName: "portcullis_session", secure: false, formPost: false, sessionMaxAge: nil)

    func pairs(_ header: String) -> [String] {
        CookieHeader.pairs([header]).map { "\($0.name)=\($0.value)" }
    }

    @Test("pairs: blanks around pairs, quoted values, parts without '=' and empty parts")
    func pairsParse() {
        #expect(pairs("a=1; b=2") == ["a=1", "b=2"])
        #expect(pairs(" \ta=1 \t;b=\"quoted\";;c;d=") == ["a=1", "b=quoted", "d="])
        #expect(pairs("x=a=b; y=\"") == ["x=a=b", "y=\""])
        #expect(pairs("") == [])
        #expect(pairs("é=ü; n=\"ø\"") == ["é=ü", "n=ø"])
        #expect(CookieHeader.pairs(["a=1", "b=2; c=3"]).map(\.name) == ["a", "b", "c"])
    }

    @Test("the visit stops when asked to, across headers")
    func stops() {
        var seen: [Substring] = []
        CookieHeader.forEachPair(["a=1; b=2", "c=3"]) { name, _ in
            seen.append(name)
            return name != "b"
        }
        #expect(seen == ["a", "b"])
    }

    func removing(_ value: String) -> String? {
        CookieHeader.removing(settings, from: value)
    }

    @Test("the session and pending-login cookies never reach the upstream; others keep their order")
    func removesOurs() {
        #expect(removing("portcullis_session=abc") == nil)
        #expect(removing("portcullis_session=abc; portcullis_session_login_xyz=1") == nil)
        #expect(removing("a=1; portcullis_session=abc; b=2") == "a=1; b=2")
        // The local sign-in form's CSRF cookie is the gateway's too.
        #expect(removing("portcullis_csrf=t0k3n; app=1") == "app=1")
        #expect(removing("  a=1 ;portcullis_session_login_q=v;b") == "a=1 ; b")
        #expect(removing("a=1; b=2") == "a=1; b=2")
        // Names only like ours are not ours.
        #expect(removing("portcullis_sessionx=1; xportcullis_session=2") == "portcullis_sessionx=1; xportcullis_session=2")
        #expect(removing("portcullis_session") == nil)
        #expect(removing(";;") == ";;")
    }

    @Test("with https the prefixed names are the gateway's, the bare ones are not")
    func securePrefix() {
        let secure = CookieSettings(sessionCookieName: "s", secure: true, formPost: false, sessionMaxAge: nil)
        #expect(CookieHeader.removing(secure, from: "__Host-s=1; s=2; __Host-s_login_a=3") == "s=2")
    }
}

@Suite("Session cookie memo")
struct SessionCookieMemoTests {
    func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        Array(text.utf8).withUnsafeBufferPointer(body)
    }

    static let config = try! GatewayConfig.load(Data(#"{ "routes": [{ "name": "a", "upstream": "http://127.0.0.1:1", "public": true }] }"#.utf8))
    static let rules = SessionRules(config: config, keyRing: .ephemeral(), revalidators: [:])

    @Test("answers only for the byte-identical cookie it remembered, under the same rules")
    func memo() {
        let rules = Self.rules
        var memo = SessionCookieMemo()
        let id = SessionID.random()
        #expect(withBytes("AAAA") { memo.id(for: $0, rules: rules) } == nil)
        withBytes("AAAA") { memo.remember($0, opensTo: id, rules: rules) }
        #expect(withBytes("AAAA") { memo.id(for: $0, rules: rules) } == id)
        #expect(withBytes("AAAB") { memo.id(for: $0, rules: rules) } == nil)
        #expect(withBytes("AAA") { memo.id(for: $0, rules: rules) } == nil)
        #expect(withBytes("") { memo.id(for: $0, rules: rules) } == nil)
        let other = SessionID.random()
        withBytes("BBBB") { memo.remember($0, opensTo: other, rules: rules) }
        #expect(withBytes("AAAA") { memo.id(for: $0, rules: rules) } == nil)
        #expect(withBytes("BBBB") { memo.id(for: $0, rules: rules) } == other)
        // After a reload (new rules, perhaps without the key that opened it) the cookie is opened again.
        let reloaded = SessionRules(config: Self.config, keyRing: .ephemeral(), revalidators: [:])
        #expect(withBytes("BBBB") { memo.id(for: $0, rules: reloaded) } == nil)
    }
}
