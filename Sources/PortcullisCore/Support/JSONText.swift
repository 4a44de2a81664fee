/// Escaping for strings written into hand-built JSON (log lines, error bodies, the echo
/// upstream), where building a dictionary and serialising it would cost more than the line.
public enum JSONText {
    /// The contents of a JSON string literal for `text` (without the quotes). With
    /// `htmlSafe`, `<`, `>` and `&` are escaped too, so the JSON cannot break out of an HTML
    /// context if a browser ever renders it.
    public static func escaped(_ text: String, htmlSafe: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || scalar == "\u{2028}" || scalar == "\u{2029}"
                || (htmlSafe && (scalar == "<" || scalar == ">" || scalar == "&")):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` as a quoted JSON string literal.
    public static func quoted(_ text: String) -> String { "\"" + escaped(text) + "\"" }
}
