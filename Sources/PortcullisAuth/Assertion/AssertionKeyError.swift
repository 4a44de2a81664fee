/// Why an assertion key file cannot be used. Blocks are numbered from 1 in file order, so an
/// operator can find the culprit; no message ever contains key material.
public enum AssertionKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(file: String)
    /// The file holds no private-key PEM block at all.
    case noKey
    /// A block is passphrase-protected; the gateway starts unattended and cannot ask for it.
    case encrypted(block: Int)
    /// A block is a private key, but not for ES256 (`found`: "a P-384 key", "an RSA key").
    case notP256(block: Int, found: String)
    /// A block claims to be a private key but its contents do not parse.
    case malformed(block: Int)
    /// A block that is not a private key (a certificate, a public key, an OpenSSH key).
    case unexpectedBlock(block: Int, label: String)
    /// A block repeats an earlier key: a rotation slip that would publish one key twice.
    case duplicate(block: Int, of: Int)

    public var description: String {
        switch self {
        case .unreadable(let file):
            return "cannot read \"\(file)\""
        case .noKey:
            return "holds no PEM private key (make one with `portcullis assertion-key generate --file …`)"
        case .encrypted(let block):
            return "PEM block \(block) is encrypted; the gateway cannot ask for a passphrase (decrypt it: openssl pkey -in encrypted.pem -out key.pem)"
        case .notP256(let block, let found):
            return "PEM block \(block) is \(found); assertions are signed with ES256, which needs an EC P-256 (prime256v1) key"
        case .malformed(let block):
            return "PEM block \(block) is not a valid PKCS#8 or SEC1 EC private key"
        case .unexpectedBlock(let block, let label):
            return "PEM block \(block) is \"\(label)\", not \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\" (SEC1)"
        case .duplicate(let block, let first):
            return "PEM block \(block) is the same key as PEM block \(first)"
        }
    }
}
