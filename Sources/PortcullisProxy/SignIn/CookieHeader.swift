import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and rewriting `Cookie` request headers, and writing `Set-Cookie`.
///
/// Scanning works on the header's UTF-8 bytes: it runs on every authenticated request (to
/// find the session cookie, then again to keep it from the upstream), and Character-level
/// `String` splitting cost about 1,000 instructions per header byte there (callgrind).
enum CookieHeader {
    /// Visits the `name=value` pairs of one `Cookie` header value, as byte ranges of
    /// `bytes`, until `body` returns false; returns false when `body` stopped it. Leading
    /// blanks of a pair and trailing blanks of its value are not part of them, a quoted value
    /// is given without its quotes, and a part without `=` is skipped. Values are not
    /// decoded (ours are base64url).
    @inline(__always)
    static func scanPairs(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Bool
    ) -> Bool {
        forEachPart(bytes) { nameStart, nameEnd, partEnd in
            guard nameEnd < partEnd else { return true }
            var valueStart = nameEnd + 1
            var valueEnd = partEnd
            while valueEnd > valueStart, isBlank(bytes[valueEnd - 1]) { valueEnd -= 1 }
            if valueEnd - valueStart >= 2, bytes[valueStart] == UInt8(ascii: "\""), bytes[valueEnd - 1] == UInt8(ascii: "\"") {
                valueStart += 1
                valueEnd -= 1
            }
            return body(nameStart..<nameEnd, valueStart..<valueEnd)
        }
    }

    /// Visits each `;`-separated part until `body` returns false (then returns false): where
    /// its name starts (after blanks), where the name ends (at its `=`, or at the part's end
    /// when it has none), and where the part ends.
    @inline(__always)
    static func forEachPart(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (_ nameStart: Int, _ nameEnd: Int, _ partEnd: Int) -> Bool
    ) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var start = 0
        while start < bytes.count {
            // memchr: a session cookie is a few hundred bytes, scanned on every request.
            let partEnd = memchr(base + start, Int32(UInt8(ascii: ";")), bytes.count - start).map {
                base.distance(to: $0.assumingMemoryBound(to: UInt8.self))
            } ?? bytes.count
            var nameStart = start
            while nameStart < partEnd, isBlank(bytes[nameStart]) { nameStart += 1 }
            var nameEnd = nameStart
            while nameEnd < partEnd, bytes[nameEnd] != UInt8(ascii: "=") { nameEnd += 1 }
            guard body(nameStart, nameEnd, partEnd) else { return false }
            start = partEnd + 1
        }
        return true
    }

    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The `name=value` pairs of `Cookie` header values, in order (see ``scanPairs(_:_:)``).
    static func pairs<S: Sequence>(_ values: S) -> [(name: Substring, value: Substring)] where S.Element == String {
        var result: [(Substring, Substring)] = []
        forEachPair(values) { name, value in
            result.append((name, value))
            return true
        }
        return result
    }

    /// Visits the `name=value` pairs in order until `body` returns false.
    static func forEachPair<S: Sequence>(_ values: S, _ body: (Substring, Substring) -> Bool) where S.Element == String {
        scanPairs(in: values) { header, _, name, value in body(substring(header, name), substring(header, value)) }
    }

    /// ``scanPairs(_:_:)`` over several header values in order, until `body` returns false;
    /// `body` gets each header with its bytes and the pair's ranges in them.
    @inline(__always)
    static func scanPairs(
        in values: some Sequence<String>,
        _ body: (_ header: String, _ bytes: UnsafeBufferPointer<UInt8>, _ name: Range<Int>, _ value: Range<Int>) -> Bool
    ) {
        for header in values {
            var contiguous = header
            let more = contiguous.withUTF8 { bytes in scanPairs(bytes) { body(header, bytes, $0, $1) } }
            if !more { return }
        }
    }

    /// A byte range of `text` as a substring. The scanner only cuts at ASCII bytes, so every
    /// bound is a character boundary.
    private static func substring(_ text: String, _ range: Range<Int>) -> Substring {
        let utf8 = text.utf8
        let lower = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let upper = utf8.index(lower, offsetBy: range.count)
        return Substring(utf8[lower..<upper])
    }

    /// The values of a head's `Cookie` fields, in order, without building an array of them.
    struct Fields: Sequence {
        let headers: HTTPHeaders

        struct Iterator: IteratorProtocol {
            var base: IndexingIterator<HTTPHeaders>
            mutating func next() -> String? {
                while let field = base.next() {
                    if fieldName(field.name, is: "cookie") { return field.value }
                }
                return nil
            }
        }

        func makeIterator() -> Iterator { Iterator(base: headers.makeIterator()) }
    }

    /// Whether `bytes[range]` is exactly `expected`.
    @inline(__always)
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ expected: [UInt8]) -> Bool {
        range.count == expected.count && hasPrefix(bytes, range, expected)
    }

    @inline(__always)
    static func hasPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ prefix: [UInt8]) -> Bool {
        guard range.count >= prefix.count else { return false }
        return prefix.withUnsafeBufferPointer { expected in
            var index = 0
            while index < expected.count {
                guard bytes[range.lowerBound + index] == expected[index] else { return false }
                index += 1
            }
            return true
        }
    }

    /// A `Cookie` header value without the gateway's own cookies, or nil when nothing is
    /// left: the upstream application must never see (or log) session handles. The value
    /// itself, unchanged and uncopied, when it holds none of ours.
    static func removing(_ settings: CookieSettings, from value: String) -> String? {
        var contiguous = value
        return contiguous.withUTF8 { bytes -> String? in
            // Most requests carry only the session cookie, or none of ours: decide first.
            var ours = 0
            var others = 0
            _ = forEachPart(bytes) { nameStart, nameEnd, partEnd in
                if settings.isOurs(bytes, nameStart..<nameEnd) {
                    ours += 1
                } else if nameStart < partEnd {
                    others += 1
                }
                return true
            }
            if ours == 0 { return value }
            if others == 0 { return nil }
            var kept: [UInt8] = []
            kept.reserveCapacity(bytes.count)
            _ = forEachPart(bytes) { nameStart, nameEnd, partEnd in
                if nameStart < partEnd, !settings.isOurs(bytes, nameStart..<nameEnd) {
                    if !kept.isEmpty { kept.append(contentsOf: "; ".utf8) }
                    kept.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[nameStart..<partEnd]))
                }
                return true
            }
            return String(decoding: kept, as: UTF8.self)
        }
    }
}

/// How the gateway's cookies are named and flagged.
final class CookieSettings: Sendable {
    let sessionName: String
    /// Pending-login cookies are this prefix plus the start of their `state`.
    let pendingPrefix: String
    let secure: Bool
    /// `SameSite` for pending-login cookies: `None` when the provider answers with a
    /// cross-site form POST (which would not carry `Lax` cookies).
    let pendingSameSite: String
    /// Nil: a browser-session cookie (no Max-Age).
    let sessionMaxAge: Int?
    /// `Domain` of the session cookie, to share it across hosts; nil: host-only.
    let sessionDomain: String?

    init(sessionCookieName: String, secure: Bool, formPost: Bool, sessionMaxAge: Int?, sessionDomain: String? = nil) {
        // `__Host-` binds the cookie to this exact origin: no subdomain can set or shadow it.
        // A cookie shared across hosts cannot have it; `__Secure-` still demands `Secure`.
        let prefix = secure ? "__Host-" : ""
        sessionName = (secure ? (sessionDomain == nil ? "__Host-" : "__Secure-") : "") + sessionCookieName
        pendingPrefix = prefix + sessionCookieName + "_login_"
        self.secure = secure
        pendingSameSite = formPost && secure ? "None" : "Lax"
        self.sessionMaxAge = sessionMaxAge
        self.sessionDomain = sessionDomain
        csrfName = prefix + Self.csrfCookie
        sessionNameBytes = Array(sessionName.utf8)
        pendingPrefixBytes = Array(pendingPrefix.utf8)
        csrfNameBytes = Array(csrfName.utf8)
    }

    /// The local sign-in form's CSRF cookie (double submit), `__Host-` when secure.
    static let csrfCookie = "portcullis_csrf"
    let csrfName: String

    /// The names as bytes, for the per-request scans.
    let sessionNameBytes: [UInt8]
    let pendingPrefixBytes: [UInt8]
    let csrfNameBytes: [UInt8]

    /// Whether the cookie named `bytes[name]` is one of the gateway's: the session, a pending
    /// login, or the sign-in form's CSRF cookie.
    func isOurs(_ bytes: UnsafeBufferPointer<UInt8>, _ name: Range<Int>) -> Bool {
        CookieHeader.equals(bytes, name, sessionNameBytes) || CookieHeader.hasPrefix(bytes, name, pendingPrefixBytes)
            || CookieHeader.equals(bytes, name, csrfNameBytes)
    }

    func setCookie(_ name: String, value: String, maxAge: Int?, sameSite: String = "Lax") -> String {
        var text = "\(name)=\(value); Path=/"
        if let maxAge { text += "; Max-Age=\(maxAge)" }
        if name == sessionName, let sessionDomain { text += "; Domain=\(sessionDomain)" }
        text += "; HttpOnly; SameSite=\(sameSite)"
        if secure { text += "; Secure" }
        return text
    }

    func deleteCookie(_ name: some StringProtocol) -> String {
        setCookie(String(name), value: "", maxAge: 0)
    }
}
