import PortcullisCore

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
    static func encode(_ string: String) -> String { FormURLEncoding.encode(string) }

    static func decode(_ text: some StringProtocol, plusIsSpace: Bool = true) -> String? {
        FormURLEncoding.decode(text, plusIsSpace: plusIsSpace)
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
