/// `application/x-www-form-urlencoded` parameters, the encoding of both query strings and
/// token-endpoint bodies in OAuth 2.0.
///
/// Repeated names keep their first value: OAuth forbids repeats, and picking one
/// deterministically beats failing on a test client's quirk.
struct FormParameters: Sendable {
    private(set) var pairs: [(String, String)] = []

    init(pairs: [(String, String)] = []) { self.pairs = pairs }

    /// `nil` when a percent escape is malformed or decodes to invalid UTF-8, so callers can
    /// answer `invalid_request` instead of guessing.
    init?(encoded: some StringProtocol) {
        for piece in encoded.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = FormCoding.decode(parts[0]),
                let value = parts.count > 1 ? FormCoding.decode(parts[1]) : ""
            else { return nil }
            pairs.append((name, value))
        }
    }

    subscript(name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    /// A parameter that is present and non-empty; OAuth treats empty values as omitted.
    func value(_ name: String) -> String? {
        guard let value = self[name], !value.isEmpty else { return nil }
        return value
    }

    mutating func set(_ name: String, _ value: String) {
        pairs.removeAll { $0.0 == name }
        pairs.append((name, value))
    }

    var encoded: String {
        pairs.map { FormCoding.encode($0.0) + "=" + FormCoding.encode($0.1) }.joined(separator: "&")
    }
}

/// Percent encoding as RFC 3986 "unreserved" plus the form rule that `+` means a space.
enum FormCoding {
    static func encode(_ string: String) -> String {
        var out = ""
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += byte < 16 ? "%0" + hex : "%" + hex
            }
        }
        return out
    }

    static func decode(_ text: some StringProtocol, plusIsSpace: Bool = true) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if byte == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Appends parameters to a URL that may already carry a query, as OAuth redirects must
    /// (RFC 6749 §3.1.2: keep the registered URI's own query).
    static func appending(_ parameters: FormParameters, to url: String, separator: Character = "?") -> String {
        guard !parameters.pairs.isEmpty else { return url }
        if separator == "#" { return url + "#" + parameters.encoded }
        let joiner = url.contains("?") ? (url.hasSuffix("?") || url.hasSuffix("&") ? "" : "&") : "?"
        return url + joiner + parameters.encoded
    }
}
