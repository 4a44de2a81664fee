/// `routes[].permissions`: Entra app roles and groups turned into the app's own permission
/// names, for the *authentication and permissions* model. `"Keyfax.ScriptAuthor":
/// ["ScriptEdit", "Reports"]` gives a user with that role both permissions; a group key is
/// its object id (or a name from `groupNames`). The result is the union, keys taken in sorted
/// order (JSON objects have none), each key's names in the order written.
public struct PermissionMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// A role value (exact) or a group object id (lowercased).
        public var key: String
        public var permissions: [String]
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Reads `routes[].permissions`: permission names without commas or control characters
    /// (they are sent comma-separated in one header). `fail(key, reason)` records a problem.
    init(reading object: [String: JSONValue], fail: (String, String) -> Void) {
        entries = []
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let list = value.stringArrayValue else {
                fail(key, "must be an array of permission names")
                continue
            }
            for (index, name) in list.enumerated() where name.isEmpty || name.contains(",") || !IdentityHeaderValue.isSafe(name) || name.trimmingSpaces() != name {
                fail("\(key)[\(index)]", "\"\(TextCheck.quotable(name))\" is not a permission name (no commas, control characters or surrounding spaces)")
            }
            entries.append(Entry(key: key, permissions: list))
        }
    }

    /// The permissions `identity` has on the route.
    public func permissions(for identity: Identity) -> [String] {
        var result: [String] = []
        for entry in entries where identity.roles.contains(entry.key) || identity.groups.contains(where: { $0.lowercased() == entry.key }) {
            for permission in entry.permissions where !result.contains(permission) { result.append(permission) }
        }
        return result
    }
}
