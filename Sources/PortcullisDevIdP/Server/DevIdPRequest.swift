import Foundation
import NIOCore
import NIOHTTP1

/// One complete request as the endpoints see it: decoded path segments, query parameters
/// and the (size-capped) body.
struct DevIdPRequest: Sendable {
    var method: HTTPMethod
    /// The path split on `/`, each segment percent-decoded, empty segments dropped.
    var segments: [String]
    var query: FormParameters
    var headers: HTTPHeaders
    var body: ByteBuffer

    /// `nil` when the target's path or query has malformed percent escapes.
    init?(head: HTTPRequestHead, body: ByteBuffer) {
        let uri = head.uri
        let pathEnd = uri.firstIndex { $0 == "?" || $0 == "#" } ?? uri.endIndex
        var segments: [String] = []
        for raw in uri[..<pathEnd].split(separator: "/") {
            guard let segment = FormCoding.decode(raw, plusIsSpace: false) else { return nil }
            segments.append(segment)
        }
        var queryText = Substring("")
        if pathEnd < uri.endIndex, uri[pathEnd] == "?" {
            queryText = uri[uri.index(after: pathEnd)...]
            if let fragment = queryText.firstIndex(of: "#") { queryText = queryText[..<fragment] }
        }
        guard let query = FormParameters(encoded: queryText) else { return nil }
        self.method = head.method
        self.segments = segments
        self.query = query
        self.headers = head.headers
        self.body = body
    }

    /// The body as form parameters: empty unless the content type is
    /// `application/x-www-form-urlencoded` (OAuth's only body encoding), `nil` when malformed.
    var form: FormParameters? {
        let contentType = headers.first(name: "content-type")?.lowercased() ?? ""
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else { return FormParameters() }
        return FormParameters(encoded: String(buffer: body))
    }

    /// The bearer token of an `Authorization` header, if any.
    var bearerToken: String? {
        guard let value = headers.first(name: "authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}
