import Foundation
import PortcullisCore
import Testing

/// `portcullis users …` and `hash-password` against a real users file: passwords from
/// standard input (never argv), atomic writes with mode 0600, and no write the gateway could
/// not load.
@Suite("The users command (the portcullis executable)", .serialized)
struct UsersCommandTests {
    /// Runs the executable with `input` on standard input; exit status and standard output.
    static func run(_ arguments: [String], input: String = "") async throws -> (Int32, String) {
        try await ExternalTools.detached { try runBlocking(arguments, input: input) }
    }

    static func runBlocking(_ arguments: [String], input: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = SignalTests.executable
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("add, list, passwd, disable, totp and remove keep a file the gateway loads, mode 0600")
    func lifecycle() async throws {
        guard SignalTests.executable != nil else {
            #expect(!ExternalTools.isCI, "the portcullis executable is missing beside the tests")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("users.json").path
        func load() throws -> LocalUserDirectory { try LocalUserDirectory.parse(Data(contentsOf: URL(fileURLWithPath: file))).get() }

        #expect(try await Self.run(["users", "add", "--file", file, "ops", "--email", "ops@contoso.example", "--role", "Admin"], input: "first secret\n").0 == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        var user = try #require(try load().user(matching: "OPS@contoso.example"))
        #expect(user.roles == ["Admin"])
        #expect(user.passwordHash.hasPrefix("$2b$12$") && !user.passwordHash.contains("first secret"))
        let firstHash = user.passwordHash

        #expect(try await Self.run(["users", "add", "--file", file, "ops"], input: "again\n").0 != 0, "a second ops is refused")
        #expect(try await Self.run(["users", "passwd", "--file", file, "ops"], input: "second secret\n").0 == 0)
        #expect(try await Self.run(["users", "disable", "--file", file, "ops"]).0 == 0)
        user = try #require(try load().user(matching: "ops"))
        #expect(user.passwordHash != firstHash)
        #expect(user.disabled)

        let (status, totp) = try await Self.run(["users", "totp", "--file", file, "ops"])
        #expect(status == 0)
        #expect(totp.hasPrefix("otpauth://totp/"))
        #expect(try load().user(matching: "ops")?.totpSecret != nil)

        let (listed, list) = try await Self.run(["users", "list", "--file", file])
        #expect(listed == 0)
        #expect(list.contains("ops") && list.contains("disabled") && list.contains("totp"))
        #expect(!list.contains("$2b$"), "no hash is listed")

        let (hashed, hash) = try await Self.run(["hash-password"], input: "whatever\n")
        #expect(hashed == 0 && hash.hasPrefix("$2b$12$"))

        #expect(try await Self.run(["users", "remove", "--file", file, "ops"]).0 == 0)
        #expect(try load().users.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "no temporary file left behind")
    }
}
