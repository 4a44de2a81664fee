import ArgumentParser
import Foundation
import Logging
import PortcullisAuth
import PortcullisCore
import PortcullisPostgres
import PortcullisSessions

/// `portcullis keys generate`: a new session-sealing key.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage session-sealing keys.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new 256-bit key: print it, or put it first in a keys file (rotation: it seals from the next reload, the old keys still open).")

        @Option(name: .long, help: "Keys file to create (mode 0600) or to add the key to, as its first line.")
        var file: String?

        func run() throws {
            let line = Data(KeyRing.newKey()).base64EncodedString()
            guard let file else {
                print(line)
                return
            }
            let existing = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let text = line + "\n" + existing
            guard FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                var standardError = FileHandle.standardError
                print("cannot write \(file)", to: &standardError)
                throw ExitCode.failure
            }
            let count = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }.count
            print("\(file): new sealing key added first (\(count) key\(count == 1 ? "" : "s") in the file)")
        }
    }
}

/// `portcullis sessions …`: administration of the configured shared session store.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "Administer sessions in the configured session store.",
        subcommands: [Revoke.self, Count.self])

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End every session of a user on every gateway instance (within a second).")

        @Option(name: .long, help: "Path to the gateway's JSON config file.") var config: String
        @Option(name: .long, help: "The user's host-system username (as in the username header).") var user: String

        func run() async throws {
            let ended = try await withSharedStore(config) { try await $0.deleteAll(username: user) }
            print("revoked \(ended) session\(ended == 1 ? "" : "s") of \(user)")
        }
    }

    struct Count: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print how many live sessions the store holds.")

        @Option(name: .long, help: "Path to the gateway's JSON config file.") var config: String

        func run() async throws {
            print(try await withSharedStore(config) { try await $0.count() })
        }
    }
}

/// Runs `body` against the config's shared store. With the `memory` store the sessions
/// live inside the gateway process, out of reach of this command: a clear error.
func withSharedStore<T: Sendable>(_ path: String, _ body: @escaping @Sendable (PostgresSessionStore) async throws -> T) async throws -> T {
    let config = try loadConfigOrExit(path)
    var standardError = FileHandle.standardError
    guard config.session.store.kind == .postgres, let url = config.session.store.url else {
        print(
            "\(path): session.store is \"memory\": sessions live inside the gateway process; a shared store (\"postgres\") is needed to administer them from outside",
            to: &standardError)
        throw ExitCode(configErrorExitCode)
    }
    let store = try PostgresSessionStore(
        url: url.value, codec: SessionCodec(keyRing: KeyRing(keys: config.session.keys)), logger: Logger(label: "portcullis.sessions"))
    do {
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await store.run { _ in }
                return nil
            }
            group.addTask {
                // Let the store's pool start first (postgres-nio warns about queries queued before it runs).
                try await Task.sleep(for: .milliseconds(100))
                return try await body(store)
            }
            while let result = try await group.next() {
                if let result {
                    group.cancelAll()
                    return result
                }
            }
            throw SessionStoreUnavailable("the store stopped")
        }
    } catch {
        print("session store: \(error)", to: &standardError)
        throw ExitCode.failure
    }
}
