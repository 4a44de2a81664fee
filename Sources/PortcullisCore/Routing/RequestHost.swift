/// The host a request is for, from its `Host` fields and an absolute-form target.
///
/// Routes are chosen by host and the host is forwarded (`preserveHost`, `X-Forwarded-Host`),
/// so every hop must agree on one host, as on one path. Two `Host` fields, or a target
/// authority that differs from `Host`, let the gateway route on one host while an upstream
/// or cache acts on the other; RFC 9112 §3.2 requires refusing them with 400.
public enum RequestHost {
    /// The one host value to route on and forward, or a refusal (400).
    ///
    /// nil only for an HTTP/1.0 request with neither `Host` nor an absolute-form target,
    /// which routes to the routes for any host.
    public static func resolve(
        hostValues: some Collection<String>, absoluteAuthority: Substring?, httpMinorVersion: Int
    ) -> Result<String?, RequestTarget.Rejection> {
        resolve(host: hostValues.first, count: hostValues.count, absoluteAuthority: absoluteAuthority, httpMinorVersion: httpMinorVersion)
    }

    /// ``resolve(hostValues:absoluteAuthority:httpMinorVersion:)`` for a request whose head
    /// was scanned once already: its last `Host` value and how many there were. Not generic,
    /// so the per-request call is a plain one.
    public static func resolve(
        host: String?, count: Int, absoluteAuthority: Substring?, httpMinorVersion: Int
    ) -> Result<String?, RequestTarget.Rejection> {
        if let authority = absoluteAuthority, !isValid(authority) {
            return .failure(RequestTarget.Rejection(reason: "invalid authority in request target"))
        }
        guard let host else {
            // RFC 9112 §3.2: a server must refuse an HTTP/1.1 request without Host.
            if httpMinorVersion >= 1 { return .failure(RequestTarget.Rejection(reason: "missing Host header")) }
            return .success(absoluteAuthority.map(String.init))
        }
        guard count == 1 else { return .failure(RequestTarget.Rejection(reason: "more than one Host header")) }
        guard isValid(host) else { return .failure(RequestTarget.Rejection(reason: "invalid Host header")) }
        if let authority = absoluteAuthority, !equalIgnoringASCIICase(authority.utf8, host.utf8) {
            return .failure(RequestTarget.Rejection(reason: "request target authority differs from Host header"))
        }
        return .success(host)
    }

    /// Whether `value` is `uri-host [":" port]`: a reg-name of letters, digits and `-._~` (an
    /// IPv4 address is one), or a bracketed IPv6 address; the port 1 to 5 digits. Everything
    /// else (spaces, `/`, `@`, `\`, commas, percent-escapes, an empty host or port) is refused.
    public static func isValid<S: StringProtocol>(_ value: S) -> Bool {
        if let valid = value.utf8.withContiguousStorageIfAvailable(isValid(bytes:)) { return valid }
        return Array(value.utf8).withUnsafeBufferPointer(isValid(bytes:))
    }

    private static func isValid(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), isIPv6(bytes[1..<close]) else { return false }
            index = close + 1
        } else {
            while index < bytes.count, RequestTarget.isUnreserved(bytes[index]) { index += 1 }
            guard index > 0 else { return false }
        }
        if index == bytes.count { return true }
        guard bytes[index] == UInt8(ascii: ":") else { return false }
        let port = bytes[(index + 1)...]
        return (1...5).contains(port.count) && port.allSatisfy(isDigit)
    }

    /// An IPv6 address as RFC 3986 writes it: up to eight groups of 1-4 hex digits, one `::`
    /// at most, optionally ending in a dotted IPv4 address. No zone identifier.
    static func isIPv6(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var index = bytes.startIndex
        let end = bytes.endIndex
        var groups = 0
        var compressed = false
        if end - index >= 2, bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: ":") {
            compressed = true
            index += 2
        }
        while index < end {
            let groupStart = index
            while index < end, RequestTarget.hexValue(bytes[index]) != nil { index += 1 }
            if index < end, bytes[index] == UInt8(ascii: ".") {
                // The last 32 bits as IPv4: two groups' worth, and nothing may follow.
                guard isIPv4(bytes[groupStart..<end]) else { return false }
                groups += 2
                break
            }
            guard (1...4).contains(index - groupStart) else { return false }
            groups += 1
            if index == end { break }
            guard bytes[index] == UInt8(ascii: ":"), index + 1 < end else { return false }
            index += 1
            if bytes[index] == UInt8(ascii: ":") {
                guard !compressed else { return false }
                compressed = true
                index += 1
            }
        }
        return compressed ? groups <= 7 : groups == 8
    }

    /// Four dotted decimal octets, each 0 to 255.
    static func isIPv4(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var octets = 0
        var index = bytes.startIndex
        while true {
            var value = 0
            let start = index
            while index < bytes.endIndex, isDigit(bytes[index]), index - start < 3 {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard index > start, value <= 255 else { return false }
            octets += 1
            if index == bytes.endIndex { return octets == 4 }
            guard octets < 4, bytes[index] == UInt8(ascii: ".") else { return false }
            index += 1
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Host names are case-insensitive; nothing else in a valid host value has a case.
    static func equalIgnoringASCIICase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        a.elementsEqual(b) { RouteTable.lowercasedASCII($0) == RouteTable.lowercasedASCII($1) }
    }
}
