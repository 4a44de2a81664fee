import Crypto
import Foundation
import PortcullisCore

/// AES-256-GCM sealing with a rotating set of keys: the first key seals, every key opens,
/// so a new key can be put first and the old one dropped a session lifetime later without
/// signing anyone out.
///
/// Sealed form, base64url: `version (1) ‖ key id (4) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
/// The key id picks the key without trial decryption; the `context` (what the value is for,
/// such as `session` or `pending-login`) is authenticated data, so a value sealed for one
/// purpose never opens as another. Opening is total: anything tampered, truncated, sealed
/// with an unknown key or oversized gives nil, in time bounded by ``maximumSealedLength``.
public struct KeyRing: Sendable {
    static let version: UInt8 = 1
    static let overhead = 1 + 4 + 12 + 16
    /// Longest sealed text accepted, so a hostile cookie cannot make the gateway decode or
    /// decrypt megabytes.
    public static let maximumSealedLength = 6144

    private let keys: [(id: [UInt8], key: SymmetricKey)]

    /// - Parameter keys: raw 256-bit keys, the sealing key first. Must not be empty.
    public init(keys: [[UInt8]]) {
        precondition(!keys.isEmpty && keys.allSatisfy { $0.count == 32 }, "a key ring needs 256-bit keys")
        self.keys = keys.map { raw in (Self.keyID(raw), SymmetricKey(data: raw)) }
    }

    /// A ring of one fresh key: values sealed with it are unreadable after a restart.
    public static func ephemeral() -> KeyRing { KeyRing(keys: [newKey()]) }

    /// A fresh random 256-bit key.
    public static func newKey() -> [UInt8] { RandomToken.bytes(32) }

    public func seal(_ plaintext: some DataProtocol, context: String) -> String {
        let (id, key) = keys[0]
        // AES-GCM with a random 96-bit nonce: safe for far more than 2^32 seals per key.
        let box = try! AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        var out: [UInt8] = [Self.version]
        out.reserveCapacity(Self.overhead + plaintext.count)
        out += id
        out += box.combined!
        return Base64URL.encode(out)
    }

    public func open(_ sealed: some StringProtocol, context: String) -> [UInt8]? {
        guard sealed.utf8.count <= Self.maximumSealedLength else { return nil }
        if let opened = sealed.utf8.withContiguousStorageIfAvailable({ open(bytes: $0, context: context) }) { return opened }
        return Array(sealed.utf8).withUnsafeBufferPointer { open(bytes: $0, context: context) }
    }

    /// ``open(_:context:)`` of sealed text given as its UTF-8 bytes (the session cookie,
    /// straight from the request head).
    public func open(bytes sealed: UnsafeBufferPointer<UInt8>, context: String) -> [UInt8]? {
        guard sealed.count <= Self.maximumSealedLength, let bytes = Base64URL.decode(bytes: sealed),
            bytes.count >= Self.overhead, bytes[0] == Self.version
        else { return nil }
        guard let key = keys.first(where: { $0.id.elementsEqual(bytes[1..<5]) })?.key,
            let box = try? AES.GCM.SealedBox(combined: bytes[5...]),
            let opened = try? AES.GCM.open(box, using: key, authenticating: Array(context.utf8))
        else { return nil }
        return Array(opened)
    }

    static func keyID(_ raw: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array("portcullis key id".utf8) + raw).prefix(4))
    }
}
