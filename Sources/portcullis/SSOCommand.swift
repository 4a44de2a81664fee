import ArgumentParser
import Foundation
import Logging
import PortcullisCore
import PortcullisProxy

/// `portcullis sso …`: the emergency switch and the exclusion list, for the on-call admin at
/// 3 a.m. Each edits the config file (validated as the gateway will load it, written
/// atomically), tells the running gateway to reload (SIGHUP by pid file or by finding the
/// `serve --config` process; its file watch catches it too), and audits who ran it.
struct SSOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sso", abstract: "Switch SSO off or on, or change who is excluded from it.",
        subcommands: [Disable.self, Enable.self, Exclude.self, Include.self])

    struct Target: ParsableArguments {
        @Option(name: .long, help: "The gateway's config file.") var config: String
        @Option(name: .long, help: "The pid file written by `serve --pid-file` (else the process is found by --config).")
        var pidFile: String?
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Emergency: every enabled local user may sign in locally; Entra is not offered.")
        @OptionGroup var target: Target
        func run() throws { try SSOCommand.edit(target, event: "sso.disabled") { $0["enabled"] = false } }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Back to normal: local passwords only for excluded users; emergency local sessions end.")
        @OptionGroup var target: Target
        func run() throws { try SSOCommand.edit(target, event: "sso.enabled") { $0["enabled"] = true } }
    }

    struct Exclude: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a local user sign in with the local password while SSO is on.")
        @OptionGroup var target: Target
        @Argument(help: "Username or email.") var user: String
        func run() throws {
            try SSOCommand.edit(target, event: "sso.excluded", user: user) { sso in
                var list = sso["excludedUsers"] as? [String] ?? []
                if !list.contains(where: { AccountName.canonical($0) == AccountName.canonical(user) }) { list.append(user) }
                sso["excludedUsers"] = list
            }
        }
    }

    struct Include: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a user off the exclusion list (back to SSO).")
        @OptionGroup var target: Target
        @Argument(help: "Username or email.") var user: String
        func run() throws {
            try SSOCommand.edit(target, event: "sso.included", user: user) { sso in
                let list = sso["excludedUsers"] as? [String] ?? []
                sso["excludedUsers"] = list.filter { AccountName.canonical($0) != AccountName.canonical(user) }
            }
        }
    }

    /// Applies `change` to the config's `sso` object, validates, writes, signals, audits.
    static func edit(_ target: Target, event: String, user: String? = nil, _ change: (inout [String: Any]) -> Void) throws {
        var standardError = FileHandle.standardError
        let path = target.config
        guard let data = FileManager.default.contents(atPath: path),
            var document = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        else {
            print("\(path): cannot read the config as a JSON object", to: &standardError)
            throw ExitCode(configErrorExitCode)
        }
        var sso = document["sso"] as? [String: Any] ?? [:]
        change(&sso)
        document["sso"] = sso
        let edited = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            + Data("\n".utf8)
        let loaded: GatewayConfig
        do {
            // Secrets from the environment are the service's, not this shell's: the gateway
            // checks them again when it reloads; everything else is checked here.
            loaded = try GatewayConfig.load(
                edited, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent(),
                environment: { ProcessInfo.processInfo.environment[$0] ?? "set in the gateway's environment" })
        } catch {
            print("\(path): refusing the change, the gateway could not load it:", to: &standardError)
            for issue in error.issues { print("  \(issue)", to: &standardError) }
            throw ExitCode(configErrorExitCode)
        }
        try AtomicFile.write(edited, to: path, mode: 0o640)
        var metadata: Logger.Metadata = ["event": "\(event)", "by": "\(OperatingSystemUser.name)", "config": "\(path)"]
        if let user { metadata["user"] = "\(user)" }
        Logger(label: GatewayServices.auditLabel).notice("SSO switch changed", metadata: metadata)
        // The gateway's own audit log gets the line too, in its format, so the switch sits
        // beside the decisions it caused.
        if let file = loaded.logging.auditLogFile, let sink = try? LineSink.appending(toFile: file) {
            let format = LineLogHandler.Format(rawValue: loaded.logging.format) ?? .text
            Logger(label: GatewayServices.auditLabel) { LineLogHandler(label: $0, format: format, level: .info, sink: sink) }
                .notice("SSO switch changed", metadata: metadata)
            sink.flush()
        }
        let pids = target.pidFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .map { [$0] } ?? RunningGateways.serving(config: path)
        for pid in pids { kill(pid, SIGHUP) }
        print(
            pids.isEmpty
                ? "\(path): saved; no running gateway found to signal (its file watch applies the change within a second)"
                : "\(path): saved; reload requested (SIGHUP to \(pids.map(String.init).joined(separator: ", ")))")
    }
}
