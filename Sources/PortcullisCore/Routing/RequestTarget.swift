/// The request target (`/path?query`) of an incoming request, checked and canonicalized
/// before routing.
///
/// Routes are chosen by path prefix, and public and protected routes can sit side by side.
/// Upstreams disagree about which spellings name the same path: nginx and Apache decode
/// `%61` and merge `//`, Tomcat and Jetty drop `;parameters` and so resolve `..;`. So the
/// gateway either refuses a spelling (dot segments, encoded separators) or rewrites it once
/// into the canonical form it routes on and forwards: the gateway and the upstream must
/// never disagree about which path was asked for.
public struct RequestTarget: Sendable, Equatable {
    /// The canonical path: the one routing and access checks see and the upstream receives.
    public var path: Substring
    /// The query string without `?`, nil when the target has none. Passed on unchanged.
    public var query: Substring?
    /// The `host[:port]` of an absolute-form target (`http://host/path`), nil for the usual
    /// origin form (`/path`). See ``RequestHost`` for how it is checked against `Host`.
    public var authority: Substring?

    /// Splits, checks and canonicalizes `uri`; nil with a reason when it must be refused (400).
    ///
    /// The path is a slice of `uri` when it is already canonical (the common case); only a path
    /// that needs rewriting costs a new string.
    public static func parse(_ uri: String) -> Result<RequestTarget, Rejection> {
        var rest = Substring(uri)
        var authority: Substring?
        if rest.utf8.first != UInt8(ascii: "/") {
            switch splitAbsoluteForm(rest) {
            case .success(let split): (authority, rest) = split
            case .failure(let rejection): return .failure(rejection)
            }
        }
        var path: Substring, query: Substring?
        // Searched as bytes: `?` is ASCII, so its UTF-8 index is a valid split point.
        if let mark = rest.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = rest[..<mark]
            query = rest[rest.utf8.index(after: mark)...]
        } else {
            path = rest
            query = nil
        }
        if let query {
            for byte in query.utf8 {
                if byte == UInt8(ascii: "#") { return .failure(Rejection(reason: "fragment in request target")) }
                if byte < 0x21 || byte == 0x7f { return .failure(Rejection(reason: "control character or space in query")) }
            }
        }
        // `http://host` and `http://host?q` ask for the root.
        if authority != nil && path.isEmpty { path = "/" }
        switch canonical(path) {
        case .success(let canonicalPath): return .success(RequestTarget(path: canonicalPath, query: query, authority: authority))
        case .failure(let rejection): return .failure(rejection)
        }
    }

    /// Why `path` cannot be routed as it is written, or nil when it is a plain absolute path
    /// already in canonical form. A configured `pathPrefix` must pass this, so that it is
    /// spelt exactly as the canonical request paths it is compared with.
    public static func validate<S: StringProtocol>(_ path: S) -> String? {
        switch check(path) {
        case .canonical: nil
        case .rewrite: "not in canonical form (an encoded letter, digit or -._~, lowercase %-escape hex, or //)"
        case .refused(let reason): reason
        }
    }

    /// `path` in canonical form, a slice of `path` itself when it already is.
    static func canonical(_ path: Substring) -> Result<Substring, Rejection> {
        switch check(path) {
        case .canonical: return .success(path)
        case .refused(let reason): return .failure(Rejection(reason: reason))
        case .rewrite:
            let rewritten =
                path.utf8.withContiguousStorageIfAvailable(canonicalized(bytes:))
                ?? Array(path.utf8).withUnsafeBufferPointer(canonicalized(bytes:))
            return .success(Substring(rewritten))
        }
    }

    private enum PathCheck {
        case canonical
        case rewrite
        case refused(String)
    }

    private static func check<S: StringProtocol>(_ path: S) -> PathCheck {
        // Checked in place where the string's bytes are contiguous (the per-request case).
        if let result = path.utf8.withContiguousStorageIfAvailable(check(bytes:)) { return result }
        return Array(path.utf8).withUnsafeBufferPointer(check(bytes:))
    }

    /// One pass: refuses what no spelling makes safe, and says whether a rewrite is needed.
    private static func check(bytes: UnsafeBufferPointer<UInt8>) -> PathCheck {
        guard bytes.first == UInt8(ascii: "/") else { return .refused("the path must start with \"/\"") }
        var needsRewrite = false
        var segmentStart = 1
        // Where the current segment's `;parameters` begin, if it has any.
        var parametersStart: Int?
        var index = 1
        while index <= bytes.count {
            let atEnd = index == bytes.count
            let byte = atEnd ? UInt8(ascii: "/") : bytes[index]
            if byte == UInt8(ascii: "/") {
                let name = bytes[segmentStart..<(parametersStart ?? index)]
                if name.isEmpty {
                    // `//` is merged, as nginx does; `/;x/` would be too, by Tomcat, after it drops
                    // the parameters, so a prefix could match on one side only.
                    if parametersStart != nil && !atEnd { return .refused("path parameters on an empty segment") }
                    if parametersStart == nil && !atEnd { needsRewrite = true }
                } else if isDotSegment(name) {
                    return .refused("dot segment in path")
                }
                segmentStart = index + 1
                parametersStart = nil
                index += 1
                continue
            }
            if byte < 0x21 || byte == 0x7f { return .refused("control character or space in path") }
            if byte == UInt8(ascii: "\\") { return .refused("backslash in path") }
            if byte == UInt8(ascii: "#") { return .refused("fragment in request target") }
            if byte == UInt8(ascii: ";") && parametersStart == nil { parametersStart = index }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let decoded = hexByte(bytes[index + 1], bytes[index + 2]) else {
                    return .refused("malformed percent-encoding in path")
                }
                if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") {
                    return .refused("encoded path separator in path")
                }
                if decoded < 0x20 || decoded == 0x7f { return .refused("encoded control character in path") }
                // An encoded `;` ends the name too: a decoding hop in front of a servlet
                // container would turn `..%3B` into `..;`.
                if decoded == UInt8(ascii: ";") && parametersStart == nil { parametersStart = index }
                if isUnreserved(decoded) || isLowercaseHex(bytes[index + 1]) || isLowercaseHex(bytes[index + 2]) {
                    needsRewrite = true
                }
                index += 3
                continue
            }
            index += 1
        }
        return needsRewrite ? .rewrite : .canonical
    }

    /// The canonical spelling of a path that ``check(bytes:)`` accepted: escapes of unreserved
    /// characters decoded, other escapes in uppercase hex, runs of `/` merged. Never longer
    /// than its input.
    private static func canonicalized(bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: bytes.count) { output in
            var written = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "%"), let decoded = hexByte(bytes[index + 1], bytes[index + 2]) {
                    if isUnreserved(decoded) {
                        output[written] = decoded
                        written += 1
                    } else {
                        output[written] = byte
                        output[written + 1] = uppercaseHex(bytes[index + 1])
                        output[written + 2] = uppercaseHex(bytes[index + 2])
                        written += 3
                    }
                    index += 3
                    continue
                }
                if byte != UInt8(ascii: "/") || written == 0 || output[written - 1] != UInt8(ascii: "/") {
                    output[written] = byte
                    written += 1
                }
                index += 1
            }
            return written
        }
    }

    /// Splits `http[s]://authority[/path][?query]` into its authority and the rest. The
    /// origin server never needs the scheme; a userinfo part is refused, since `Host` has none
    /// and it only serves to mislead (`http://trusted@evil/`).
    private static func splitAbsoluteForm(_ uri: Substring) -> Result<(Substring, Substring), Rejection> {
        let bytes = uri.utf8
        var index = bytes.startIndex
        for expected in "http".utf8 {
            guard index != bytes.endIndex, bytes[index] | 0x20 == expected else {
                return .failure(Rejection(reason: "the path must start with \"/\""))
            }
            bytes.formIndex(after: &index)
        }
        if index != bytes.endIndex, bytes[index] | 0x20 == UInt8(ascii: "s") { bytes.formIndex(after: &index) }
        for expected in "://".utf8 {
            guard index != bytes.endIndex, bytes[index] == expected else {
                return .failure(Rejection(reason: "the path must start with \"/\""))
            }
            bytes.formIndex(after: &index)
        }
        let authorityStart = index
        while index != bytes.endIndex, bytes[index] != UInt8(ascii: "/"), bytes[index] != UInt8(ascii: "?"),
            bytes[index] != UInt8(ascii: "#")
        {
            if bytes[index] == UInt8(ascii: "@") { return .failure(Rejection(reason: "user information in request target")) }
            bytes.formIndex(after: &index)
        }
        if index != bytes.endIndex, bytes[index] == UInt8(ascii: "#") {
            return .failure(Rejection(reason: "fragment in request target"))
        }
        let authority = uri[authorityStart..<index]
        guard RequestHost.isValid(authority) else { return .failure(Rejection(reason: "invalid authority in request target")) }
        return .success((authority, uri[index...]))
    }

    /// `.` or `..`, in any mix of literal and `%2e` forms.
    static func isDotSegment<Bytes: Collection<UInt8>>(_ segment: Bytes) -> Bool where Bytes.Index == Int {
        var dots = 0
        var index = segment.startIndex
        while index < segment.endIndex {
            if segment[index] == UInt8(ascii: ".") {
                index += 1
            } else if segment[index] == UInt8(ascii: "%"), segment.endIndex - index >= 3,
                hexByte(segment[index + 1], segment[index + 2]) == UInt8(ascii: ".")
            {
                index += 3
            } else {
                return false
            }
            dots += 1
        }
        return dots == 1 || dots == 2
    }

    /// RFC 3986 unreserved: the characters whose escapes mean the same as the characters.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f") }

    private static func uppercaseHex(_ byte: UInt8) -> UInt8 { isLowercaseHex(byte) ? byte - 0x20 : byte }

    static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let h = hexValue(high), let l = hexValue(low) else { return nil }
        return h << 4 | l
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public struct Rejection: Error, Sendable, Equatable {
        public var reason: String
    }
}
