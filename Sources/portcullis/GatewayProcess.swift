import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisPostgres
import PortcullisProxy
import PortcullisTelemetry
import ServiceLifecycle
import UnixSignals

/// The composition root: chooses and builds the session store and the OpenID client, the
/// process-long services around them, and the gateway; the data plane receives them built.
enum Composition {
    /// The process's services, and the span exporter when `tracing` is on (run it with them).
    static func services(for config: GatewayConfig, logger: Logger) throws -> (services: GatewayServices, exporter: (any Service)?) {
        let store = try PostgresSessionStore.configured(by: config.session, logger: logger)
        if config.session.keys.isEmpty && config.hasSignIn {
            logger.warning("session.keysFile is not set: sessions are sealed with a random key and end when the gateway restarts")
        }
        let tracing = try Telemetry.tracer(for: config.tracing, logger: logger)
        if tracing != nil {
            logger.info("tracing: spans go to the OTLP collector", metadata: ["endpoint": .string(config.tracing.endpoint)])
        }
        let services = GatewayServices(
            session: config.session, store: store, oidcClient: GatewayServices.makeOIDCClient(timeout: config.entra?.requestTimeout ?? 10),
            logger: logger, tracer: tracing?.tracer)
        return (services, tracing?.exporter)
    }

    /// Starts the gateway for `config`; a credential that cannot be loaded exits with the
    /// config-error code.
    static func start(_ config: GatewayConfig, services: GatewayServices, accessLogSink: LineSink = .standardOutput, logger: Logger) async throws -> Gateway {
        let gateway: Gateway
        do {
            gateway = try await Gateway.start(config: config, services: services, accessLogSink: accessLogSink, logger: logger)
        } catch let error as IOError {
            throw error
        } catch {
            var standardError = FileHandle.standardError
            print("cannot start: \(error)", to: &standardError)
            throw ExitCode(configErrorExitCode)
        }
        logger.info(
            "gateway listening",
            metadata: [
                "address": .string("\(gateway.localAddress)"), "publicURL": .string(config.publicURL.description),
                "routes": .string(String(config.routes.count)),
                "protocols": .string(config.listen.tls == nil ? "http/1.1" : config.listen.tls!.http2 ? "h2, http/1.1 (TLS)" : "http/1.1 (TLS)"),
            ])
        if let redirect = gateway.redirectListener {
            logger.info("redirecting plain HTTP to HTTPS", metadata: ["address": .string("\(redirect.localAddress)")])
        }
        return gateway
    }
}

/// Runs a started gateway until SIGTERM or SIGINT, under a `ServiceGroup`: the session
/// store's background work, the reloader (SIGHUP and the file watch, when there is a config
/// file) and the gateway itself, which drains on the first stop signal. The services stop
/// in reverse order, so the store outlives the requests that may still read it.
enum GatewayProcess {
    static func run(gateway: Gateway, reloader: ConfigReloader?, exporter: (any Service)? = nil, logger: Logger) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // First, so it stops last: the spans of the drained requests are exported before exit.
        // Tracing is an aid: its exporter ending or failing never stops the gateway.
        if let exporter { services.append(.init(service: exporter, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)) }
        // The store's work ends at once for the `memory` store: that must not end the group.
        services.append(.init(service: StoreService(services: gateway.services), successTerminationBehavior: .ignore))
        if let reloader { services.append(.init(service: ReloadService(reloader: reloader))) }
        services.append(.init(service: DrainingGatewayService(gateway: gateway, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // Metrics on their own listener (loopback by default), never on the public one.
        let admin: AdminServer?
        do {
            admin = try await gateway.startAdminListener()
        } catch {
            logger.error("cannot start the admin listener (admin.listen)", metadata: ["error": "\(error)"])
            await gateway.close()
            await gateway.services.shutdown()
            throw error
        }
        if let admin { logger.info("admin listener: metrics at /metrics", metadata: ["address": "\(admin.localAddress)"]) }
        do {
            try await group.run()
        } catch {
            logger.error("stopping after a service failed", metadata: ["error": "\(error)"])
            await admin?.close()
            await gateway.close()
            await gateway.services.shutdown()
            LineSink.standardOutput.flush()
            throw error
        }
        await admin?.close()
        await gateway.services.shutdown()
        logger.info("gateway stopped")
        LineSink.standardOutput.flush()
    }
}

/// The session store's connections, notifications and sweeping.
struct StoreService: Service {
    let services: GatewayServices

    func run() async throws {
        await cancelWhenGracefulShutdown { await services.run() }
    }
}

/// SIGHUP and changes to the watched files reload the config.
struct ReloadService: Service {
    let reloader: ConfigReloader

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await reloader.watch() }
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        await reloader.reload(trigger: "SIGHUP")
                    }
                }
                await group.waitForAll()
            }
        }
    }
}

/// Serves until the graceful-shutdown signal, then drains: no new connections, requests in
/// flight finish for up to `shutdownTimeout`, then everything closes. A second stop signal
/// during the drain exits at once.
struct DrainingGatewayService: Service {
    let gateway: Gateway
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let timeout = gateway.config.shutdownTimeout
        logger.notice(
            "stopping: draining connections", metadata: ["open": "\(gateway.server.openConnections)", "shutdownTimeout": "\(timeout)"])
        let secondSignal = Task {
            for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                logger.warning("second stop signal (\(signal)): exiting at once")
                exit(1)
            }
        }
        defer { secondSignal.cancel() }
        let finished = await gateway.drain(timeout: .nanoseconds(Int64(timeout * 1_000_000_000)))
        if !finished { logger.warning("shutdownTimeout passed: remaining connections closed") }
    }
}
