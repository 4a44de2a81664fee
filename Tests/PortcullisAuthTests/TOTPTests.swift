import Foundation
import PortcullisAuth
import PortcullisCore
import Testing

@Suite("TOTP")
struct TOTPTests {
    /// RFC 6238 Appendix B's SHA-1 secret.
    static let rfcSecret = Array("12345678901234567890".utf8)

    @Test("RFC 6238 Appendix B, SHA-1, 8 digits", arguments: [
        (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ] as [(Int64, String)])
    func rfcVectors(time: Int64, expected: String) {
        let step = TOTP.step(at: Date(timeIntervalSince1970: TimeInterval(time)))
        #expect(step == time / 30)
        #expect(TOTP.code(secret: Self.rfcSecret, step: step, digits: 8) == expected)
        #expect(TOTP.code(secret: Self.rfcSecret, step: step) == String(expected.suffix(6)), "6 digits are the last 6 of 8")
        #expect(TOTP.verify(expected, secret: Self.rfcSecret, at: Date(timeIntervalSince1970: TimeInterval(time)), notAfterOrAt: nil, digits: 8) == step)
    }

    @Test("steps: whole periods since the epoch")
    func steps() {
        #expect(TOTP.step(at: Date(timeIntervalSince1970: 0)) == 0)
        #expect(TOTP.step(at: Date(timeIntervalSince1970: 29.999)) == 0)
        #expect(TOTP.step(at: Date(timeIntervalSince1970: 30)) == 1)
        #expect(TOTP.step(at: Date(timeIntervalSince1970: 600), period: 60) == 10)
    }

    static let secret = TOTP.newSecret()
    static let now = Date(timeIntervalSince1970: 1_700_000_015)
    static var step: Int64 { TOTP.step(at: now) }

    @Test("a code from one step either side is accepted, two steps is not")
    func window() {
        for offset: Int64 in [-1, 0, 1] {
            let code = TOTP.code(secret: Self.secret, step: Self.step + offset)
            #expect(TOTP.verify(code, secret: Self.secret, at: Self.now, notAfterOrAt: nil) == Self.step + offset)
        }
        for offset: Int64 in [-2, 2] {
            let code = TOTP.code(secret: Self.secret, step: Self.step + offset)
            #expect(TOTP.verify(code, secret: Self.secret, at: Self.now, notAfterOrAt: nil) == nil)
            #expect(TOTP.verify(code, secret: Self.secret, at: Self.now, window: 2, notAfterOrAt: nil) == Self.step + offset)
        }
        let current = TOTP.code(secret: Self.secret, step: Self.step)
        #expect(TOTP.verify(current, secret: Self.secret, at: Self.now, window: 0, notAfterOrAt: nil) == Self.step)
    }

    @Test("a code is used once: its step and earlier ones are refused")
    func replay() {
        let code = TOTP.code(secret: Self.secret, step: Self.step)
        let used = TOTP.verify(code, secret: Self.secret, at: Self.now, notAfterOrAt: nil)
        #expect(used == Self.step)
        #expect(TOTP.verify(code, secret: Self.secret, at: Self.now, notAfterOrAt: used) == nil)
        #expect(TOTP.verify(code, secret: Self.secret, at: Self.now + 30, notAfterOrAt: used) == nil, "still inside the window next step")
        let previous = TOTP.code(secret: Self.secret, step: Self.step - 1)
        #expect(TOTP.verify(previous, secret: Self.secret, at: Self.now, notAfterOrAt: used) == nil)
        let next = TOTP.code(secret: Self.secret, step: Self.step + 1)
        #expect(TOTP.verify(next, secret: Self.secret, at: Self.now, notAfterOrAt: used) == Self.step + 1)
    }

    @Test("malformed and wrong codes are refused", arguments: ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６", "-12345"])
    func malformed(code: String) {
        #expect(TOTP.verify(code, secret: Self.secret, at: Self.now, notAfterOrAt: nil) == nil)
    }

    @Test("spaces in a typed code are ignored; another secret's code fails")
    func typing() {
        let code = TOTP.code(secret: Self.secret, step: Self.step)
        let spaced = String(code.prefix(3)) + " " + String(code.suffix(3))
        #expect(TOTP.verify(spaced, secret: Self.secret, at: Self.now, notAfterOrAt: nil) == Self.step)
        let other = TOTP.newSecret()
        #expect(other != Self.secret && other.count == 20)
        // A wrong secret matches by chance only with probability 3/10^6; pick one that does not.
        let foreign = TOTP.code(secret: other, step: Self.step)
        if ![-1, 0, 1].contains(where: { TOTP.code(secret: Self.secret, step: Self.step + $0) == foreign }) {
            #expect(TOTP.verify(foreign, secret: Self.secret, at: Self.now, notAfterOrAt: nil) == nil)
        }
    }

    @Test("otpauth URI: base32 secret, encoded label and issuer")
    func uri() {
        let uri = TOTP.otpauthURI(secret: Array("12345678901234567890".utf8), account: "break glass@contoso.example", issuer: "Contoso & Co")
        #expect(uri == "otpauth://totp/Contoso%20%26%20Co:break%20glass%40contoso.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Contoso%20%26%20Co&algorithm=SHA1&digits=6&period=30")
        #expect(Base32.decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == Array("12345678901234567890".utf8))
    }
}
