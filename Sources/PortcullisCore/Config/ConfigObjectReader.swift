import Foundation

/// Reads one JSON object of the config by key, recording each problem with its full field
/// path instead of throwing.
public struct ConfigObjectReader {
    /// Path of this object (`routes[2]`), empty for the top level.
    public let path: String
    let values: [String: JSONValue]
    let issues: ConfigIssueCollector
    /// Where `…File` secrets and relative paths are resolved from (the config file's folder).
    public let baseDirectory: URL
    /// Reads environment variables for `…Env` secrets; injectable for tests.
    let environment: @Sendable (String) -> String?

    init(
        path: String,
        values: [String: JSONValue],
        issues: ConfigIssueCollector,
        baseDirectory: URL,
        environment: @escaping @Sendable (String) -> String?
    ) {
        self.path = path
        self.values = values
        self.issues = issues
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    /// A file the config names (`…File`), resolved against the config's folder and noted
    /// among the files a reload watches.
    public func resolvedFile(_ file: String) -> URL {
        let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : baseDirectory.appendingPathComponent(file)
        issues.noteFile(url.standardizedFileURL.path)
        return url
    }

    /// The full path of a key in this object.
    public func path(of key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Records a problem with a key of this object.
    public func fail(_ key: String, _ reason: String) { issues.add(path(of: key), reason) }

    /// Records a problem with this object as a whole.
    public func failHere(_ reason: String) { issues.add(path, reason) }

    public func has(_ key: String) -> Bool {
        if let value = values[key], value != .null { return true }
        return false
    }

    // MARK: Scalars

    public func string(_ key: String) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?:
            fail(key, "expected a string, found \(other.kindName)")
            return nil
        }
    }

    public func string(_ key: String, default value: String) -> String { string(key) ?? value }

    public func bool(_ key: String, default value: Bool) -> Bool {
        switch values[key] {
        case nil, .null?: return value
        case .bool(let flag)?: return flag
        case let other?:
            fail(key, "expected true or false, found \(other.kindName)")
            return value
        }
    }

    public func number(_ key: String) -> Double? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let value)?: return value
        case let other?:
            fail(key, "expected a number, found \(other.kindName)")
            return nil
        }
    }

    /// A whole number within `range`.
    public func int(_ key: String, default value: Int, in range: ClosedRange<Int>) -> Int {
        guard let number = number(key) else { return value }
        guard number.rounded() == number, number >= Double(range.lowerBound), number <= Double(range.upperBound)
        else {
            fail(key, "\(JSONValue.number(number)) is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            return value
        }
        return Int(number)
    }

    /// A duration in seconds (fractions allowed) within `range`.
    public func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) -> Double {
        guard let number = number(key) else { return value }
        guard range.contains(number) else {
            fail(key, "\(JSONValue.number(number)) seconds is outside \(JSONValue.number(range.lowerBound))…\(JSONValue.number(range.upperBound))")
            return value
        }
        return number
    }

    /// One of a fixed set of words.
    public func choice(_ key: String, default value: String, among choices: [String]) -> String {
        guard let word = string(key) else { return value }
        guard choices.contains(word) else {
            fail(key, "\"\(word)\" is not one of \(choices.map { "\"\($0)\"" }.joined(separator: ", "))")
            return value
        }
        return word
    }

    public func stringArray(_ key: String) -> [String] {
        stringArrayWithIndices(key).map(\.value)
    }

    /// The strings of an array with their positions in the file, so later checks can name
    /// the right element even when another element had the wrong type.
    public func stringArrayWithIndices(_ key: String) -> [(index: Int, value: String)] {
        switch values[key] {
        case nil, .null?: return []
        case .array(let items)?:
            var result: [(index: Int, value: String)] = []
            for (index, item) in items.enumerated() {
                if case .string(let value) = item {
                    result.append((index, value))
                } else {
                    issues.add("\(path(of: key))[\(index)]", "expected a string, found \(item.kindName)")
                }
            }
            return result
        case let other?:
            fail(key, "expected an array of strings, found \(other.kindName)")
            return []
        }
    }

    // MARK: Nested objects

    /// A free-form JSON object (a lookup table such as username overrides), not a section.
    public func object(_ key: String) -> [String: JSONValue]? {
        switch values[key] {
        case nil, .null?: return nil
        case .object(let object)?: return object
        case let other?:
            fail(key, "expected an object, found \(other.kindName)")
            return nil
        }
    }

    /// A nested object; its defaults when absent.
    public func section<S: ConfigSection>(_ key: String, as type: S.Type = S.self) -> S {
        optionalSection(key, as: type) ?? S(reading: child(path: path(of: key), values: [:]))
    }

    /// A nested object, or nil when the key is absent or null.
    public func optionalSection<S: ConfigSection>(_ key: String, as type: S.Type = S.self) -> S? {
        switch values[key] {
        case nil, .null?: return nil
        case .object(let object)?: return read(S.self, at: path(of: key), from: object)
        case let other?:
            fail(key, "expected an object, found \(other.kindName)")
            return nil
        }
    }

    /// An array of objects; invalid items are reported and left out.
    public func sections<S: ConfigSection>(_ key: String, as type: S.Type = S.self) -> [S] {
        switch values[key] {
        case nil, .null?: return []
        case .array(let items)?:
            var result: [S] = []
            for (index, item) in items.enumerated() {
                let itemPath = "\(path(of: key))[\(index)]"
                if case .object(let object) = item {
                    result.append(read(S.self, at: itemPath, from: object))
                } else {
                    issues.add(itemPath, "expected an object, found \(item.kindName)")
                }
            }
            return result
        case let other?:
            fail(key, "expected an array, found \(other.kindName)")
            return []
        }
    }

    /// One object or an array of them (`"allow": {…}` or `"allow": [{…}, {…}]`): a single
    /// item keeps the key's path (`routes[0].allow`), array items get their index.
    public func sectionOrSections<S: ConfigSection>(_ key: String, as type: S.Type = S.self) -> [S] {
        if case .object(let object)? = values[key] { return [read(S.self, at: path(of: key), from: object)] }
        return sections(key, as: type)
    }

    func child(path: String, values: [String: JSONValue]) -> ConfigObjectReader {
        ConfigObjectReader(
            path: path, values: values, issues: issues, baseDirectory: baseDirectory, environment: environment)
    }

    func read<S: ConfigSection>(_ type: S.Type, at path: String, from object: [String: JSONValue]) -> S {
        let reader = child(path: path, values: object)
        reader.rejectUnknownKeys(known: S.fields.map(\.name))
        return S(reading: reader)
    }

    func rejectUnknownKeys(known: [String]) {
        for key in values.keys.sorted() where !known.contains(key) {
            if let suggestion = ConfigObjectReader.closest(to: key, among: known) {
                fail(key, "unknown field (did you mean \"\(suggestion)\"?)")
            } else if known.isEmpty {
                fail(key, "unknown field (this section is reserved and takes no fields in this version)")
            } else {
                fail(key, "unknown field")
            }
        }
    }

    /// The known key nearest to a typo, if it is near enough to be a likely intent.
    static func closest(to key: String, among known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(key.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, key.count / 4) else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    // MARK: PEM files

    /// What a PEM file named in the config must hold.
    public enum PEMContent {
        case certificate, privateKey

        var marker: String { self == .certificate ? "-----BEGIN CERTIFICATE-----" : "PRIVATE KEY-----" }
        var name: String { self == .certificate ? "PEM certificate" : "PEM private key" }
    }

    /// The text of the PEM file named under `key` (resolved against the config's folder and
    /// watched by reloads like every file it names); nil when `key` is absent, or with the
    /// problem recorded when the file cannot be read or holds no such block. Only the text is
    /// checked here: parsing keys and certificates is for the modules with cryptography.
    public func pemFile(_ key: String, holding content: PEMContent, hint: String? = nil) -> String? {
        guard let file = string(key) else { return nil }
        guard !file.isEmpty else {
            fail(key, "must not be empty")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: resolvedFile(file).path), let text = String(data: data, encoding: .utf8) else {
            fail(key, "cannot read \"\(file)\"")
            return nil
        }
        guard text.contains(content.marker) else {
            fail(key, "\"\(file)\" holds no \(content.name)" + (hint.map { " (\($0))" } ?? ""))
            return nil
        }
        return text
    }

    // MARK: Secrets

    /// A secret named `base`, which must come from `baseFile` (a file's contents, trailing
    /// newline trimmed) or `baseEnv` (an environment variable), never inline in the config,
    /// so configs can be committed and shown without leaking credentials. Nil when neither
    /// is given; a problem is recorded when both are, or when the source is empty or unreadable.
    public func secret(_ base: String) -> Secret? {
        let fileKey = base + "File", envKey = base + "Env"
        let file = string(fileKey), env = string(envKey)
        switch (file, env) {
        case (nil, nil):
            return nil
        case (.some, .some):
            failHere("give either \(fileKey) or \(envKey), not both")
            return nil
        case (let file?, nil):
            let url = resolvedFile(file)
            guard let data = FileManager.default.contents(atPath: url.path),
                let text = String(data: data, encoding: .utf8)
            else {
                fail(fileKey, "cannot read \"\(file)\"")
                return nil
            }
            let value = text.trimmingCharacters(in: .newlines)
            guard !value.isEmpty else {
                fail(fileKey, "\"\(file)\" is empty")
                return nil
            }
            return Secret(value)
        case (nil, let env?):
            guard let value = environment(env), !value.isEmpty else {
                fail(envKey, "environment variable \(env) is not set or empty")
                return nil
            }
            return Secret(value)
        }
    }
}

/// A credential read from a file or the environment. Its description never shows the value,
/// so interpolating it into a log line or error cannot leak it.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "<secret>" }
    public var debugDescription: String { "<secret>" }
}
