import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisProxy

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A reverse authentication gateway for web applications without single sign-on.",
        subcommands: [Serve.self, CheckConfig.self, Demo.self, EchoUpstreamCommand.self]
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

/// Routes swift-log to our line handler at the config's level and format.
func bootstrapLogging(_ logging: LoggingConfig) {
    let level = Logger.Level(rawValue: logging.level) ?? .info
    let format = LineLogHandler.Format(rawValue: logging.format) ?? .text
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
}

/// Starts the gateway and serves until the process is stopped.
func runGateway(_ config: GatewayConfig, logger: Logger) async throws -> GatewayServer {
    let server = try await GatewayServer.start(
        runtime: GatewayRuntime(config: config), group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    logger.info(
        "gateway listening",
        metadata: [
            "address": .string("\(server.localAddress)"), "publicURL": .string(config.publicURL.description),
            "routes": .string(String(config.routes.count)),
        ])
    return server
}

func waitForever() async throws {
    while true { try await Task.sleep(for: .seconds(3600)) }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway with a config file.")

    @Option(name: .long, help: "Path to the JSON config file.")
    var config: String

    func run() async throws {
        let config = try loadConfigOrExit(self.config)
        bootstrapLogging(config.logging)
        let logger = Logger(label: "portcullis")
        _ = try await runGateway(config, logger: logger)
        try await waitForever()
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a config file: prints OK or every problem (exit code 2).")

    @Argument(help: "Path to the JSON config file.")
    var file: String

    func run() throws {
        _ = try loadConfigOrExit(file)
        print("OK")
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
        abstract: "Run the gateway on its embedded demo config in front of a built-in echo upstream.")

    @Option(help: "Gateway port.") var port = 8080
    @Option(help: "Echo upstream port.") var echoPort = 9001

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let echo = try await EchoUpstream.start(port: echoPort, group: group)
        let json = DemoConfig.json(gatewayPort: port, echoPort: echo.port)
        let config: GatewayConfig
        do {
            config = try GatewayConfig.load(Data(json.utf8))
        } catch {
            throw ValidationError("embedded demo config is invalid: \(error)")
        }
        bootstrapLogging(config.logging)
        let logger = Logger(label: "portcullis")
        let server = try await runGateway(config, logger: logger)
        print(
            """

            Portcullis demo
              gateway        http://127.0.0.1:\(server.localAddress.port ?? port)/
              echo upstream  http://127.0.0.1:\(echo.port)/ (shows the headers the gateway forwards)
            Try: curl -H 'X-Forwarded-User: mallory' http://127.0.0.1:\(server.localAddress.port ?? port)/hello
                 (the forged identity header is stripped before it reaches the upstream)

            """)
        try await waitForever()
    }
}

/// The demo's config: the README's "run" command must work on a fresh machine with nothing
/// else set up.
enum DemoConfig {
    static func json(gatewayPort: Int, echoPort: Int) -> String {
        """
        {
          "listen": { "address": "127.0.0.1", "port": \(gatewayPort) },
          "routes": [
            { "name": "echo", "pathPrefix": "/", "upstream": "http://127.0.0.1:\(echoPort)", "public": true }
          ]
        }
        """
    }
}
