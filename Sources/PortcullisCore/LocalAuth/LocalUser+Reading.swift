/// Reading one entry of the users file with the config reader, so its problems carry paths
/// (`users[1].passwordHash: not a bcrypt hash`) and unknown keys are refused like anywhere
/// else in the config: a misspelt `"disabeld": true` must not leave an account enabled.
extension LocalUser {
    static let fieldNames = CodingKeys.allCases.map(\.rawValue)

    /// Smallest decoded TOTP secret accepted (RFC 4226 asks for 128 bits; 160 recommended).
    public static let minimumTOTPSecretBytes = 16

    /// The entry `reader` points at, its problems recorded on the reader.
    static func read(_ reader: ConfigObjectReader) -> LocalUser {
        reader.rejectUnknownKeys(known: fieldNames)
        let username = reader.string("username") ?? ""
        if !reader.has("username") {
            reader.fail("username", "required")
        } else if case .string = reader.values["username"], username.isEmpty || !isAccountName(username) {
            reader.fail("username", "\"\(TextCheck.quotable(username))\" must be non-empty, without spaces or control characters")
        }
        let passwordHash = reader.string("passwordHash") ?? ""
        if !reader.has("passwordHash") {
            reader.fail("passwordHash", "required: a bcrypt hash of the password")
        } else if let problem = BcryptHash.problem(with: passwordHash) {
            reader.fail("passwordHash", problem)
        }
        let email = reader.string("email")
        if let email, !isEmailAddress(email) {
            reader.fail("email", "\"\(TextCheck.quotable(email))\" is not an email address")
        }
        let name = reader.string("name")
        if let name, name.isEmpty || TextCheck.hasControlCharacters(name) {
            reader.fail("name", "must be non-empty, without control characters")
        }
        let roles = labels(reader, "roles")
        let groups = labels(reader, "groups")
        let totpSecret = reader.string("totpSecret")
        if let totpSecret {
            // The secret is never quoted in a message: config errors are logged.
            if let bytes = Base32.decode(totpSecret) {
                if bytes.count < minimumTOTPSecretBytes {
                    reader.fail("totpSecret", "decodes to \(bytes.count) bytes; at least \(minimumTOTPSecretBytes) are required (20 recommended)")
                }
            } else {
                reader.fail("totpSecret", "is not base32 (letters A–Z and digits 2–7)")
            }
        }
        let disabled = reader.bool("disabled", default: false)
        return LocalUser(
            username: username, passwordHash: passwordHash, email: email, name: name,
            roles: roles, groups: groups, totpSecret: totpSecret, disabled: disabled)
    }

    /// Roles and groups: non-empty strings without control characters (they become header
    /// values upstream).
    private static func labels(_ reader: ConfigObjectReader, _ key: String) -> [String] {
        var result: [String] = []
        for (index, value) in reader.stringArrayWithIndices(key) {
            if value.isEmpty || TextCheck.hasControlCharacters(value) {
                reader.fail("\(key)[\(index)]", "must be non-empty, without control characters")
            } else {
                result.append(value)
            }
        }
        return result
    }

    /// A name someone can type and an upstream can take as an account: no whitespace,
    /// control or invisible formatting characters (which would make two names look alike).
    static func isAccountName(_ text: String) -> Bool {
        !text.unicodeScalars.contains { scalar in
            scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .format
        }
    }

    /// `local@domain`, both parts non-empty, no whitespace or control characters. Loose on
    /// purpose: the address is an alternative sign-in name, never mailed to.
    static func isEmailAddress(_ text: String) -> Bool {
        guard isAccountName(text), let at = text.lastIndex(of: "@") else { return false }
        return at != text.startIndex && text.index(after: at) != text.endIndex
    }
}
