import Foundation
import NIOHTTP1
import PortcullisCore

/// A sliver of Microsoft Graph: `GET /v1.0/me/transitiveMemberOf`, how a gateway reads the
/// groups of a user whose token carried the overage marker instead of `groups`.
///
/// Two traps of the real API are reproduced on purpose: results are paged (tiny pages here,
/// so a client that ignores `@odata.nextLink` loses groups) and the list mixes in a
/// directory role, which a client must filter out by `@odata.type`.
struct GraphEndpoint {
    let authority: DevIdPAuthority

    static let pageSize = 2
    /// The one directory role every user appears to hold ("Directory Readers").
    static let directoryRoleID = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"

    func transitiveMemberOf(_ request: DevIdPRequest) -> DevIdPResponse {
        guard request.method == .GET || request.method == .HEAD else {
            return Self.error(.methodNotAllowed, code: "Request_BadRequest", "Only GET is supported.")
        }
        let now = authority.now()
        let user: DevIdPUser? = authority.state.withLockedValue { state in
            guard let token = request.bearerToken, let grant = state.ledger.accessTokens[token], grant.expires > now else {
                return nil
            }
            return state.directory.user(grant.userKey)
        }
        guard let user else {
            return Self.error(
                .unauthorized, code: "InvalidAuthenticationToken",
                request.bearerToken == nil ? "Access token is empty." : "Access token has expired or is not valid yet.")
        }
        var objects: [JSONValue] = user.groups.enumerated().map { index, id in
            .object([
                ("@odata.type", .string("#microsoft.graph.group")), ("id", .string(id)),
                ("displayName", .string("Development group \(index + 1)")), ("securityEnabled", .bool(true)),
            ])
        }
        let role = JSONValue.object([
            ("@odata.type", .string("#microsoft.graph.directoryRole")), ("id", .string(Self.directoryRoleID)),
            ("displayName", .string("Directory Readers")),
            ("roleTemplateId", .string("88d8e3e3-8f55-4a1e-953a-9b9898b8876b")),
        ])
        objects.insert(role, at: min(1, objects.count))

        let offset: Int
        if let token = request.query["$skiptoken"] {
            guard let decoded = Base64URL.decode(token).flatMap({ String(validating: $0, as: UTF8.self) }),
                decoded.hasPrefix("devidp:"), let value = Int(decoded.dropFirst("devidp:".count)),
                (0...objects.count).contains(value)
            else { return Self.error(.badRequest, code: "Request_BadRequest", "Invalid $skiptoken.") }
            offset = value
        } else {
            offset = 0
        }
        let end = min(offset + Self.pageSize, objects.count)
        var page: [(String, JSONValue)] = [
            ("@odata.context", .string("\(authority.baseURL)/v1.0/$metadata#directoryObjects"))
        ]
        if end < objects.count {
            let next = Base64URL.encode("devidp:\(end)")
            page.append(("@odata.nextLink", .string("\(authority.baseURL)/v1.0/me/transitiveMemberOf?$skiptoken=\(next)")))
        }
        page.append(("value", .array(Array(objects[offset..<end]))))
        return .json(.object(page))
    }

    static func error(_ status: HTTPResponseStatus, code: String, _ message: String) -> DevIdPResponse {
        .json(
            .object([
                ("error",
                 .object([
                    ("code", .string(code)), ("message", .string(message)),
                    ("innerError", .object([
                        ("date", .string(ISO8601DateFormatter().string(from: Date()))),
                        ("request-id", .string(UUID().uuidString.lowercased())),
                    ])),
                 ]))
            ]), status: status)
    }
}
