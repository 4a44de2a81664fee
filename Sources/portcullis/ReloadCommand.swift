import ArgumentParser
import Foundation
import Logging
import PortcullisCore

/// `portcullis reload`: validates the config and asks the running gateway to reload it
/// (SIGHUP), for admins who prefer a command to `kill -HUP` or `systemctl reload`.
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Validate a config file and make the running gateway reload it (SIGHUP).",
        discussion: """
            The gateway is found by --pid-file (as given to `serve --pid-file`) or, on Linux, as the \\
            `portcullis serve` process started with the same --config. An invalid config is reported \\
            here (exit code 2) and the gateway is not signalled; the gateway validates it again itself \\
            and keeps its running config if it fails there.
            """)

    @Option(name: .long, help: "Path to the JSON config file the gateway runs with.")
    var config: String?

    @Option(name: .long, help: "The pid file written by `serve --pid-file`.")
    var pidFile: String?

    func validate() throws {
        if config == nil && pidFile == nil { throw ValidationError("give --config or --pid-file") }
    }

    func run() throws {
        if let config { _ = try loadConfigOrExit(config) }
        var standardError = FileHandle.standardError
        let pids: [pid_t]
        if let pidFile {
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                print("\(pidFile): no process id in it (is the gateway running with --pid-file?)", to: &standardError)
                throw ExitCode.failure
            }
            pids = [pid]
        } else {
            pids = RunningGateways.serving(config: config!)
        }
        guard !pids.isEmpty else {
            print("no running `portcullis serve --config \(config ?? "")` found; give --pid-file", to: &standardError)
            throw ExitCode.failure
        }
        for pid in pids {
            guard kill(pid, SIGHUP) == 0 else {
                print("cannot signal process \(pid): \(String(cString: strerror(errno)))", to: &standardError)
                throw ExitCode.failure
            }
            print("reload requested (SIGHUP to process \(pid)); the gateway logs the outcome")
        }
    }
}

/// Finds running `portcullis serve --config F` processes by reading /proc (Linux).
enum RunningGateways {
    static func serving(config: String) -> [pid_t] {
        let wanted = URL(fileURLWithPath: config).standardizedFileURL.resolvingSymlinksInPath().path
        let me = getpid()
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard pid != me, let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first.map({ $0.hasSuffix("portcullis") }) == true, arguments.contains("serve") else { return false }
            guard let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return false }
            let value = arguments[index].hasPrefix("--config=") ? String(arguments[index].dropFirst(9)) : (index + 1 < arguments.count ? arguments[index + 1] : "")
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) ?? "/"
            let path = value.hasPrefix("/") ? value : cwd + "/" + value
            return URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path == wanted
        }
    }
}

/// The process's open-file limit, raised to what `limits.maxConnections` needs (two
/// descriptors per proxied connection, plus some), as far as the hard limit allows.
enum FileDescriptorLimit {
    static func raise(toServe connections: Int, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let needed = rlim_t(connections * 2 + 256)
        if limit.rlim_cur < needed {
            limit.rlim_cur = min(needed, limit.rlim_max)
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        if limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit is below what limits.maxConnections needs; lower maxConnections or raise LimitNOFILE",
                metadata: ["limit": "\(limit.rlim_cur)", "needed": "\(needed)"])
        }
    }
}
