import ArgumentParser
import HummingbirdBcrypt
import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisAuth
import PortcullisCore
import PortcullisDevIdP
import PortcullisEcho
import PortcullisProxy

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A reverse authentication gateway for web applications without single sign-on.",
        subcommands: [
            Serve.self, CheckConfig.self, ReloadCommand.self, Demo.self, SSOCommand.self, LocalUsersCommand.self, HashPassword.self,
            KeysCommand.self, AssertionKeyCommand.self, SessionsCommand.self, EchoUpstreamCommand.self, DevIdPCommand.self,
        ]
    )
}

/// Exit code for a config that fails validation, so scripts can tell it from a crash.
let configErrorExitCode: Int32 = 2

/// Loads a config file or prints every problem and exits with code 2.
func loadConfigOrExit(_ path: String) throws -> GatewayConfig {
    do {
        return try GatewayConfig.load(file: path)
    } catch {
        var standardError = FileHandle.standardError
        print("\(path): invalid configuration", to: &standardError)
        for issue in error.issues { print("  \(issue)", to: &standardError) }
        throw ExitCode(configErrorExitCode)
    }
}

/// Routes swift-log to our line handler at the config's level and format: the audit log to
/// `logging.auditLogFile` when set, the rest to standard output. Returns the access log's sink
/// (`logging.accessLogFile`, or standard output).
func bootstrapLogging(_ logging: LoggingConfig) throws -> LineSink {
    let level = Logger.Level(rawValue: logging.level) ?? .info
    let format = LineLogHandler.Format(rawValue: logging.format) ?? .text
    let audit = try logging.auditLogFile.map(LineSink.appending(toFile:)) ?? .standardOutput
    let access = try logging.accessLogFile.map(LineSink.appending(toFile:)) ?? .standardOutput
    LoggingSystem.bootstrap { label in
        LineLogHandler(label: label, format: format, level: level, sink: label == GatewayServices.auditLabel ? audit : .standardOutput)
    }
    return access
}

func waitForever() async throws {
    while true { try await Task.sleep(for: .seconds(3600)) }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway with a config file.",
        discussion: """
            SIGHUP (or `portcullis reload`, or saving the config or a file it names) reloads the config \
            without a restart; SIGTERM or SIGINT drains (requests in flight finish, up to shutdownTimeout) \
            and exits 0; a second signal exits at once.
            """)

    @Option(name: .long, help: "Path to the JSON config file.")
    var config: String

    @Option(name: .long, help: "Write the process id here (for `portcullis reload --pid-file`).")
    var pidFile: String?

    func run() async throws {
        let data = FileManager.default.contents(atPath: self.config) ?? Data()
        let config = try loadConfigOrExit(self.config)
        let accessLogSink = try bootstrapLogging(config.logging)
        let logger = Logger(label: "portcullis")
        FileDescriptorLimit.raise(toServe: config.limits.maxConnections, logger: logger)
        let (services, exporter) = try Composition.services(for: config, logger: logger)
        let gateway = try await Composition.start(config, services: services, accessLogSink: accessLogSink, logger: logger)
        if let pidFile {
            try String(getpid()).write(toFile: pidFile, atomically: true, encoding: .utf8)
        }
        defer { if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) } }
        let reloader = ConfigReloader(
            path: self.config, gateway: gateway, runningHash: String(ContentDigest.sha256Hex(data).prefix(16)),
            audit: gateway.services.audit, logger: logger)
        try await GatewayProcess.run(gateway: gateway, reloader: reloader, exporter: exporter, logger: logger)
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a config file: prints OK or every problem (exit code 2).")

    @Argument(help: "Path to the JSON config file.")
    var file: String

    func run() throws {
        let config = try loadConfigOrExit(file)
        print("OK")
        for expiry in CredentialExpiry.all(in: config) {
            if let warning = expiry.warning(now: Date()) {
                print("warning: \(warning)")
            } else {
                print("\(expiry.field): expires \(ISO8601DateFormatter().string(from: expiry.expires))")
            }
        }
    }
}

struct EchoUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-upstream",
        abstract: "Run a development upstream that answers with the request it received (headers as JSON).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9001

    func run() async throws {
        let echo = try await EchoUpstream.start(host: host, port: port, group: MultiThreadedEventLoopGroup.singleton)
        print("echo upstream listening on http://\(host):\(echo.port)/ (development tool: it shows every header it is sent)")
        try await waitForever()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run, in one process, a development Entra-style IdP, an echo upstream and the gateway in front of it.")

    @Option(help: "Gateway port.") var port = 8080
    @Option(help: "Echo upstream port.") var echoPort = 9001
    @Option(help: "Development IdP port.") var idpPort = 9100

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let echo = try await EchoUpstream.start(port: echoPort, group: group)
        let gatewayURL = "http://127.0.0.1:\(port)"
        let directory = DevIdPDirectory.demo(
            clientId: DemoConfig.clientId, clientSecret: DemoConfig.clientSecret,
            redirectURI: gatewayURL + "/.portcullis/callback", postLogoutRedirectURI: gatewayURL + "/.portcullis/signed-out",
            frontchannelLogoutURL: gatewayURL + "/.portcullis/frontchannel-logout")
        let idp = try await DevIdentityProvider.start(port: idpPort, directory: directory, group: group)
        // The demo's config and users file go to a folder of their own, so the SSO switch
        // (`portcullis sso disable --config …`) can be tried on the running demo.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-demo-\(port)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let usersFile = folder.appendingPathComponent("users.json"), configFile = folder.appendingPathComponent("config.json")
        try AtomicFile.write(DemoConfig.users(), to: usersFile.path)
        try AtomicFile.write(
            Data(DemoConfig.json(gatewayPort: port, echoPort: echo.port, idpURL: idp.baseURL, usersFile: usersFile.path).utf8), to: configFile.path)
        let environment: @Sendable (String) -> String? = { $0 == DemoConfig.secretVariable ? DemoConfig.clientSecret : nil }
        let config: GatewayConfig
        do {
            config = try GatewayConfig.load(
                Data(contentsOf: configFile), baseDirectory: folder, environment: environment)
        } catch {
            throw ValidationError("embedded demo config is invalid: \(error)")
        }
        let accessLogSink = try bootstrapLogging(config.logging)
        let logger = Logger(label: "portcullis")
        let (services, exporter) = try Composition.services(for: config, logger: logger)
        let running = try await Composition.start(config, services: services, accessLogSink: accessLogSink, logger: logger)
        let gateway = "http://127.0.0.1:\(running.localAddress.port ?? port)"
        let users = directory.users.map { user in
            "    \(user.key.padding(toLength: 6, withPad: " ", startingAt: 0)) \(user.preferredUsername)  roles: \(user.roles.isEmpty ? "-" : user.roles.joined(separator: ","))\(user.groupOverage ? "  (group overage)" : "")\(user.signInError.map { "  (sign-in fails: \($0))" } ?? "")\(user.tid == DevIdPDirectory.demoFabrikamTenantID ? "  (other tenant: refused)" : "")"
        }.joined(separator: "\n")
        // Unbuffered: the banner must show at once even when output is piped.
        var standardOutput = FileHandle.standardOutput
        print(
            """

            Portcullis demo
              gateway          \(gateway)/            (protected: sign in first)
              public page      \(gateway)/public/     (no sign-in)
              permissions app  \(gateway)/keyfax/     (roles → permission names, and a signed assertion)
              step-up page     \(gateway)/admin/      (asks the IdP for authentication context c1; no break-glass)
              assertion keys   \(gateway)/.portcullis/jwks.json
              development IdP  \(idp.baseURL)/        (Entra-shaped, for trials only)
              echo upstream    http://127.0.0.1:\(echo.port)/ (shows the headers the gateway forwards)
              sign out         \(gateway)/.portcullis/logout

            Open \(gateway)/ in a browser and pick a user:
            \(users)

            Break-glass (local) sign-in at \(gateway)/.portcullis/signin:
                breakglass  password "\(DemoConfig.breakglassPassword)"  (on the SSO exclusion list: works now)
                alice@contoso.example  password "\(DemoConfig.alicePassword)"  (not excluded: refused while SSO is on)
            Flip the emergency SSO switch (then alice's local password works, Entra is not offered):
                swift run portcullis sso disable --config \(configFile.path)
                swift run portcullis sso enable --config \(configFile.path)

            """, to: &standardOutput)
        let reloader = ConfigReloader(
            path: configFile.path, gateway: running, runningHash: "-", audit: running.services.audit, logger: logger, environment: environment)
        try await GatewayProcess.run(gateway: running, reloader: reloader, exporter: exporter, logger: logger)
    }
}

/// The demo's config: the README's "run" command must work on a fresh machine with nothing
/// else set up. The client secret is a demo value shared with the embedded dev IdP.
enum DemoConfig {
    static let clientId = "de30c11e-0000-4000-8000-00000000c0de"
    static let clientSecret = "demo-secret-not-for-production"
    static let secretVariable = "PORTCULLIS_DEMO_CLIENT_SECRET"

    static let breakglassPassword = "break-glass-demo"
    static let alicePassword = "alice-local-demo"

    /// The demo's local users: `breakglass` (on the exclusion list) and a local password for
    /// the SSO user alice (usable only while the SSO switch is off).
    static func users() -> Data {
        let directory = try! LocalUserDirectory(validating: [
            LocalUser(
                username: "breakglass", passwordHash: Bcrypt.hash(breakglassPassword, cost: 12), email: "breakglass@contoso.example",
                name: "Break Glass (local)", roles: ["Repairs.Read", "Repairs.Write"], groups: [], totpSecret: nil, disabled: false),
            LocalUser(
                username: "alice@contoso.example", passwordHash: Bcrypt.hash(alicePassword, cost: 12), email: "alice@contoso.example",
                name: "Alice Archer (local)", roles: ["Repairs.Read"], groups: [], totpSecret: nil, disabled: false),
        ])
        return directory.encoded()
    }

    static func json(gatewayPort: Int, echoPort: Int, idpURL: String, usersFile: String) -> String {
        """
        {
          "listen": { "address": "127.0.0.1", "port": \(gatewayPort) },
          "publicURL": "http://127.0.0.1:\(gatewayPort)",
          "entra": {
            "authority": "\(idpURL)",
            "tenant": "organizations",
            "allowedTenants": ["\(DevIdPDirectory.demoContosoTenantID)"],
            "clientId": "\(clientId)",
            "clientSecretEnv": "\(secretVariable)",
            "scopes": ["openid", "profile", "email", "offline_access", "User.Read"],
            "groupsOverage": "graph",
            "graphURL": "\(idpURL)",
            "username": { "claim": "preferred_username", "transforms": ["lowercase"] }
          },
          "localUsers": { "file": "\(usersFile)" },
          "sso": { "excludedUsers": ["breakglass"] },
          "routes": [
            { "name": "public", "pathPrefix": "/public/", "upstream": "http://127.0.0.1:\(echoPort)", "public": true },
            { "name": "keyfax", "pathPrefix": "/keyfax/", "upstream": "http://127.0.0.1:\(echoPort)",
              "allow": [{ "name": "authors", "roles": ["Repairs.Write"] }, { "name": "readers", "roles": ["Repairs.Read"], "methods": ["GET", "HEAD"] }],
              "permissions": { "Repairs.Write": ["ScriptEdit", "Reports"], "Repairs.Read": ["Reports"] },
              "headers": { "send": ["user", "permissions", "authMethod", "assertion"] } },
            { "name": "admin", "pathPrefix": "/admin/", "upstream": "http://127.0.0.1:\(echoPort)", "authContext": "c1",
              "deny": { "name": "no-break-glass", "authMethods": ["local"] } },
            { "name": "echo", "pathPrefix": "/", "upstream": "http://127.0.0.1:\(echoPort)" }
          ],
          "assertion": { "lifetime": 60 }
        }
        """
    }
}
