import Crypto
import PortcullisCore

/// Unguessable values: session ids, OAuth `state` and `nonce`, PKCE verifiers.
public enum RandomToken {
    /// `byteCount` bytes from the system CSPRNG.
    public static func bytes(_ byteCount: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: byteCount * 8)).withUnsafeBytes { Array($0) }
    }

    /// 256 random bits as base64url (43 characters).
    public static func string(byteCount: Int = 32) -> String {
        Base64URL.encode(bytes(byteCount))
    }
}
