import Crypto
import Foundation

/// A short fingerprint of a file's bytes (SHA-256, hex), so audit lines can say which
/// config is running without quoting it.
public enum ContentDigest {
    public static func sha256Hex(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
