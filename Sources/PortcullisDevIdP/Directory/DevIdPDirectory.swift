import Foundation

/// Everything the development IdP knows: tenants, application registrations and users.
///
/// The JSON form of this struct is the `--directory` file of `portcullis dev-idp`.
public struct DevIdPDirectory: Codable, Sendable {
    public var tenants: [DevIdPTenant]
    public var clients: [DevIdPClient]
    public var users: [DevIdPUser]

    public init(tenants: [DevIdPTenant], clients: [DevIdPClient], users: [DevIdPUser]) {
        self.tenants = tenants
        self.clients = clients
        self.users = users
    }

    /// Reads a directory file (this struct as JSON) and checks it.
    public static func load(contentsOf path: String) throws -> DevIdPDirectory {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let directory = try JSONDecoder().decode(DevIdPDirectory.self, from: data)
        let problems = directory.problems
        if !problems.isEmpty { throw DevIdPDirectoryError(problems: problems) }
        return directory
    }

    /// Mistakes that would make the IdP behave confusingly (two users behind one picker key,
    /// a user whose tenant does not exist, so its tokens name an unknown issuer).
    public var problems: [String] {
        var problems: [String] = []
        var keys = Set<String>()
        for user in users {
            if !keys.insert(user.key).inserted { problems.append("duplicate user key '\(user.key)'") }
            if !tenants.contains(where: { $0.id.lowercased() == user.tid.lowercased() }) {
                problems.append("user '\(user.key)' belongs to unknown tenant '\(user.tid)'")
            }
        }
        var clientIDs = Set<String>()
        for client in clients where !clientIDs.insert(client.clientId).inserted {
            problems.append("duplicate client id '\(client.clientId)'")
        }
        return problems
    }

    func client(_ clientID: String) -> DevIdPClient? { clients.first { $0.clientId == clientID } }
    func user(_ key: String) -> DevIdPUser? { users.first { $0.key == key } }
}

/// A directory that fails ``DevIdPDirectory/problems``.
public struct DevIdPDirectoryError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid development IdP directory: " + problems.joined(separator: "; ") }
}
