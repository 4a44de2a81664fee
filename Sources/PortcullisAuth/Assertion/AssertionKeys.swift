import Crypto
import Foundation

/// The keys that sign identity assertions: the first signs, the others are only published
/// in the JWKS, so a new key can be put first while upstreams still accept assertions made
/// with the old one until they expire.
public struct AssertionKeys: Sendable, CustomStringConvertible {
    /// Signing key first. Never empty.
    public let keys: [AssertionKey]
    /// The public JWK Set (`{"keys":[…]}`) with every key, rendered once, ready to serve
    /// as `application/json`.
    public let jwks: [UInt8]

    /// The key that signs new assertions.
    public var signingKey: AssertionKey { keys[0] }

    public var jwksJSON: String { String(decoding: jwks, as: UTF8.self) }

    init(_ keys: [AssertionKey]) {
        precondition(!keys.isEmpty, "an assertion key set needs a key")
        self.keys = keys
        jwks = Array(#"{"keys":[\#(keys.map(\.publicJWK).joined(separator: ","))]}"#.utf8)
    }

    /// One fresh key, kept only in memory. The caller warns that upstreams must fetch the
    /// JWKS again after every restart, since the key changes with each.
    public static func generated() -> AssertionKeys { AssertionKeys([AssertionKey(P256.Signing.PrivateKey())]) }

    /// Every key of a PEM file's text: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`)
    /// blocks, the signing key first. `EC PARAMETERS` blocks (which `openssl ecparam
    /// -genkey` writes) are skipped; any other block is an error rather than ignored, so a
    /// certificate or public key pasted by mistake is noticed.
    public init(pem text: String) throws(AssertionKeyError) {
        var keys: [AssertionKey] = []
        var blockOfKid: [String: Int] = [:]
        for (index, block) in PEMBlock.blocks(in: text).enumerated() {
            let number = index + 1
            guard block.label != "EC PARAMETERS" else { continue }
            let key = AssertionKey(try Self.privateKey(in: block, number: number))
            if let first = blockOfKid[key.kid] { throw .duplicate(block: number, of: first) }
            blockOfKid[key.kid] = number
            keys.append(key)
        }
        guard !keys.isEmpty else { throw .noKey }
        self.init(keys)
    }

    /// ``init(pem:)`` of a file (for the command line; the gateway gets the text with its
    /// config, see `AssertionConfig.keyPEM`).
    public init(contentsOfFile path: String) throws(AssertionKeyError) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(file: path)
        }
        try self.init(pem: text)
    }

    /// A new P-256 private key as PKCS#8 PEM ending in a newline, so keys can be
    /// concatenated into one file.
    public static func newPrivateKeyPEM() -> String {
        let pem = P256.Signing.PrivateKey().pemRepresentation
        return pem.hasSuffix("\n") ? pem : pem + "\n"
    }

    private static func privateKey(in block: PEMBlock, number: Int) throws(AssertionKeyError) -> P256.Signing.PrivateKey {
        if block.isEncrypted { throw .encrypted(block: number) }
        let kind: PrivateKeyKind?
        switch block.label {
        case "PRIVATE KEY": kind = block.der.flatMap(PrivateKeyKind.of(pkcs8:))
        case "EC PRIVATE KEY": kind = block.der.flatMap(PrivateKeyKind.of(sec1:))
        case "RSA PRIVATE KEY": throw .notP256(block: number, found: "an RSA key")
        default: throw .unexpectedBlock(block: number, label: block.label)
        }
        switch kind {
        case .p256?:
            guard let der = block.der, let key = try? P256.Signing.PrivateKey(derRepresentation: der) else {
                throw .malformed(block: number)
            }
            return key
        case .other(let found)?: throw .notP256(block: number, found: found)
        case nil: throw .malformed(block: number)
        }
    }

    public var description: String { "AssertionKeys(kids: \(keys.map(\.kid)))" }
}
