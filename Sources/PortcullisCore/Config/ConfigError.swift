/// One problem found in a config file: where it is and what is wrong.
///
/// Rendered as `routes[2].upstream: "ftp://x" is not an http(s) URL`, so an operator can
/// find the field without reading our source.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

/// Every problem found in a config, reported together so one edit fixes them all.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Collects issues while a config is read; a class so nested readers share one list. It
/// also notes every file the config names, so a reload can watch them.
final class ConfigIssueCollector {
    private(set) var issues: [ConfigIssue] = []
    private(set) var files: [String] = []

    func noteFile(_ path: String) {
        if !files.contains(path) { files.append(path) }
    }

    func add(_ path: String, _ reason: String) {
        issues.append(ConfigIssue(path: path, reason: reason))
    }
}
