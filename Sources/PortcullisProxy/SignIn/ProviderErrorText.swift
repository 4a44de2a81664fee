/// Friendly text for errors the identity provider sends back to the callback
/// (`error`, `error_description`). Decisions use the AADSTS number, never the description's
/// wording; nothing from the description is shown except a correlation id that has the
/// exact shape of a GUID, so attacker-supplied text is never reflected.
struct ProviderErrorText: Equatable {
    var title: String
    var message: String
    /// `AADSTS50105`, when the description starts with such a code.
    var code: String?
    var correlationID: String?

    init(error: String, description: String?) {
        let number = description.flatMap(Self.aadstsNumber)
        code = number.map { "AADSTS\($0)" }
        correlationID = description.flatMap(Self.correlationID)
        title = "Sign-in failed"
        switch number {
        case 50105:
            message = "Your account is not assigned to this application. Ask your administrator to give you access."
        case 65001, 65004:
            message = "The application has not been granted the permissions it needs. Ask your administrator to grant consent."
        case 700016:
            message = "This application is not registered in your organisation's directory. Tell your administrator."
        case 7000215, 7000222, 7000218:
            message = "The gateway's credentials for this application are invalid or expired. Tell your administrator."
        case 50020, 500200:
            message = "Your account's organisation is not allowed to use this application."
        case 50057:
            message = "Your account is disabled."
        case 50076, 50079, 50158:
            message = "Additional verification is required. Please sign in again."
        default:
            switch error {
            case "access_denied": message = "Sign-in was cancelled or refused."
            case "consent_required", "interaction_required", "login_required":
                message = "Your organisation needs to approve this application before you can use it. Ask your administrator."
            case "temporarily_unavailable", "server_error": message = "The sign-in service had a problem. Please try again shortly."
            default: message = "The sign-in service refused the request."
            }
        }
    }

    /// The number of a leading `AADSTSnnnn`.
    static func aadstsNumber(_ description: String) -> Int? {
        guard description.hasPrefix("AADSTS") else { return nil }
        let digits = description.dropFirst(6).prefix(while: \.isNumber)
        return digits.isEmpty || digits.count > 9 ? nil : Int(digits)
    }

    /// The GUID after `Correlation ID: ` in Entra's description, if it is exactly a GUID.
    static func correlationID(_ description: String) -> String? {
        guard let range = description.range(of: "Correlation ID: ") else { return nil }
        let candidate = description[range.upperBound...].prefix(36)
        let isGUID =
            candidate.count == 36
            && candidate.enumerated().allSatisfy { index, character in
                [8, 13, 18, 23].contains(index) ? character == "-" : character.isHexDigit
            }
        return isGUID ? String(candidate) : nil
    }
}
