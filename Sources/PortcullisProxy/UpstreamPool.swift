import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortcullisCore

/// Keep-alive connections to upstreams for one event loop.
///
/// Every exchange runs on its client connection's loop and takes upstream connections from
/// that loop's pool, so reuse needs no lock and no thread hop (see docs/architecture.md).
/// Sendable only so it can be handed to its own loop: every method asserts it runs there.
final class UpstreamPool: @unchecked Sendable {
    let eventLoop: EventLoop
    private let maxIdlePerUpstream: Int
    private let idleTimeout: TimeAmount
    /// Idle connections per upstream, most recently parked last. A short list searched in
    /// order: a gateway has a handful of upstreams, and comparing keys that share their
    /// strings with the route is cheaper than hashing them per request.
    @exclusivity(unchecked) private var idle: [(key: UpstreamKey, connections: [UpstreamConnection])] = []
    @exclusivity(unchecked) private var sweeper: RepeatedTask?

    init(eventLoop: EventLoop, maxIdlePerUpstream: Int, idleTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        self.maxIdlePerUpstream = maxIdlePerUpstream
        self.idleTimeout = idleTimeout
    }

    private func slot(_ key: UpstreamKey) -> Int? {
        idle.firstIndex { $0.key == key }
    }

    /// An idle open connection to `key`, most recently used first (likeliest still open).
    func takeIdle(_ key: UpstreamKey) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        guard let slot = slot(key) else { return nil }
        while let connection = idle[slot].connections.popLast() {
            if !connection.isClosed { return connection }
        }
        return nil
    }

    /// Returns a connection after a complete exchange; closes it when the pool is full.
    func park(_ connection: UpstreamConnection, now: NIODeadline = .now()) {
        eventLoop.assertInEventLoop()
        guard !connection.isClosed else { return }
        connection.delegate = nil
        connection.idleSince = now
        let slot: Int
        if let existing = self.slot(connection.key) {
            slot = existing
        } else {
            idle.append((connection.key, []))
            slot = idle.count - 1
        }
        // Closed connections are dropped lazily, when they would take a slot.
        if idle[slot].connections.count >= maxIdlePerUpstream {
            idle[slot].connections.removeAll { $0.isClosed }
        }
        guard idle[slot].connections.count < maxIdlePerUpstream else {
            connection.close()
            return
        }
        idle[slot].connections.append(connection)
        startSweeperIfNeeded()
    }

    /// Opens a new connection on this loop.
    /// `tls`: for an `https` upstream, its client context; the server name is sent (SNI) and
    /// verified unless the host is an IP address, which is verified against the certificate's
    /// IP addresses instead.
    func connect(
        _ key: UpstreamKey, address: SocketAddress?, timeout: TimeAmount, headerRules: HeaderRules, tls: NIOSSLContext? = nil
    ) -> EventLoopFuture<UpstreamConnection> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let name = IPAddress.parse(key.host) == nil ? key.host : nil
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    // No HTTP codecs: UpstreamConnection writes encoded requests and parses the
                    // responses itself.
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(key: key, headerRules: headerRules))
                }
            }
        let connected = address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: key.host, port: key.port)
        return connected.flatMapThrowing { channel in
            try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
        }
    }

    /// Closes idle connections older than the idle timeout.
    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        let interval = TimeAmount.nanoseconds(max(idleTimeout.nanoseconds / 2, 100_000_000))
        sweeper = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.sweep()
        }
    }

    private func sweep() {
        eventLoop.assertInEventLoop()
        let cutoff = NIODeadline.now() - idleTimeout
        for slot in idle.indices {
            var keep: [UpstreamConnection] = []
            for connection in idle[slot].connections {
                if connection.isClosed { continue }
                if connection.idleSince < cutoff { connection.close() } else { keep.append(connection) }
            }
            idle[slot].connections = keep
        }
    }

    func closeAll() {
        eventLoop.assertInEventLoop()
        sweeper?.cancel()
        sweeper = nil
        for entry in idle { entry.connections.forEach { $0.close() } }
        idle = []
    }

    var idleCount: Int { idle.reduce(0) { $0 + $1.connections.count } }
}

/// Each event loop's own data-plane state: its upstream pool and the runtime (config) its
/// connections serve the next request with. Both are touched only on that loop, so reading
/// the current config per request takes no lock; a reload hands every loop the new runtime
/// (``GatewayLoops/install(_:)``), and requests in flight keep the one they started with.
final class GatewayLoop: @unchecked Sendable {
    let pool: UpstreamPool
    @exclusivity(unchecked) var runtime: GatewayRuntime
    /// This loop's signed assertions (used on the loop only).
    let assertions = AssertionCache()
    /// This loop's request counters (used on the loop only; a scrape reads them there).
    let metrics = LoopMetrics()

    init(pool: UpstreamPool, runtime: GatewayRuntime) {
        self.pool = pool
        self.runtime = runtime
    }
}

/// The ``GatewayLoop`` of every event loop of the gateway's group.
final class GatewayLoops: @unchecked Sendable {
    private let loops: [ObjectIdentifier: GatewayLoop]

    init(group: EventLoopGroup, runtime: GatewayRuntime) {
        var loops: [ObjectIdentifier: GatewayLoop] = [:]
        for loop in group.makeIterator() {
            let pool = UpstreamPool(
                eventLoop: loop, maxIdlePerUpstream: runtime.config.upstreamPool.maxIdlePerUpstream,
                idleTimeout: .fromSeconds(runtime.config.upstreamPool.idleTimeout))
            loops[ObjectIdentifier(loop)] = GatewayLoop(pool: pool, runtime: runtime)
        }
        self.loops = loops
    }

    func loop(for eventLoop: EventLoop) -> GatewayLoop {
        guard let loop = loops[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("event loop outside the gateway's group")
        }
        return loop
    }

    /// Every loop's request counters, read on each loop and added up by route.
    func snapshot() async -> LoopMetrics.Snapshot {
        var merged = LoopMetrics.Snapshot()
        for loop in loops.values {
            guard let snapshot = try? await loop.pool.eventLoop.submit({ loop.metrics.snapshot }).get() else { continue }
            merged.merge(snapshot)
        }
        return merged
    }

    /// Makes `runtime` the one each loop serves its next request with; completes once every
    /// loop has it.
    func install(_ runtime: GatewayRuntime) async {
        await withTaskGroup(of: Void.self) { group in
            for loop in loops.values {
                group.addTask {
                    try? await loop.pool.eventLoop.submit { loop.runtime = runtime }.get()
                }
            }
        }
    }

    func closeAll() async {
        await withTaskGroup(of: Void.self) { group in
            for loop in loops.values {
                group.addTask { try? await loop.pool.eventLoop.submit { loop.pool.closeAll() }.get() }
            }
        }
    }
}
