import ArgumentParser
import Foundation
import NIOPosix
import PortcullisDevIdP

/// `portcullis dev-idp`: runs the development identity provider on its own, for trying a
/// gateway config against something Entra-shaped without a tenant.
struct DevIdPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-idp",
        abstract: "Run an Entra-shaped OpenID provider for local demos and tests (never for production).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9100
    @Option(help: "Directory file (tenants, clients, users as JSON); without it, the demo directory is served.")
    var directory: String?
    @Option(help: "Demo directory: the client id.") var clientId = "00000000-0000-0000-0000-00000000c0de"
    @Option(help: "Demo directory: the client secret.") var clientSecret = "dev-secret"
    @Option(help: "Demo directory: the registered redirect URI.")
    var redirectUri = "http://127.0.0.1:8080/.portcullis/callback"
    @Option(help: "Demo directory: a registered post-logout redirect URI (default: the redirect URI's origin + /).")
    var postLogoutRedirectUri: String?
    @Option(help: "Demo directory: the client's front-channel logout URL.") var frontchannelLogoutUrl: String?

    func run() async throws {
        let loaded: DevIdPDirectory
        if let directory {
            do {
                loaded = try DevIdPDirectory.load(contentsOf: directory)
            } catch {
                throw ValidationError("\(directory): \(error)")
            }
        } else {
            loaded = .demo(
                clientId: clientId, clientSecret: clientSecret, redirectURI: redirectUri,
                postLogoutRedirectURI: postLogoutRedirectUri ?? Self.origin(of: redirectUri).map { $0 + "/" },
                frontchannelLogoutURL: frontchannelLogoutUrl)
        }
        let idp = try await DevIdentityProvider.start(
            host: host, port: port, directory: loaded, group: MultiThreadedEventLoopGroup.singleton)
        var lines = ["Portcullis development IdP — not for production", "  base URL  \(idp.baseURL)"]
        for tenant in loaded.tenants {
            lines.append("  tenant    " + ([tenant.id] + tenant.domains).joined(separator: ", "))
            lines.append("            \(idp.baseURL)/\(tenant.id)/v2.0/.well-known/openid-configuration")
        }
        for client in loaded.clients {
            lines.append("  client    \(client.clientId) → \(client.redirectURIs.joined(separator: ", "))")
        }
        lines.append("  users (pick one on the sign-in page, or add &dev_user=KEY to the authorize URL):")
        for user in loaded.users {
            var notes = user.roles.isEmpty ? [] : ["roles " + user.roles.joined(separator: ",")]
            if user.groupOverage {
                notes.append("group overage")
            } else if !user.groups.isEmpty {
                notes.append("\(user.groups.count) groups")
            }
            if let error = user.signInError { notes.append("fails with \(error)") }
            if user.disabled { notes.append("disabled") }
            let key = user.key.padding(toLength: 8, withPad: " ", startingAt: 0)
            lines.append("    \(key) \(user.preferredUsername)  \(notes.joined(separator: "; "))")
        }
        // Written unbuffered: when piped, print() would hold the URL back until exit.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    /// `scheme://host[:port]` of a URL, for the default post-logout redirect URI.
    static func origin(of url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return String(url[..<end])
    }
}
