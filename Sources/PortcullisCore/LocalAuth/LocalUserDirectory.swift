import Foundation

/// The break-glass accounts of the users file (`localUsers.file`), validated as a whole:
/// every user well-formed, and no name that could mean two users.
///
/// The file is JSON, `{ "users": [ … ] }`, one object per ``LocalUser``. It is read when the
/// config is loaded (a broken file is a config error, so a reload keeps the previous users
/// instead of locking everyone out) and written by the CLI through ``encoded()``.
public struct LocalUserDirectory: Sendable, Equatable {
    /// In file order.
    public let users: [LocalUser]

    /// A directory without users.
    public static let empty = LocalUserDirectory(checked: [])

    private init(checked users: [LocalUser]) {
        self.users = users
    }

    /// A directory of `users`, with the same checks as a file.
    public init(validating users: [LocalUser]) throws(ConfigError) {
        self = try Self.parse(Self.encode(users)).get()
    }

    /// The user whose username or email is `input`, compared canonically (see
    /// ``AccountName``). Usernames are looked at first, though the file's checks already
    /// ensure no name belongs to two users.
    public func user(matching input: String) -> LocalUser? {
        let name = AccountName.canonical(input)
        guard !name.isEmpty else { return nil }
        return users.first { $0.canonicalUsername == name } ?? users.first { $0.canonicalEmail == name }
    }

    // MARK: Reading

    /// Parses a users file. Problems are reported all at once, each with its path in the
    /// file (`users[1].passwordHash: not a bcrypt hash`).
    public static func parse(_ data: Data) -> Result<LocalUserDirectory, ConfigError> {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch {
            return .failure(ConfigError(issues: [ConfigIssue(path: "", reason: "not valid JSON: \(JSONSyntaxError.describe(error))")]))
        }
        guard case .object(let object) = document else {
            return .failure(ConfigError(issues: [
                ConfigIssue(path: "", reason: "the users file must be a JSON object with a \"users\" array, found \(document.kindName)")
            ]))
        }
        let issues = ConfigIssueCollector()
        let reader = ConfigObjectReader(
            path: "", values: object, issues: issues, baseDirectory: URL(fileURLWithPath: "/"), environment: { _ in nil })
        reader.rejectUnknownKeys(known: ["users"])
        var entries: [(index: Int, user: LocalUser)] = []
        switch object["users"] {
        case nil, .null?:
            reader.fail("users", "required: an array of users (it may be empty)")
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                let path = "users[\(index)]"
                guard case .object(let fields) = item else {
                    issues.add(path, "expected an object, found \(item.kindName)")
                    continue
                }
                entries.append((index, LocalUser.read(reader.child(path: path, values: fields))))
            }
        case let other?:
            reader.fail("users", "expected an array, found \(other.kindName)")
        }
        checkNamesAreUnique(entries, issues)
        guard issues.issues.isEmpty else { return .failure(ConfigError(issues: issues.issues)) }
        return .success(LocalUserDirectory(checked: entries.map(\.user)))
    }

    /// Usernames and emails share one namespace, compared canonically: a name typed at
    /// sign-in, or listed in `sso.excludedUsers`, must mean exactly one user.
    private static func checkNamesAreUnique(_ entries: [(index: Int, user: LocalUser)], _ issues: ConfigIssueCollector) {
        var owners: [String: (index: Int, isEmail: Bool)] = [:]
        // Names already refused as malformed are left out, so one mistake is one message.
        for (index, user) in entries {
            let username = user.canonicalUsername
            if !username.isEmpty && LocalUser.isAccountName(user.username) {
                if let owner = owners[username] {
                    let what = owner.isEmail ? "the email" : "already the username"
                    issues.add("users[\(index)].username", "\"\(TextCheck.quotable(user.username))\" is \(what) of users[\(owner.index)]")
                } else {
                    owners[username] = (index, false)
                }
            }
            if let email = user.canonicalEmail, let written = user.email, email != username, LocalUser.isEmailAddress(written) {
                if let owner = owners[email] {
                    let what = owner.isEmail ? "already the email" : "the username"
                    issues.add("users[\(index)].email", "\"\(TextCheck.quotable(written))\" is \(what) of users[\(owner.index)]")
                } else {
                    owners[email] = (index, true)
                }
            }
        }
    }

    // MARK: Writing

    /// The file's text: pretty-printed with sorted keys and a trailing newline, so edits by
    /// the CLI make small diffs. ``parse(_:)`` reads it back to an equal directory.
    public func encoded() -> Data {
        Self.encode(users)
    }

    private struct File: Codable {
        var users: [LocalUser]
    }

    private static func encode(_ users: [LocalUser]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, booleans and arrays of them cannot fail.
        var data = (try? encoder.encode(File(users: users))) ?? Data("{\"users\":[]}".utf8)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    // MARK: Changes (for the CLI)

    /// This directory with `user` appended; throws when it is invalid or one of its names
    /// is taken.
    public func adding(_ user: LocalUser) throws(ConfigError) -> LocalUserDirectory {
        try LocalUserDirectory(validating: users + [user])
    }

    /// This directory without the user whose username is `username` (compared canonically);
    /// unchanged when there is none.
    public func removing(username: String) -> LocalUserDirectory {
        let name = AccountName.canonical(username)
        return LocalUserDirectory(checked: users.filter { $0.canonicalUsername != name })
    }

    /// This directory with the user of the same username (compared canonically) replaced by
    /// `user`, in place; throws when there is no such user or the result is invalid.
    public func replacing(_ user: LocalUser) throws(ConfigError) -> LocalUserDirectory {
        guard let index = users.firstIndex(where: { $0.canonicalUsername == user.canonicalUsername }) else {
            throw ConfigError(issues: [ConfigIssue(path: "", reason: "\"\(TextCheck.quotable(user.username))\" is not a local user")])
        }
        var next = users
        next[index] = user
        return try LocalUserDirectory(validating: next)
    }
}
