import Foundation

/// `session`: the session cookie and how long a sign-in lasts.
public struct SessionConfig: ConfigSection, Sendable {
    /// Cookie name; with an https public URL the gateway adds the `__Host-` prefix, which
    /// browsers only accept with `Secure`, `Path=/` and no `Domain` (no subdomain can then
    /// plant or overwrite it).
    public var cookieName: String
    /// A file of sealing keys, one base64 256-bit key per line; the first seals, all open.
    /// Nil: a random key per start (sessions end at restart).
    public var keysFile: String?
    /// Sealing keys read from ``keysFile`` (raw 32-byte keys).
    public var keys: [[UInt8]]
    /// Longest a session lives after sign-in, however active.
    public var absoluteTimeout: Double
    /// A session unused this long ends.
    public var idleTimeout: Double
    /// Most sessions kept in memory; the least recently used go first beyond it.
    public var maxSessions: Int

    public static var fields: [ConfigField] {
        [.value("cookieName"), .value("keysFile"), .value("absoluteTimeout"), .value("idleTimeout"), .value("maxSessions")]
    }

    public init(reading reader: ConfigObjectReader) {
        cookieName = reader.string("cookieName", default: "portcullis_session")
        if !Self.isCookieName(cookieName) {
            reader.fail("cookieName", "\"\(cookieName)\" is not a valid cookie name (letters, digits, - and _)")
        } else if cookieName.hasPrefix("__") {
            reader.fail("cookieName", "leave out the __Host-/__Secure- prefix; the gateway adds it for https")
        }
        keysFile = reader.string("keysFile")
        keys = []
        if let keysFile {
            let url = keysFile.hasPrefix("/") ? URL(fileURLWithPath: keysFile) : reader.baseDirectory.appendingPathComponent(keysFile)
            if let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) {
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                    guard let key = Data(base64Encoded: trimmed), key.count == 32 else {
                        reader.fail("keysFile", "line \(number + 1) of \"\(keysFile)\" is not a base64 256-bit key")
                        continue
                    }
                    keys.append(Array(key))
                }
                if keys.isEmpty { reader.fail("keysFile", "\"\(keysFile)\" holds no keys") }
            } else {
                reader.fail("keysFile", "cannot read \"\(keysFile)\"")
            }
        }
        absoluteTimeout = reader.seconds("absoluteTimeout", default: 24 * 3600, in: 60...(90 * 24 * 3600))
        idleTimeout = reader.seconds("idleTimeout", default: 8 * 3600, in: 60...(90 * 24 * 3600))
        maxSessions = reader.int("maxSessions", default: 100_000, in: 100...10_000_000)
    }

    static func isCookieName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }
}
