import Testing

/// Bodies stream with backpressure: a gigabyte passes through with flat memory.
@Suite("Proxy streaming (live)", .serialized)
struct ProxyStreamingTests {
    static let gigabyte = 1 << 30
    /// Allowed growth of this process's RSS while a gigabyte passes (client, gateway and
    /// upstream all live in this process, so any of them buffering would show).
    static let allowedGrowth = 96 << 20

    @Test("a 1 GiB download streams through with flat memory")
    func download() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client(keepBody: false)
            let sampler = RSSSampler()
            let response = try await client.send("/.echo/download?bytes=\(Self.gigabyte)")
            let growth = sampler.stop()
            #expect(response.status == 200)
            #expect(response.bodyBytes == Self.gigabyte)
            #expect(growth < Self.allowedGrowth, "RSS grew by \(growth >> 20) MiB")
            await client.close()
        }
    }

    @Test("a 1 GiB upload streams through with flat memory")
    func upload() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client()
            let sampler = RSSSampler()
            let response = try await client.upload("/sink", bytes: Self.gigabyte)
            let growth = sampler.stop()
            #expect(response.status == 200)
            #expect(try response.echoedBodyBytes() == Self.gigabyte)
            #expect(growth < Self.allowedGrowth, "RSS grew by \(growth >> 20) MiB")
            await client.close()
        }
    }

    @Test("keep-alive: many requests share one upstream connection")
    func pooling() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client()
            for index in 0..<20 {
                #expect(try await client.send("/n/\(index)").status == 200)
            }
            #expect(gateway.echo.acceptedConnections == 1)
            // A second client on any loop reuses pooled connections too (at most one per loop).
            let second = try await gateway.client()
            for index in 0..<5 { #expect(try await second.send("/m/\(index)").status == 200) }
            #expect(gateway.echo.acceptedConnections <= 2)
            await client.close()
            await second.close()
        }
    }
}

/// Samples RSS on a background thread and reports the peak growth over the start value.
final class RSSSampler: @unchecked Sendable {
    private let start = residentBytes()
    private var peak = 0
    private var running = true
    private let lock = NSLock()
    private var thread: Thread?

    init() {
        peak = start
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let now = residentBytes()
                lock.withLock { peak = max(peak, now) }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        thread.start()
        self.thread = thread
    }

    func stop() -> Int {
        lock.withLock {
            running = false
            return max(peak, residentBytes()) - start
        }
    }
}

import Foundation
