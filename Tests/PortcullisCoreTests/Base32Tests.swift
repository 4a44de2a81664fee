import Foundation
import Testing

@testable import PortcullisCore

@Suite("Base32")
struct Base32Tests {
    @Test("RFC 4648 §10 test vectors", arguments: [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI"),
    ])
    func vectors(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        #expect(Base32.decode(encoded) == Array(plain.utf8))
        let padding = String(repeating: "=", count: (8 - encoded.count % 8) % 8)
        #expect(Base32.decode(encoded + padding) == Array(plain.utf8), "padded, as the RFC writes them")
    }

    @Test("decoding is case-insensitive and ignores spaces")
    func lenientInput() {
        #expect(Base32.decode("mzxw 6ytb oi") == Array("foobar".utf8))
        #expect(Base32.decode("JBSWY3DPEHPK3PXP") == Base32.decode("jbsw y3dp ehpk 3pxp"))
    }

    @Test("bad input is refused", arguments: ["M", "MZX", "MZXW6Y", "MZXW1", "MZXW8", "MZ-XW", "MZ\nXW", "MZXÄ"])
    func refused(text: String) {
        #expect(Base32.decode(text) == nil)
    }

    @Test("round trip over every length up to 40 bytes")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base32.encode(bytes)
            #expect(!text.contains("="))
            #expect(Base32.decode(text) == bytes)
            #expect(Base32.decode(text.lowercased()) == bytes)
        }
    }
}
