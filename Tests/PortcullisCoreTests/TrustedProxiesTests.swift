import Foundation
import Testing

@testable import PortcullisCore

@Suite("Trusted proxies and client addresses")
struct TrustedProxiesTests {
    static func proxies(_ entries: String...) -> TrustedProxies {
        try! TrustedProxies.parse(entries).get()
    }

    @Test("CIDR containment, IPv4 and IPv6", arguments: [
        ("10.0.0.0/8", "10.255.3.4", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.0/24", "192.168.1.255", true), ("192.168.1.0/24", "192.168.2.0", false),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false),
        ("203.0.113.7", "203.0.113.7", true), ("203.0.113.7", "203.0.113.8", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("::ffff:10.0.0.0/104", "10.9.9.9", true),
        ("::1/128", "::1", true), ("::1", "0:0:0:0:0:0:0:1", true), ("::1", "::2", false),
        ("fd00::/8", "fd12:3456::1", true), ("fd00::/8", "fe80::1", false),
        ("2001:db8::/33", "2001:db8:7fff::1", true), ("2001:db8::/33", "2001:db8:8000::1", false),
        ("10.0.0.0/8", "::a00:1", false), ("::/1", "10.0.0.1", false),
        ("10.0.0.0/8", "not an address", false), ("10.0.0.0/8", "10.0.0.1\u{0}", false), ("10.0.0.0/8", "", false),
    ])
    func containment(block: String, address: String, expected: Bool) {
        #expect(Self.proxies(block).contains(address) == expected)
    }

    @Test("malformed entries are reported by index", arguments: [
        ("10.0.0.0/33", #"trustedProxies[1]: "10.0.0.0/33" has an invalid prefix length (0 to 32)"#),
        ("10.0.0.1/8", #"trustedProxies[1]: "10.0.0.1/8" has bits set past the /8 prefix (did you mean 10.0.0.0/8?)"#),
        ("fd00::1/8", #"trustedProxies[1]: "fd00::1/8" has bits set past the /8 prefix (did you mean fd00::/8?)"#),
        ("10.0.0.0/", #"trustedProxies[1]: "10.0.0.0/" has an invalid prefix length (0 to 32)"#),
        ("10.0.0.0/+8", #"trustedProxies[1]: "10.0.0.0/+8" has an invalid prefix length (0 to 32)"#),
        ("10.0.0/8", #"trustedProxies[1]: "10.0.0/8" is not an IPv4 or IPv6 address or CIDR block"#),
        ("gateway.local", #"trustedProxies[1]: "gateway.local" is not an IPv4 or IPv6 address or CIDR block"#),
        ("[::1]", #"trustedProxies[1]: "[::1]" is not an IPv4 or IPv6 address or CIDR block"#),
        ("0.0.0.0/0", #"trustedProxies[1]: "0.0.0.0/0" would trust every address, letting any client choose the address it is counted as"#),
        ("::ffff:10.0.0.0/64", #"trustedProxies[1]: "::ffff:10.0.0.0/64": an IPv4-mapped block needs a prefix of 96 or more"#),
    ])
    func malformed(entry: String, expected: String) {
        let result = TrustedProxies.parse(["10.0.0.0/8", entry])
        guard case .failure(let error) = result else {
            Issue.record("\(entry) was accepted")
            return
        }
        #expect(error.issues.map(\.description) == [expected])
    }

    static let lb = proxies("10.0.0.0/8", "fd00::/8")

    @Test("an untrusted peer is the client, whatever X-Forwarded-For says")
    func untrustedPeer() {
        #expect(Self.lb.clientAddress(peer: "198.51.100.7", forwardedFor: ["1.2.3.4"]) == "198.51.100.7")
        #expect(TrustedProxies.none.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.2.3.4"]) == "10.0.0.1")
        #expect(Self.lb.clientAddress(peer: "::ffff:198.51.100.7", forwardedFor: []) == "198.51.100.7", "normalized")
        #expect(Self.lb.clientAddress(peer: "2001:DB8:0:0::1", forwardedFor: []) == "2001:db8::1", "normalized")
        #expect(Self.lb.clientAddress(peer: "[2001:db8::1]", forwardedFor: []) == "2001:db8::1")
        #expect(Self.lb.clientAddress(peer: "unix-socket", forwardedFor: ["1.2.3.4"]) == "unix-socket")
    }

    @Test("behind a trusted proxy: the right-most untrusted entry", arguments: [
        (["203.0.113.9"], "203.0.113.9"),
        (["198.51.100.1, 203.0.113.9"], "203.0.113.9"),  // the client's own forged entry is left of the real one
        (["198.51.100.1, 203.0.113.9, 10.0.0.2"], "203.0.113.9"),  // past a second trusted hop
        (["198.51.100.1", "203.0.113.9, 10.0.0.2"], "203.0.113.9"),  // several headers, in order
        (["198.51.100.1, 203.0.113.9", "10.0.0.2"], "203.0.113.9"),
        (["10.1.1.1, 10.0.0.2"], "10.1.1.1"),  // all trusted: the left-most
        ([], "10.0.0.1"),  // no header: the proxy itself
        ([""], "10.0.0.1"),
        (["203.0.113.9, "], "203.0.113.9"),  // empty items are skipped
        (["198.51.100.1, unknown, 10.0.0.2"], "10.0.0.2"),  // malformed: stop at the last good one
        (["198.51.100.1, garbage"], "10.0.0.1"),
        (["203.0.113.9:4711"], "203.0.113.9"),  // ports, as some balancers add them
        (["[2001:db8::5]:4711"], "2001:db8::5"),
        (["[2001:db8::5]"], "2001:db8::5"),
        (["2001:db8::5, fd00::3"], "2001:db8::5"),
        (["::ffff:203.0.113.9"], "203.0.113.9"),
        (["1.2.3.4:99999"], "10.0.0.1"),
        (["[2001:db8::5]x"], "10.0.0.1"),
        (["203.0.113.9 , 10.0.0.7 "], "203.0.113.9"),
    ])
    func forwarded(headers: [String], expected: String) {
        #expect(Self.lb.clientAddress(peer: "10.0.0.1", forwardedFor: headers) == expected)
    }
}
