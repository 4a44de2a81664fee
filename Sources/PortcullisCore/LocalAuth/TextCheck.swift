/// Checks on free text from files people edit: the users file and the `sso` section,
/// whose values end up in headers, audit lines and sign-in pages.
enum TextCheck {
    /// Whether `text` holds C0 or C1 controls or DEL: they split header values and log lines.
    static func hasControlCharacters(_ text: String, allowingNewlines: Bool = false) -> Bool {
        text.unicodeScalars.contains { scalar in
            scalar.properties.generalCategory == .control && !(allowingNewlines && scalar == "\n")
        }
    }

    /// `text` safe to quote in an error message: control characters shown as `\u{…}`, so a
    /// bad value cannot forge further lines in the log that reports it.
    static func quotable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control || scalar == "\"" {
                out += scalar == "\"" ? "\\\"" : "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
