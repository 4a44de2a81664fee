import ArgumentParser
import Foundation
import HummingbirdBcrypt
import PortcullisAuth
import PortcullisCore

/// `portcullis users …`: the local (break-glass) users file. Every write is validated as the
/// gateway would load it, then replaces the file atomically with mode 0600; a running
/// gateway picks it up by its file watch.
struct LocalUsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage the local (break-glass) users file.",
        subcommands: [Add.self, Remove.self, List.self, Passwd.self, Disable.self, Enable.self, TOTPCommand.self])

    struct FileOption: ParsableArguments {
        @Option(name: .long, help: "The users file (localUsers.file).") var file: String
    }

    static func load(_ path: String, creating: Bool = false) throws -> LocalUserDirectory {
        guard let data = FileManager.default.contents(atPath: path) else {
            if creating { return .empty }
            throw CLIError("cannot read \(path)")
        }
        switch LocalUserDirectory.parse(data) {
        case .success(let directory): return directory
        case .failure(let error): throw CLIError("\(path): invalid users file\n  " + error.issues.map(\.description).joined(separator: "\n  "))
        }
    }

    /// Validates `directory` as the gateway will load it, then writes it atomically.
    static func save(_ directory: LocalUserDirectory, to path: String) throws {
        let data = directory.encoded()
        if case .failure(let error) = LocalUserDirectory.parse(data) {
            throw CLIError("refusing to write a users file the gateway could not load:\n  " + error.issues.map(\.description).joined(separator: "\n  "))
        }
        try AtomicFile.write(data, to: path)
    }

    static func user(_ name: String, in directory: LocalUserDirectory) throws -> LocalUser {
        guard let user = directory.user(matching: name) else { throw CLIError("no local user \"\(name)\"") }
        return user
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user (the password is asked for, or read from standard input).")
        @OptionGroup var options: FileOption
        @Argument(help: "The host-system username.") var username: String
        @Option(help: "Email address.") var email: String?
        @Option(help: "Display name.") var name: String?
        @Option(help: "App roles (repeatable).") var role: [String] = []
        @Option(help: "Group ids (repeatable).") var group: [String] = []

        func run() throws {
            let directory = try LocalUsersCommand.load(options.file, creating: true)
            let password = try PasswordInput.read(confirm: true)
            let user = LocalUser(
                username: username, passwordHash: Bcrypt.hash(password, cost: 12), email: email, name: name, roles: role, groups: group,
                totpSecret: nil, disabled: false)
            try LocalUsersCommand.save(try directory.adding(user), to: options.file)
            print("\(options.file): added \(username)")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user.")
        @OptionGroup var options: FileOption
        @Argument var username: String

        func run() throws {
            let directory = try LocalUsersCommand.load(options.file)
            let user = try LocalUsersCommand.user(username, in: directory)
            try LocalUsersCommand.save(directory.removing(username: user.username), to: options.file)
            print("\(options.file): removed \(user.username)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users (never their hashes or secrets).")
        @OptionGroup var options: FileOption

        func run() throws {
            for user in try LocalUsersCommand.load(options.file).users {
                var flags: [String] = []
                if user.disabled { flags.append("disabled") }
                if user.totpSecret != nil { flags.append("totp") }
                print(
                    "\(user.username)\t\(user.email ?? "-")\troles: \(user.roles.isEmpty ? "-" : user.roles.joined(separator: ","))\t\(flags.joined(separator: " "))")
            }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password.")
        @OptionGroup var options: FileOption
        @Argument var username: String

        func run() throws {
            let directory = try LocalUsersCommand.load(options.file)
            var user = try LocalUsersCommand.user(username, in: directory)
            user.passwordHash = Bcrypt.hash(try PasswordInput.read(confirm: true), cost: 12)
            try LocalUsersCommand.save(try directory.replacing(user), to: options.file)
            print("\(options.file): password of \(user.username) changed")
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user (sign-in refused, sessions end at their next check).")
        @OptionGroup var options: FileOption
        @Argument var username: String

        func run() throws { try setDisabled(true, username, options.file) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user.")
        @OptionGroup var options: FileOption
        @Argument var username: String

        func run() throws { try setDisabled(false, username, options.file) }
    }

    struct TOTPCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "totp", abstract: "Give a user a new TOTP secret; prints the otpauth:// URI and the secret once.")
        @OptionGroup var options: FileOption
        @Argument var username: String
        @Option(help: "Issuer shown in the authenticator app.") var issuer = "Portcullis"

        func run() throws {
            let directory = try LocalUsersCommand.load(options.file)
            var user = try LocalUsersCommand.user(username, in: directory)
            let secret = TOTP.newSecret()
            user.totpSecret = Base32.encode(secret)
            try LocalUsersCommand.save(try directory.replacing(user), to: options.file)
            print(TOTP.otpauthURI(secret: secret, account: user.username, issuer: issuer))
            print("secret: \(Base32.encode(secret))")
        }
    }
}

private func setDisabled(_ disabled: Bool, _ username: String, _ file: String) throws {
    let directory = try LocalUsersCommand.load(file)
    var user = try LocalUsersCommand.user(username, in: directory)
    user.disabled = disabled
    try LocalUsersCommand.save(try directory.replacing(user), to: file)
    print("\(file): \(user.username) \(disabled ? "disabled" : "enabled")")
}

/// `portcullis hash-password`: a bcrypt hash (cost 12) for a users file.
struct HashPassword: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-password", abstract: "Print a bcrypt hash of a password (asked for, or read from standard input).")

    @Option(help: "bcrypt cost (12 to 16).") var cost: UInt8 = 12

    func validate() throws {
        guard (12...16).contains(cost) else { throw ValidationError("the cost must be 12 to 16") }
    }

    func run() throws {
        print(Bcrypt.hash(try PasswordInput.read(confirm: isatty(0) == 1), cost: cost))
    }
}
