/// The request target (`/path?query`) of an incoming request, checked before routing.
///
/// Routes are chosen by path prefix, and public and protected routes can sit side by side.
/// An upstream that normalises `/public/../admin` or decodes `%2F` would serve a protected
/// path through a public route, so such targets are refused rather than normalised: the
/// gateway and the upstream must never disagree about which path was asked for.
public struct RequestTarget: Sendable, Equatable {
    public var path: Substring
    /// The query string without `?`, nil when the target has none.
    public var query: Substring?

    /// Splits and validates `uri`; nil with a reason when it must be refused (400).
    public static func parse(_ uri: String) -> Result<RequestTarget, Rejection> {
        let path: Substring, query: Substring?
        // Searched as bytes: `?` is ASCII, so its UTF-8 index is a valid split point.
        if let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = uri[..<mark]
            query = uri[uri.utf8.index(after: mark)...]
        } else {
            path = Substring(uri)
            query = nil
        }
        if let reason = validate(path) { return .failure(Rejection(reason: reason)) }
        if let query, query.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) {
            return .failure(Rejection(reason: "control character or space in query"))
        }
        return .success(RequestTarget(path: path, query: query))
    }

    /// Why `path` is unsafe to route, or nil when it is a plain absolute path.
    public static func validate<S: StringProtocol>(_ path: S) -> String? {
        // Checked in place where the string's bytes are contiguous (the per-request case).
        if let reason = path.utf8.withContiguousStorageIfAvailable(validate(bytes:)) { return reason }
        return Array(path.utf8).withUnsafeBufferPointer(validate(bytes:))
    }

    private static func validate(bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard bytes.first == UInt8(ascii: "/") else { return "the path must start with \"/\"" }
        var segmentStart = 1
        var index = 0
        while index <= bytes.count {
            let atEnd = index == bytes.count
            let byte = atEnd ? UInt8(ascii: "/") : bytes[index]
            if byte < 0x21 || byte == 0x7f { return "control character or space in path" }
            if byte == UInt8(ascii: "\\") { return "backslash in path" }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let decoded = hexByte(bytes[index + 1], bytes[index + 2]) else {
                    return "malformed percent-encoding in path"
                }
                if decoded == UInt8(ascii: "/") || decoded == UInt8(ascii: "\\") {
                    return "encoded path separator in path"
                }
                if decoded < 0x20 || decoded == 0x7f { return "encoded control character in path" }
            }
            if byte == UInt8(ascii: "/") && index > 0 {
                if isDotSegment(bytes[segmentStart..<index]) { return "dot segment in path" }
                segmentStart = index + 1
            }
            index += 1
        }
        return nil
    }

    /// `.` or `..`, in any mix of literal and `%2e` forms.
    static func isDotSegment<Bytes: Collection<UInt8>>(_ segment: Bytes) -> Bool where Bytes.Index == Int {
        var dots = 0
        var index = segment.startIndex
        while index < segment.endIndex {
            if segment[index] == UInt8(ascii: ".") {
                index += 1
            } else if segment[index] == UInt8(ascii: "%"), index + 2 < segment.endIndex + 0,
                segment.endIndex - index >= 3, hexByte(segment[index + 1], segment[index + 2]) == UInt8(ascii: ".")
            {
                index += 3
            } else {
                return false
            }
            dots += 1
        }
        return dots == 1 || dots == 2
    }

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
