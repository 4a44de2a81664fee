import NIOCore
import NIOHTTP1
import NIOPosix

/// A response the gateway produces itself, without an upstream.
struct LocalResponse {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    var headers: HTTPHeaders = [:]
}

/// What the gateway answers for a request it does not proxy.
enum LocalAnswer {
    case page(GatewayPage)
    case response(LocalResponse)
    /// Control-plane work (name resolution now; sign-in later) finishing on the client's loop.
    case deferred(EventLoopFuture<LocalAnswer>)
}

/// The gateway's own endpoints under the reserved prefix `/.portcullis/`. No route can
/// claim this prefix, so these answer the same whatever the routes say.
struct GatewayEndpoints {
    static let prefix = "/.portcullis/"

    let runtime: GatewayRuntime
    let threadPool: NIOThreadPool

    func answer(_ head: HTTPRequestHead, path: Substring, on eventLoop: EventLoop) -> LocalAnswer {
        switch path.dropFirst(Self.prefix.count) {
        case "healthz":
            return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "ok\n"))
        case "readyz":
            let future = runtime.readiness.check(on: eventLoop, threadPool: threadPool).map { failures -> LocalAnswer in
                if failures.isEmpty {
                    return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "ready\n"))
                }
                let list = failures.joined(separator: ", ")
                return .response(
                    LocalResponse(
                        status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                        body: "not ready: cannot resolve upstream host(s) \(list)\n"))
            }.recover { _ in
                .response(LocalResponse(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: "not ready\n"))
            }
            return .deferred(future)
        default:
            return .page(.notFound())
        }
    }
}
