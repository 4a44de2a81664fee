import NIOHTTP1

/// A complete response; the handler adds framing headers.
struct DevIdPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)]
    var body: String

    /// Every response is uncacheable (tokens and codes must never sit in a cache) and
    /// leaks no referrer (the authorize URL carries state and nonce).
    private static let common = [
        ("Cache-Control", "no-store"), ("Pragma", "no-cache"), ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
    ]

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> DevIdPResponse {
        DevIdPResponse(
            status: status, headers: common + [("Content-Type", "application/json; charset=utf-8")], body: value.text)
    }

    static func html(_ page: String, status: HTTPResponseStatus = .ok) -> DevIdPResponse {
        DevIdPResponse(status: status, headers: common + [("Content-Type", "text/html; charset=utf-8")], body: page)
    }

    static func redirect(to location: String) -> DevIdPResponse {
        DevIdPResponse(status: .found, headers: common + [("Location", location)], body: "")
    }

    static func error(_ error: EntraError) -> DevIdPResponse {
        var response = json(error.json, status: error.status)
        if error.status == .unauthorized { response.headers.append(("WWW-Authenticate", "Basic realm=\"dev-idp\"")) }
        return response
    }

    /// An HTML error page, for problems that must not be sent to an unverified redirect URI.
    static func errorPage(_ error: EntraError) -> DevIdPResponse {
        let occurrence = EntraError.Occurrence()
        let body = """
            <p>Sorry, but we’re having trouble signing you in.</p>
            <pre>\(HTMLPage.escape(error.description(occurrence)))</pre>
            """
        return html(HTMLPage.render(title: "Sign-in error", body: body), status: error.status)
    }

    static let notFound = json(
        .object([("error", .string("not_found")), ("error_description", .string("No such endpoint."))]), status: .notFound)

    static let payloadTooLarge = json(
        .object([("error", .string("invalid_request")), ("error_description", .string("Request body over 64 KiB."))]),
        status: .payloadTooLarge)
}
