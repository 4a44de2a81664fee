import Foundation
import PortcullisCore

/// A JWS in compact serialization, split and decoded but not yet trusted.
struct CompactJWT: Sendable {
    var header: JSONValue
    var payload: JSONValue
    /// `base64url(header) "." base64url(payload)`, the bytes the signature covers.
    var signingInput: Data
    var signature: Data

    /// `nil` for anything that is not three base64url parts holding JSON objects.
    init?(_ token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Base64URL.decode(parts[0]).map({ Data($0) }), let payloadData = Base64URL.decode(parts[1]).map({ Data($0) }),
            let signature = Base64URL.decode(parts[2]).map({ Data($0) }), let header = JSONValue.parse(headerData),
            let payload = JSONValue.parse(payloadData), case .object = header, case .object = payload
        else { return nil }
        self.header = header
        self.payload = payload
        self.signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
    }
}
