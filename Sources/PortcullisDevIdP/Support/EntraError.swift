import Foundation
import NIOHTTP1

/// An OAuth error in the shape Entra ID gives it, so clients are tested against the real
/// error format: `error_description` starts with `AADSTSnnnn:` and ends with trace and
/// correlation ids and a timestamp separated by CRLF, and `error_codes` repeats the number.
struct EntraError: Error, Sendable {
    var error: String
    var code: Int
    var message: String
    var status: HTTPResponseStatus

    init(_ error: String, _ code: Int, _ message: String, status: HTTPResponseStatus = .badRequest) {
        self.error = error
        self.code = code
        self.message = message
        self.status = status
    }

    /// Identifiers and time of one occurrence; Entra puts the same values in the description
    /// and in the JSON members.
    struct Occurrence: Sendable {
        var traceID = UUID().uuidString.lowercased()
        var correlationID = UUID().uuidString.lowercased()
        var timestamp = Date()

        /// `yyyy-MM-dd HH:mm:ssZ`, as in Entra's error descriptions.
        var descriptionTimestamp: String {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            return formatter.string(from: timestamp).replacingOccurrences(of: "T", with: " ")
        }
    }

    func description(_ occurrence: Occurrence) -> String {
        "AADSTS\(code): \(message)\r\nTrace ID: \(occurrence.traceID)\r\nCorrelation ID: \(occurrence.correlationID)"
            + "\r\nTimestamp: \(occurrence.descriptionTimestamp)"
    }

    var errorURI: String { "https://login.microsoftonline.com/error?code=\(code)" }

    /// The token endpoint's JSON body.
    var json: JSONValue {
        let occurrence = Occurrence()
        return .object([
            ("error", .string(error)),
            ("error_description", .string(description(occurrence))),
            ("error_codes", .array([.int(code)])),
            ("timestamp", .string(occurrence.descriptionTimestamp)),
            ("trace_id", .string(occurrence.traceID)),
            ("correlation_id", .string(occurrence.correlationID)),
            ("error_uri", .string(errorURI)),
        ])
    }

    /// The parameters sent back to a client's redirect URI.
    func redirectParameters(state: String?) -> FormParameters {
        var parameters = FormParameters()
        parameters.set("error", error)
        parameters.set("error_description", description(Occurrence()))
        parameters.set("error_uri", errorURI)
        if let state { parameters.set("state", state) }
        return parameters
    }
}

extension EntraError {
    static func missingParameter(_ name: String) -> EntraError {
        EntraError("invalid_request", 900144, "The request body must contain the following parameter: '\(name)'.")
    }

    static func tenantNotFound(_ tenant: String) -> EntraError {
        EntraError(
            "invalid_tenant", 90002,
            "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
    }

    static func clientNotFound(_ clientID: String) -> EntraError {
        EntraError(
            "unauthorized_client", 700016,
            "Application with identifier '\(clientID)' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant.",
            status: .badRequest)
    }

    /// The error for a user whose directory entry carries `signInError` (`"AADSTS50105"` …),
    /// with the OAuth error code Entra pairs with it.
    static func simulatedSignIn(_ signInError: String, user: DevIdPUser, clientID: String) -> EntraError {
        let code = Int(signInError.filter(\.isNumber)) ?? 0
        switch code {
        case 50105:
            return EntraError(
                "access_denied", code,
                "The signed in user '\(user.preferredUsername)' is not assigned to a role for the application '\(clientID)'.")
        case 65001:
            return EntraError(
                "consent_required", code,
                "The user or administrator has not consented to use the application with ID '\(clientID)'. Send an interactive authorization request for this user and resource.")
        case 700016:
            return EntraError("invalid_client", code, "Application with identifier '\(clientID)' was not found in the directory.")
        case 7000215:
            return EntraError("invalid_client", code, "Invalid client secret provided.")
        case 50057:
            return EntraError("access_denied", code, "The user account is disabled.")
        default:
            return EntraError("server_error", code, "Sign-in failed for '\(user.preferredUsername)' (simulated \(signInError)).")
        }
    }
}
