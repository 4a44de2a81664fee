import Foundation
import Logging
import PortcullisAuth
import PortcullisCore
import Synchronization

/// Reloads a running gateway from its config file: on SIGHUP, on a change to the file or
/// to any file it names (keys, secrets, certificates), or when asked. The new config is
/// validated completely first; a config that fails leaves the running one in place, with
/// every problem logged by field path. Both outcomes are audited with the file's hash.
public final class ConfigReloader: Sendable {
    public let path: String
    let gateway: Gateway
    let audit: Logger
    let logger: Logger
    let environment: @Sendable (String) -> String?
    /// The fingerprints of the watched files as last seen, and the hash of the running config.
    private let state: Mutex<(fingerprints: [String: FileFingerprint], runningHash: String)>
    /// One reload at a time: a watch tick and a signal arriving together apply once each, in order.
    private let serial = AsyncSerial()

    public init(
        path: String, gateway: Gateway, runningHash: String, audit: Logger, logger: Logger,
        environment: @escaping @Sendable (String) -> String? = { ProcessInfo.processInfo.environment[$0] }
    ) {
        self.path = path
        self.gateway = gateway
        self.audit = audit
        self.logger = logger
        self.environment = environment
        let files = [URL(fileURLWithPath: path).standardizedFileURL.path] + gateway.config.referencedFiles
        state = Mutex((Dictionary(uniqueKeysWithValues: files.map { ($0, FileFingerprint(path: $0)) }), runningHash))
        gateway.services.metrics.setConfigHash(runningHash)
    }

    /// What one reload did.
    public enum Outcome: Sendable, Equatable {
        case applied(hash: String, needsRestart: [String])
        case refused(hash: String?, problems: [String])
    }

    /// Reads, validates and applies the config file. `trigger` says why (audited).
    @discardableResult
    public func reload(trigger: String) async -> Outcome {
        await serial.run { await self.reloadNow(trigger: trigger) }
    }

    private func reloadNow(trigger: String) async -> Outcome {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            return refuse(hash: nil, ["cannot read config file \"\(path)\""], trigger: trigger)
        }
        let hash = String(ContentDigest.sha256Hex(data).prefix(16))
        let config: GatewayConfig
        do {
            config = try GatewayConfig.load(data, baseDirectory: url.deletingLastPathComponent(), environment: environment)
        } catch {
            return refuse(hash: hash, error.issues.map(\.description), trigger: trigger)
        }
        let outcome: Gateway.ReloadOutcome
        do {
            outcome = try await gateway.reload(config)
        } catch {
            return refuse(hash: hash, ["cannot apply: \(error)"], trigger: trigger)
        }
        remember(config: config, hash: hash)
        for field in outcome.needsRestart {
            logger.warning("config reload: \(field) changed but needs a restart; the running value stays", metadata: ["field": "\(field)"])
        }
        audit.notice(
            "config reloaded",
            metadata: [
                "event": "config.reloaded", "hash": "\(hash)", "trigger": "\(trigger)", "routes": "\(config.routes.count)",
                "needsRestart": "\(outcome.needsRestart.joined(separator: ","))",
            ])
        return .applied(hash: hash, needsRestart: outcome.needsRestart)
    }

    private func refuse(hash: String?, _ problems: [String], trigger: String) -> Outcome {
        for problem in problems {
            logger.error("config reload refused: \(problem)")
        }
        audit.error(
            "config reload refused; the running config stays",
            metadata: [
                "event": "config.reload_failed", "hash": "\(hash ?? "-")", "trigger": "\(trigger)", "problems": "\(problems.count)",
            ])
        // The files as they are now are the ones refused: do not retry them every tick.
        state.withLock { state in
            for path in state.fingerprints.keys { state.fingerprints[path] = FileFingerprint(path: path) }
        }
        return .refused(hash: hash, problems: problems)
    }

    private func remember(config: GatewayConfig, hash: String) {
        let files = [URL(fileURLWithPath: path).standardizedFileURL.path] + config.referencedFiles
        state.withLock { state in
            state.fingerprints = Dictionary(uniqueKeysWithValues: files.map { ($0, FileFingerprint(path: $0)) })
            state.runningHash = hash
        }
        gateway.services.metrics.setConfigHash(hash)
    }

    /// The hash of the config running now (16 hex digits of its SHA-256).
    public var runningHash: String { state.withLock { $0.runningHash } }

    /// Whether a watched file changed since it was last seen.
    public func watchedFilesChanged() -> Bool {
        state.withLock { state in
            state.fingerprints.contains { FileFingerprint(path: $0.key) != $0.value }
        }
    }

    /// Polls the watched files every `interval` and reloads when one changed, until the task
    /// is cancelled. Polling (size, modification time, inode) sees editors that replace the
    /// file and Kubernetes' symlink swaps alike, at the cost of a few `stat` calls a second.
    public func watch(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            if watchedFilesChanged() { await reload(trigger: "file-change") }
        }
    }
}

/// What `stat` says of a file, enough to see that it changed.
struct FileFingerprint: Equatable, Sendable {
    var exists: Bool
    var size: UInt64 = 0
    var modified: Date?
    var inode: UInt64 = 0

    /// Of the file `path` finally names: symbolic links are followed, since Kubernetes updates
    /// a mounted Secret or ConfigMap by swapping a `..data` link, never the file in place.
    init(path: String) {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: target) else {
            exists = false
            return
        }
        exists = true
        size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
        modified = attributes[.modificationDate] as? Date
        inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
    }
}

/// Runs async operations one after another.
final class AsyncSerial: Sendable {
    private let tail = Mutex<Task<Void, Never>?>(nil)

    func run<T: Sendable>(_ operation: @escaping @Sendable () async -> T) async -> T {
        let task: Task<T, Never> = tail.withLock { tail in
            let previous = tail
            let task = Task<T, Never> {
                await previous?.value
                return await operation()
            }
            tail = Task { _ = await task.value }
            return task
        }
        return await task.value
    }
}
