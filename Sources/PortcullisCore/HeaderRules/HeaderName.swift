/// Header-name helpers shared by config validation and the proxy's header rules.
public enum HeaderName {
    /// RFC 9110 `token`: what a field name may consist of.
    public static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Lowercased, with every byte that is not a letter or digit folded into `-`: the form
    /// under which two names reach an application as the same variable. CGI, PHP, WSGI and
    /// IIS turn `X-Forwarded-User`, `x_forwarded_user` and `X.Forwarded.User` alike into
    /// `HTTP_X_FORWARDED_USER`, so stripping must compare in this form.
    public static func normalized(_ name: String) -> String {
        String(decoding: name.utf8.map(fold), as: UTF8.self)
    }

    @inline(__always)
    static func fold(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte | 0x20
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return byte
        default: return UInt8(ascii: "-")
        }
    }
}

/// A set of header names compared in `HeaderName.normalized` form without allocating, for the
/// per-request strip check (a handful of names, looked up for every header of every request).
public struct HeaderNameSet: Sendable {
    /// Normalized names bucketed by length (the array index): most header names miss on
    /// length alone, and indexing an array is cheaper than hashing the length.
    private var buckets: [[[UInt8]]] = []

    public init<S: Sequence>(_ names: S) where S.Element == String {
        for name in names { insert(name) }
    }

    public mutating func insert(_ name: String) {
        let bytes = name.utf8.map(HeaderName.fold)
        if buckets.count <= bytes.count { buckets += Array(repeating: [], count: bytes.count + 1 - buckets.count) }
        if buckets[bytes.count].contains(bytes) { return }
        buckets[bytes.count].append(bytes)
    }

    /// Whether a name of `length` bytes could be in the set: a cheap first test.
    public func mayContain(length: Int) -> Bool {
        length < buckets.count && !buckets[length].isEmpty
    }

    public func contains(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { contains(bytes: $0) }
    }

    public func contains(bytes name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count < buckets.count else { return false }
        let candidates = buckets[name.count]
        outer: for candidate in candidates {
            for index in 0..<name.count where HeaderName.fold(name[index]) != candidate[index] {
                continue outer
            }
            return true
        }
        return false
    }
}
