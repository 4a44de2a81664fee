#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its bytes, for comparing client addresses with
/// `trustedProxies` blocks and for keying the login throttle.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
/// IPv4 peer) are read as the IPv4 address, so one client has one spelling whichever way
/// it arrived.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses a plain address: dotted-quad IPv4 or RFC 4291 IPv6 text, no brackets, port,
    /// prefix or zone.
    public static func parse(_ text: String) -> IPAddress? {
        // inet_pton reads a C string: anything else (a NUL, a space) must not be cut off
        // silently, so only the characters of an address are let through.
        guard !text.isEmpty, text.utf8.count <= 45,
            text.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") })
        else { return nil }
        let family = text.contains(":") ? AF_INET6 : AF_INET
        var buffer = [UInt8](repeating: 0, count: family == AF_INET6 ? 16 : 4)
        let parsed = buffer.withUnsafeMutableBytes { raw in
            text.withCString { inet_pton(Int32(family), $0, raw.baseAddress) }
        }
        guard parsed == 1 else { return nil }
        if family == AF_INET6 && buffer[0..<10].allSatisfy({ $0 == 0 }) && buffer[10] == 0xFF && buffer[11] == 0xFF {
            return IPAddress(bytes: Array(buffer[12...]))
        }
        return IPAddress(bytes: buffer)
    }

    /// Dotted-quad, or RFC 5952 compressed lowercase IPv6.
    public var description: String {
        let family = isIPv4 ? AF_INET : AF_INET6
        var text = [CChar](repeating: 0, count: 64)
        let written = bytes.withUnsafeBytes { raw in
            text.withUnsafeMutableBufferPointer { inet_ntop(Int32(family), raw.baseAddress, $0.baseAddress, socklen_t($0.count)) }
        }
        guard written != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }
}
