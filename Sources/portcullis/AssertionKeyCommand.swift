import ArgumentParser
import Foundation
import PortcullisAuth

/// `portcullis assertion-key generate`: a new key for signing identity assertions.
struct AssertionKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assertion-key", abstract: "Manage the keys that sign identity assertions sent to upstreams.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new EC P-256 private key (PKCS#8 PEM, mode 0600) for assertion.keyFile.",
            discussion: """
                With --add the new key goes first in an existing file, so it signs from the next reload, and the \
                old keys stay in the JWKS for assertions already issued with them; remove them after assertion.lifetime.
                """)

        @Option(name: .long, help: "Key file to create (mode 0600).")
        var file: String

        @Flag(name: .long, help: "Put the new key first in an existing key file instead of refusing to overwrite it.")
        var add = false

        func run() throws {
            var standardError = FileHandle.standardError
            var kept = ""
            if FileManager.default.fileExists(atPath: file) {
                guard add else {
                    print("\(file) exists; use --add to put a new signing key first (the old keys stay published)", to: &standardError)
                    throw ExitCode.failure
                }
                guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                    print("cannot read \(file)", to: &standardError)
                    throw ExitCode.failure
                }
                // Only add to a file the gateway can load, so the result is loadable too.
                do {
                    _ = try AssertionKeys(pem: text)
                } catch {
                    print("\(file): \(error); not changed", to: &standardError)
                    throw ExitCode.failure
                }
                kept = text.hasSuffix("\n") ? text : text + "\n"
            }
            let text = AssertionKeys.newPrivateKeyPEM() + kept
            do {
                try AtomicFile.write(Data(text.utf8), to: file, mode: 0o600)
                let keys = try AssertionKeys(pem: text)
                let count = keys.keys.count
                print("\(file): new signing key \(keys.signingKey.kid) (\(count) key\(count == 1 ? "" : "s") in the file; it signs from the gateway's next reload)")
            } catch {
                print("\(error)", to: &standardError)
                throw ExitCode.failure
            }
        }
    }
}
