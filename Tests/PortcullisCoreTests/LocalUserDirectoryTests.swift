import Foundation
import Testing

@testable import PortcullisCore

/// A real bcrypt hash (cost 12) of a throwaway password; the shape is all the file checks.
let exampleHash = "$2b$12$V7fTe5sF2y00ntbknP7c5eieQtvf7kTgoieUVB/1D9jgd5O1ANkZe"
/// 20 bytes in base32.
let exampleTOTPSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

/// The problems of a users file, as rendered lines.
func userFileIssues(_ json: String) -> [String] {
    switch LocalUserDirectory.parse(Data(json.utf8)) {
    case .success: []
    case .failure(let error): error.issues.map(\.description)
    }
}

/// A users file of the given user objects (`passwordHash` added unless given).
func usersFile(_ users: String...) -> String {
    #"{ "users": [\#(users.joined(separator: ", "))] }"#
}

func user(_ fields: String) -> String {
    fields.contains("passwordHash") ? "{ \(fields) }" : #"{ "passwordHash": "\#(exampleHash)", \#(fields) }"#
}

@Suite("Local users file")
struct LocalUserDirectoryTests {
    @Test("a good file: every field read, defaults for the optional ones")
    func goodFile() throws {
        let json = usersFile(
            user(#""username": "breakglass", "email": "BreakGlass@Contoso.example", "name": "Break Glass", "roles": ["Admin"], "groups": ["g1"], "totpSecret": "\#(exampleTOTPSecret.lowercased())", "disabled": true"#),
            user(#""username": "desk""#))
        let directory = try LocalUserDirectory.parse(Data(json.utf8)).get()
        #expect(directory.users.count == 2)
        let first = directory.users[0]
        #expect(first == LocalUser(
            username: "breakglass", passwordHash: exampleHash, email: "BreakGlass@Contoso.example", name: "Break Glass",
            roles: ["Admin"], groups: ["g1"], totpSecret: exampleTOTPSecret.lowercased(), disabled: true))
        #expect(directory.users[1] == LocalUser(username: "desk", passwordHash: exampleHash))
        #expect(directory.users[1].disabled == false && directory.users[1].roles.isEmpty)
    }

    @Test("the example users file is valid")
    func exampleFile() throws {
        let data = try Data(contentsOf: projectRoot.appendingPathComponent("deploy/example-users.json"))
        let directory = try LocalUserDirectory.parse(data).get()
        #expect(directory.users.map(\.username) == ["breakglass"])
    }

    @Test("each kind of bad entry is reported with its path", arguments: [
        (#"{ "users": [] , "extra": 1 }"#, "extra: unknown field"),
        ("[]", "the users file must be a JSON object with a \"users\" array, found an array"),
        ("{}", "users: required: an array of users (it may be empty)"),
        (#"{ "users": {} }"#, "users: expected an array, found an object"),
        (#"{ "users": ["alice"] }"#, "users[0]: expected an object, found a string"),
        (usersFile(user(#""email": "a@x.example""#)), "users[0].username: required"),
        (usersFile(user(#""username": "", "email": "a@x.example""#)), #"users[0].username: "" must be non-empty, without spaces or control characters"#),
        (usersFile(user(#""username": "al ice""#)), #"users[0].username: "al ice" must be non-empty, without spaces or control characters"#),
        (usersFile(user(#""username": "al\u0000ice""#)), #"users[0].username: "al\u{0}ice" must be non-empty, without spaces or control characters"#),
        (usersFile(user(#""username": "al\u202eice""#)), "users[0].username: \"al\u{202e}ice\" must be non-empty, without spaces or control characters"),
        (usersFile(user(#""username": 7"#)), "users[0].username: expected a string, found a number"),
        (usersFile(user(#""username": "a", "pasword": "x""#)), "users[0].pasword: unknown field"),
        (usersFile(user(#""username": "a", "disabeld": true"#)), #"users[0].disabeld: unknown field (did you mean "disabled"?)"#),
        (usersFile(#"{ "username": "a" }"#), "users[0].passwordHash: required: a bcrypt hash of the password"),
        (usersFile(user(#""username": "ok""#), #"{ "username": "a", "passwordHash": "secret" }"#), "users[1].passwordHash: not a bcrypt hash"),
        (usersFile(#"{ "username": "a", "passwordHash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" }"#), "users[0].passwordHash: not a bcrypt hash"),
        (usersFile(#"{ "username": "a", "passwordHash": "\#(exampleHash.dropLast())" }"#), "users[0].passwordHash: not a bcrypt hash"),
        (usersFile(#"{ "username": "a", "passwordHash": "\#(exampleHash.replacingOccurrences(of: "$2b$", with: "$2x$"))" }"#), "users[0].passwordHash: not a bcrypt hash"),
        (usersFile(#"{ "username": "a", "passwordHash": "\#(exampleHash.replacingOccurrences(of: "$12$", with: "$10$"))" }"#), "users[0].passwordHash: bcrypt cost 10 is below the minimum of 12"),
        (usersFile(user(#""username": "a", "email": "not-an-address""#)), #"users[0].email: "not-an-address" is not an email address"#),
        (usersFile(user(#""username": "a", "email": "a @x""#)), #"users[0].email: "a @x" is not an email address"#),
        (usersFile(user(#""username": "a", "name": "A\nB""#)), "users[0].name: must be non-empty, without control characters"),
        (usersFile(user(#""username": "a", "roles": ["ok", "bad\r\nX-Admin: 1"]"#)), "users[0].roles[1]: must be non-empty, without control characters"),
        (usersFile(user(#""username": "a", "groups": [""]"#)), "users[0].groups[0]: must be non-empty, without control characters"),
        (usersFile(user(#""username": "a", "groups": [1]"#)), "users[0].groups[0]: expected a string, found a number"),
        (usersFile(user(#""username": "a", "totpSecret": "JBSWY3DP!""#)), "users[0].totpSecret: is not base32 (letters A–Z and digits 2–7)"),
        (usersFile(user(#""username": "a", "totpSecret": "JBSWY3DPEHPK3PXP""#)), "users[0].totpSecret: decodes to 10 bytes; at least 16 are required (20 recommended)"),
        (usersFile(user(#""username": "a", "disabled": "no""#)), "users[0].disabled: expected true or false, found a string"),
        (usersFile(user(#""username": "Alice""#), user(#""username": " alice ""#)), #"users[1].username: " alice " must be non-empty, without spaces or control characters"#),
        (usersFile(user(#""username": "Alice""#), user(#""username": "ALICE""#)), #"users[1].username: "ALICE" is already the username of users[0]"#),
        (usersFile(user(#""username": "alice""#), user(#""username": "ａｌｉｃｅ""#)), #"users[1].username: "ａｌｉｃｅ" is already the username of users[0]"#),
        (usersFile(user(#""username": "a", "email": "x@contoso.example""#), user(#""username": "b", "email": "X@Contoso.Example""#)), #"users[1].email: "X@Contoso.Example" is already the email of users[0]"#),
        (usersFile(user(#""username": "a", "email": "x@contoso.example""#), user(#""username": "x@contoso.example""#)), #"users[1].username: "x@contoso.example" is the email of users[0]"#),
        (usersFile(user(#""username": "x@contoso.example""#), user(#""username": "b", "email": "X@contoso.example""#)), #"users[1].email: "X@contoso.example" is the username of users[0]"#),
    ])
    func badEntries(json: String, expected: String) {
        #expect(userFileIssues(json) == [expected])
    }

    @Test("a misspelt key is reported, and so is the key it left out")
    func misspeltUsers() {
        #expect(userFileIssues(#"{ "user": [] }"#) == [#"user: unknown field (did you mean "users"?)"#, "users: required: an array of users (it may be empty)"])
    }

    @Test("not JSON at all")
    func notJSON() {
        let found = userFileIssues("{ users: ")
        #expect(found.count == 1 && found[0].hasPrefix("not valid JSON"))
    }

    @Test("a user may have their email as username; every problem is reported at once")
    func sameNameAndEmailAndAllProblems() {
        #expect(userFileIssues(usersFile(user(#""username": "a@x.example", "email": "A@X.example""#))).isEmpty)
        let found = userFileIssues(usersFile(#"{ "username": "a b" }"#, user(#""username": "c", "totpSecret": "!""#)))
        #expect(found.count == 3)
    }

    @Test("lookup by username or email, canonically")
    func lookup() throws {
        let directory = try LocalUserDirectory(validating: [
            LocalUser(username: "breakglass", passwordHash: exampleHash, email: "Admin@Contoso.example"),
            LocalUser(username: "Desk", passwordHash: exampleHash),
        ])
        #expect(directory.user(matching: "BREAKGLASS")?.username == "breakglass")
        #expect(directory.user(matching: "  admin@contoso.EXAMPLE ")?.username == "breakglass")
        #expect(directory.user(matching: "ｄｅｓｋ")?.username == "Desk")
        #expect(directory.user(matching: "nobody") == nil)
        #expect(directory.user(matching: "   ") == nil)
    }

    @Test("encoded() is pretty, sorted, ends in a newline and round-trips")
    func encoding() throws {
        let directory = try LocalUserDirectory(validating: [
            LocalUser(username: "b", passwordHash: exampleHash, email: "b@x.example", name: "Bee", roles: ["R"], groups: ["G"], totpSecret: exampleTOTPSecret, disabled: true),
            LocalUser(username: "a", passwordHash: exampleHash),
        ])
        let data = directory.encoded()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.contains("\n  "))
        #expect(!text.contains(#"\/"#), "bcrypt's slashes are written plainly")
        let keys = ["disabled", "email", "groups", "name", "passwordHash", "roles", "totpSecret", "username"]
        let positions = keys.map { text.range(of: "\"\($0)\"")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(try LocalUserDirectory.parse(data).get() == directory)
        #expect(try JSONDecoder().decode([String: [LocalUser]].self, from: data)["users"] == directory.users)
        #expect(LocalUserDirectory.empty.encoded() != Data() && (try? LocalUserDirectory.parse(LocalUserDirectory.empty.encoded()).get()) == .empty)
    }

    @Test("adding, removing and replacing users, with the file's checks")
    func changes() throws {
        var directory = LocalUserDirectory.empty
        directory = try directory.adding(LocalUser(username: "alice", passwordHash: exampleHash, email: "alice@x.example"))
        directory = try directory.adding(LocalUser(username: "bob", passwordHash: exampleHash))
        #expect(directory.users.map(\.username) == ["alice", "bob"])

        #expect(throws: ConfigError.self) { try directory.adding(LocalUser(username: "ALICE", passwordHash: exampleHash)) }
        #expect(throws: ConfigError.self) { try directory.adding(LocalUser(username: "alice@x.example", passwordHash: exampleHash)) }
        #expect(throws: ConfigError.self) { try directory.adding(LocalUser(username: "carol", passwordHash: "plain")) }
        do {
            _ = try directory.adding(LocalUser(username: "carol", passwordHash: exampleHash, totpSecret: "short"))
            Issue.record("a short TOTP secret was accepted")
        } catch {
            #expect(error.issues.map(\.path) == ["users[2].totpSecret"])
        }

        let replaced = try directory.replacing(LocalUser(username: "Bob", passwordHash: exampleHash, disabled: true))
        #expect(replaced.users.map(\.username) == ["alice", "Bob"] && replaced.users[1].disabled)
        #expect(throws: ConfigError.self) { try directory.replacing(LocalUser(username: "carol", passwordHash: exampleHash)) }
        #expect(throws: ConfigError.self) { try directory.replacing(LocalUser(username: "bob", passwordHash: exampleHash, email: "ALICE@x.example")) }

        #expect(directory.removing(username: " BOB ").users.map(\.username) == ["alice"])
        #expect(directory.removing(username: "nobody") == directory)
    }

    @Test("bcrypt hash shapes", arguments: [
        (exampleHash, 12), (exampleHash.replacingOccurrences(of: "$2b$", with: "$2a$"), 12),
        (exampleHash.replacingOccurrences(of: "$2b$", with: "$2y$"), 12), (exampleHash.replacingOccurrences(of: "$12$", with: "$31$"), 31),
    ])
    func bcryptShapes(hash: String, cost: Int) {
        #expect(BcryptHash.cost(of: hash) == cost)
        #expect(BcryptHash.problem(with: hash) == nil)
    }

    @Test("not bcrypt hashes", arguments: [
        "", "$2b$12$", "$2b$1$" + String(repeating: "a", count: 54), "$2b$12$" + String(repeating: "a", count: 52) + "!",
        "$2b$12$" + String(repeating: "a", count: 54), "$2$12$" + String(repeating: "a", count: 54), "$2b$ab$" + String(repeating: "a", count: 53),
    ])
    func notBcrypt(hash: String) {
        #expect(BcryptHash.problem(with: hash) == "not a bcrypt hash")
    }
}
