import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Answers `/.portcullis/readyz`: is every upstream host name resolvable? Results are cached
/// for a few seconds so a polling load balancer does not turn into a DNS flood; resolution
/// runs on a thread pool, never on an event loop.
final class ReadinessProbe: Sendable {
    private let hosts: [String]
    private let cache = NIOLockedValueBox<(at: NIODeadline, failures: [String])?>(nil)

    init(hosts: Set<String>) {
        self.hosts = hosts.sorted()
    }

    /// The hosts that do not resolve (empty when ready).
    func check(on eventLoop: EventLoop, threadPool: NIOThreadPool) -> EventLoopFuture<[String]> {
        if let cached = cache.withLockedValue({ $0 }), cached.at + .seconds(5) > .now() {
            return eventLoop.makeSucceededFuture(cached.failures)
        }
        let hosts = self.hosts
        return threadPool.runIfActive(eventLoop: eventLoop) {
            hosts.filter { !Self.resolves($0) }
        }.map { failures in
            self.cache.withLockedValue { $0 = (.now(), failures) }
            return failures
        }
    }

    static func resolves(_ host: String) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        return status == 0
    }
}
