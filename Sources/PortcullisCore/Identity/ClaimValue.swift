/// One claim of a decoded ID token payload (`[String: ClaimValue]`), kept as plain JSON so
/// that a claim of an unexpected type is reported by name instead of failing the whole
/// token's decoding (Entra adds and varies optional claims per tenant and app manifest).
/// The same JSON model the config reader uses.
public typealias ClaimValue = JSONValue

extension JSONValue {
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// JSON numbers such as `exp`, `iat` and `nbf`; every NumericDate fits a `Double` exactly.
    public var numberValue: Double? {
        if case .number(let value) = self { value } else { nil }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The elements when this is an array of strings (`roles`, `groups`, `amr`); nil when it
    /// is not an array or any element is not a string, so a malformed claim is not read as
    /// a shorter list.
    public var stringArrayValue: [String]? {
        guard case .array(let elements) = self else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let value) = element else { return nil }
            strings.append(value)
        }
        return strings
    }
}
