/// What kind of key a DER private key is, read from its algorithm and curve identifiers.
///
/// swift-crypto's P-256 parser takes any 32-byte EC scalar without checking the curve, so a
/// secp256k1 key would load as a different P-256 key; and for a P-384 or RSA key it gives
/// only "invalid". Reading the identifiers first lets a wrong key be refused by name.
enum PrivateKeyKind: Equatable {
    case p256
    /// Any other key, described for an error message ("a P-384 key").
    case other(String)

    /// A PKCS#8 `PrivateKeyInfo`; nil when it is not one.
    static func of(pkcs8 der: [UInt8]) -> PrivateKeyKind? {
        var outer = DERReader(der[...])
        guard let info = outer.read(tag: 0x30) else { return nil }
        var fields = DERReader(info)
        guard fields.read(tag: 0x02) != nil, let algorithmIdentifier = fields.read(tag: 0x30) else { return nil }
        var algorithm = DERReader(algorithmIdentifier)
        guard let oid = algorithm.read(tag: 0x06) else { return nil }
        switch Array(oid) {
        case OID.ecPublicKey: return curve(algorithm.read(tag: 0x06))
        case OID.rsaEncryption: return .other("an RSA key")
        case OID.ed25519: return .other("an Ed25519 key")
        case OID.ed448: return .other("an Ed448 key")
        default: return .other("a key of an unknown algorithm")
        }
    }

    /// A SEC1 `ECPrivateKey`; nil when it is not one.
    static func of(sec1 der: [UInt8]) -> PrivateKeyKind? {
        var outer = DERReader(der[...])
        guard let key = outer.read(tag: 0x30) else { return nil }
        var fields = DERReader(key)
        guard fields.read(tag: 0x02) != nil, fields.read(tag: 0x04) != nil else { return nil }
        // parameters [0] { namedCurve }: optional in ASN.1, always written (RFC 5915 §3).
        guard let parameters = fields.read(tag: 0xA0) else { return .other("a key whose curve is not named") }
        var curveField = DERReader(parameters)
        return curve(curveField.read(tag: 0x06))
    }

    private static func curve(_ oid: ArraySlice<UInt8>?) -> PrivateKeyKind {
        switch oid.map(Array.init) {
        case OID.p256?: return .p256
        case OID.p384?: return .other("a P-384 key")
        case OID.p521?: return .other("a P-521 key")
        case OID.secp256k1?: return .other("a secp256k1 key")
        default: return .other("a key on an unknown curve")
        }
    }

    /// Object identifier contents (without tag and length).
    private enum OID {
        static let ecPublicKey: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]  // 1.2.840.10045.2.1
        static let rsaEncryption: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]  // 1.2.840.113549.1.1.1
        static let ed25519: [UInt8] = [0x2B, 0x65, 0x70]  // 1.3.101.112
        static let ed448: [UInt8] = [0x2B, 0x65, 0x71]  // 1.3.101.113
        static let p256: [UInt8] = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]  // 1.2.840.10045.3.1.7
        static let p384: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x22]  // 1.3.132.0.34
        static let p521: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x23]  // 1.3.132.0.35
        static let secp256k1: [UInt8] = [0x2B, 0x81, 0x04, 0x00, 0x0A]  // 1.3.132.0.10
    }
}

/// Reads DER tag-length-value items in order; just enough to find identifiers in a key.
struct DERReader {
    private var rest: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

    /// The contents of the next item if it has `tag`; nil (and nothing consumed) otherwise.
    mutating func read(tag: UInt8) -> ArraySlice<UInt8>? {
        guard let first = rest.first, first == tag, rest.count >= 2 else { return nil }
        var index = rest.index(after: rest.startIndex)
        let lengthByte = rest[index]
        index += 1
        var length = 0
        if lengthByte < 0x80 {
            length = Int(lengthByte)
        } else {
            let count = Int(lengthByte & 0x7F)
            guard (1...4).contains(count), rest.endIndex - index >= count else { return nil }
            for byte in rest[index..<(index + count)] { length = length << 8 | Int(byte) }
            index += count
        }
        guard rest.endIndex - index >= length else { return nil }
        let contents = rest[index..<(index + length)]
        rest = rest[(index + length)...]
        return contents
    }
}
