import NIOCore
import NIOHTTP1
import PortcullisCore

/// A response the gateway writes itself (errors, health): an HTML page for browsers, JSON for
/// API clients, never a stack trace or unescaped input.
struct GatewayPage: Sendable {
    var status: HTTPResponseStatus
    var title: String
    var message: String
    /// Small print under the message, such as a correlation id for the helpdesk.
    var detail: String? = nil
    /// A link offered under the message (text, same-origin path).
    var link: (text: String, href: String)? = nil
    /// Extra response headers (cookies to clear, say).
    var headers: HTTPHeaders = [:]

    static func notFound() -> GatewayPage {
        GatewayPage(status: .notFound, title: "Not found", message: "No application is published at this address.")
    }
    static func badRequest(_ reason: String) -> GatewayPage {
        GatewayPage(status: .badRequest, title: "Bad request", message: "The request was refused: \(reason).")
    }
    static func headersTooLarge() -> GatewayPage {
        GatewayPage(
            status: .requestHeaderFieldsTooLarge, title: "Request headers too large",
            message: "The request headers are too large. Clearing this site's cookies usually fixes this.")
    }
    static func payloadTooLarge() -> GatewayPage {
        GatewayPage(status: .payloadTooLarge, title: "Request too large", message: "The request body is too large for this address.")
    }
    static func badGateway() -> GatewayPage {
        GatewayPage(
            status: .badGateway, title: "Application unavailable",
            message: "The application behind this gateway could not be reached. Please try again shortly.")
    }
    static func gatewayTimeout() -> GatewayPage {
        GatewayPage(
            status: .gatewayTimeout, title: "Application timed out",
            message: "The application behind this gateway did not answer in time. Please try again shortly.")
    }

    /// Renders for a client that sent `accept`; JSON when it prefers JSON over HTML.
    func render(accept: String?, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer) {
        if let accept, accept.contains("json") && !accept.contains("text/html") {
            let json = "{\"status\":\(status.code),\"error\":\"\(JSONText.escaped(title, htmlSafe: true))\",\"message\":\"\(JSONText.escaped(message, htmlSafe: true))\"}\n"
            return ("application/json", allocator.buffer(string: json))
        }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTMLText.escaped(title))</title>
            <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
            h1{font-size:1.4rem}p.code{color:#777;font-size:.9rem}</style></head>
            <body><h1>\(HTMLText.escaped(title))</h1><p>\(HTMLText.escaped(message))</p>\(extras)
            <p class="code">\(status.code) · Portcullis</p></body></html>

            """
        return ("text/html; charset=utf-8", allocator.buffer(string: html))
    }

    private var extras: String {
        var html = ""
        if let detail { html += "<p class=\"code\">\(HTMLText.escaped(detail))</p>" }
        if let link { html += "<p><a href=\"\(HTMLText.escaped(link.href))\">\(HTMLText.escaped(link.text))</a></p>" }
        return html
    }


}
