/// A JSON object in the config: the keys it accepts, and how to read itself.
///
/// Declaring the keys is what lets the reader reject unknown ones (a typo such as
/// `"pubic": true` must be an error, not a silently ignored setting) and lets a test check
/// that `docs/configuration.md` documents every field.
public protocol ConfigSection {
    /// Every key this object accepts.
    static var fields: [ConfigField] { get }
    /// Reads the object, recording problems on the reader rather than throwing, so that all of
    /// a file's problems are reported at once. Always returns a value (defaults where invalid).
    init(reading reader: ConfigObjectReader)
}

/// One key of a config object, with the section type for nested objects.
public struct ConfigField {
    public enum Shape {
        case value
        case object(any ConfigSection.Type)
        case arrayOfObjects(any ConfigSection.Type)
    }

    public var name: String
    public var shape: Shape

    public static func value(_ name: String) -> ConfigField { ConfigField(name: name, shape: .value) }
    public static func object(_ name: String, _ type: any ConfigSection.Type) -> ConfigField {
        ConfigField(name: name, shape: .object(type))
    }
    public static func array(_ name: String, of type: any ConfigSection.Type) -> ConfigField {
        ConfigField(name: name, shape: .arrayOfObjects(type))
    }
}

extension ConfigSection {
    /// Every field path below this section (`routes[].timeouts.connect`), for documentation
    /// checks.
    public static func fieldPaths(prefix: String = "") -> [String] {
        fields.flatMap { field -> [String] in
            let path = prefix.isEmpty ? field.name : "\(prefix).\(field.name)"
            switch field.shape {
            case .value: return [path]
            case .object(let type): return [path] + type.fieldPaths(prefix: path)
            case .arrayOfObjects(let type): return [path] + type.fieldPaths(prefix: path + "[]")
            }
        }
    }
}
