import Foundation

/// `sso.branding`: what the gateway's own pages (sign-in, password form, errors) show, so
/// people recognise them as their organisation's and know whom to ask.
///
/// Every value is plain text (or a URL) that the pages escape; none is HTML.
public struct BrandingConfig: ConfigSection, Sendable, Equatable {
    public var productName: String
    /// An `https://` URL or a path on the gateway's origin (`/static/logo.svg`).
    public var logoURL: String?
    /// A paragraph under the sign-in form; newlines allowed.
    public var helpText: String?
    /// Whom to contact when sign-in fails: an address, a phone number, a URL, shown as text.
    public var supportContact: String?

    public static let defaultProductName = "Portcullis"

    public static var fields: [ConfigField] {
        [.value("productName"), .value("logoURL"), .value("helpText"), .value("supportContact")]
    }

    public init(productName: String = defaultProductName, logoURL: String? = nil, helpText: String? = nil, supportContact: String? = nil) {
        self.productName = productName
        self.logoURL = logoURL
        self.helpText = helpText
        self.supportContact = supportContact
    }

    public init(reading reader: ConfigObjectReader) {
        productName = reader.string("productName", default: Self.defaultProductName)
        if productName.isEmpty || productName.count > 100 || TextCheck.hasControlCharacters(productName) {
            reader.fail("productName", "must be 1 to 100 characters, without control characters")
            productName = Self.defaultProductName
        }
        logoURL = reader.string("logoURL")
        if let url = logoURL, !Self.isLogoURL(url) {
            reader.fail("logoURL", "\"\(TextCheck.quotable(url))\" must be an https URL or a path starting with / (no spaces or quotes)")
            logoURL = nil
        }
        helpText = reader.string("helpText")
        if let text = helpText, text.isEmpty || text.count > 2000 || TextCheck.hasControlCharacters(text, allowingNewlines: true) {
            reader.fail("helpText", "must be 1 to 2000 characters, without control characters other than newlines")
            helpText = nil
        }
        supportContact = reader.string("supportContact")
        if let text = supportContact, text.isEmpty || text.count > 200 || TextCheck.hasControlCharacters(text) {
            reader.fail("supportContact", "must be 1 to 200 characters, without control characters")
            supportContact = nil
        }
    }

    /// An https URL with a host, or an absolute path (not `//`, which browsers read as
    /// another host); no whitespace, controls, quotes, angle brackets or backslashes.
    static func isLogoURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048,
            !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control || "\"'<>\\`".unicodeScalars.contains($0) })
        else { return false }
        if text.hasPrefix("/") { return !text.hasPrefix("//") }
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "https",
            let host = components.host, !host.isEmpty, components.user == nil, components.password == nil
        else { return false }
        return true
    }
}
