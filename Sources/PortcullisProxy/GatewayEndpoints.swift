import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore

/// A response the gateway produces itself, without an upstream.
struct LocalResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    var headers: HTTPHeaders = [:]
}

/// What the gateway answers for a request it does not proxy.
enum LocalAnswer: Sendable {
    case page(GatewayPage)
    case response(LocalResponse)
    /// Control-plane work (name resolution, sign-in) finishing on the client's loop.
    case deferred(EventLoopFuture<LocalAnswer>)
    /// The answer needs the request body (a form POST), collected up to `limit` bytes.
    case withBody(limit: Int, @Sendable (ByteBuffer) -> LocalAnswer)
}

/// The gateway's own endpoints under the reserved prefix `/.portcullis/`. No route can
/// claim this prefix, so these answer the same whatever the routes say.
struct GatewayEndpoints {
    static let prefix = "/.portcullis/"

    let runtime: GatewayRuntime
    let threadPool: NIOThreadPool

    func answer(_ head: HTTPRequestHead, target: RequestTarget, peer: String, on eventLoop: EventLoop) -> LocalAnswer {
        let name = target.path.dropFirst(Self.prefix.count)
        if let signIn = runtime.signIn, let answer = signInAnswer(name, signIn, head, target, peer, eventLoop) {
            return answer
        }
        switch name {
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

    /// The sign-in endpoints; nil for any other name.
    private func signInAnswer(
        _ name: Substring, _ signIn: SignInService, _ head: HTTPRequestHead, _ target: RequestTarget, _ peer: String,
        _ eventLoop: EventLoop
    ) -> LocalAnswer? {
        let headers = head.headers
        switch (name, head.method) {
        case ("login", .GET), ("login", .HEAD):
            let query = target.query.map(String.init)
            return .deferred(eventLoop.makeFutureWithTask { await signIn.login(query: query.map { Substring($0) }, headers: headers, peer: peer) })
        case ("callback", .GET):
            let parameters = FormURLEncoding.uniqueParameters(target.query)
            return .deferred(eventLoop.makeFutureWithTask { await signIn.callback(parameters: parameters, headers: headers, peer: peer) })
        case ("callback", .POST):
            // response_mode=form_post: the code arrives in a form body.
            return .withBody(limit: 64 * 1024) { body in
                let parameters = FormURLEncoding.uniqueParameters(Substring(String(buffer: body)))
                return .deferred(eventLoop.makeFutureWithTask { await signIn.callback(parameters: parameters, headers: headers, peer: peer) })
            }
        case ("logout", .GET), ("logout", .POST):
            return .deferred(eventLoop.makeFutureWithTask { await signIn.logout(headers: headers, peer: peer) })
        case ("frontchannel-logout", .GET):
            let query = target.query.map { String($0) }
            return .deferred(eventLoop.makeFutureWithTask { await signIn.frontChannelLogout(query: query.map { Substring($0) }, peer: peer) })
        case ("signed-out", .GET), ("signed-out", .HEAD):
            return .page(
                GatewayPage(
                    status: .ok, title: "Signed out", message: "You have signed out.", link: ("Sign in again", "/.portcullis/login")))
        case ("login", _), ("callback", _), ("logout", _), ("frontchannel-logout", _), ("signed-out", _):
            return .page(GatewayPage(status: .methodNotAllowed, title: "Method not allowed", message: "This address does not accept that method."))
        default:
            return nil
        }
    }
}
