import Foundation

/// `localUsers`: break-glass accounts that sign in with a password, kept in their own file
/// so that the config can be committed and shown while the password hashes stay private.
///
/// The users file is read and validated with the config: a broken file fails the load (and
/// a reload keeps the running users), and the file is among those a reload watches, so
/// `portcullis users …` edits take effect like config edits.
public struct LocalUsersConfig: ConfigSection, Sendable, Equatable {
    /// The users file as written in the config.
    public var file: String
    /// The users file's absolute path (relative paths are resolved from the config's folder).
    public var resolvedPath: String
    /// The users read from ``file``.
    public var directory: LocalUserDirectory
    public var lockout: LockoutConfig

    public static var fields: [ConfigField] { [.value("file"), .object("lockout", LockoutConfig.self)] }

    public init(file: String, resolvedPath: String? = nil, directory: LocalUserDirectory, lockout: LockoutConfig = LockoutConfig()) {
        self.file = file
        self.resolvedPath = resolvedPath ?? file
        self.directory = directory
        self.lockout = lockout
    }

    public init(reading reader: ConfigObjectReader) {
        file = reader.string("file") ?? ""
        resolvedPath = ""
        directory = .empty
        if !reader.has("file") {
            reader.fail("file", "required: the users file (JSON, { \"users\": [ … ] })")
        } else if file.isEmpty {
            reader.fail("file", "must not be empty")
        } else {
            let url = reader.resolvedFile(file)
            resolvedPath = url.standardizedFileURL.path
            if let data = FileManager.default.contents(atPath: url.path) {
                switch LocalUserDirectory.parse(data) {
                case .success(let users): directory = users
                case .failure(let error):
                    for issue in error.issues { reader.fail("file", issue.description) }
                }
            } else {
                reader.fail("file", "cannot read \"\(file)\"")
            }
        }
        lockout = reader.section("lockout")
    }
}
