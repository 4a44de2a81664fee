import Foundation

/// The authorization endpoint: validates the request, shows a user picker, and sends the
/// chosen user's code (or simulated Entra error) back to the client.
///
/// Order matters for safety: the client and its exact redirect URI are checked before
/// anything is sent to that URI, so a forged request cannot make the IdP redirect
/// anywhere unregistered (an open redirector). Only then do errors go back to the client.
struct AuthorizeEndpoint {
    let authority: DevIdPAuthority

    func respond(to request: DevIdPRequest, segment: String, tenant: TenantSegment) -> DevIdPResponse {
        var parameters = request.query
        if request.method == .POST, let form = request.form {
            for (name, value) in form.pairs where parameters[name] == nil { parameters.set(name, value) }
        }
        let directory = authority.state.withLockedValue { $0.directory }
        guard let clientID = parameters.value("client_id") else { return .errorPage(.missingParameter("client_id")) }
        guard let client = directory.client(clientID) else { return .errorPage(.clientNotFound(clientID)) }
        guard let redirectURI = parameters.value("redirect_uri"), client.redirectURIs.contains(redirectURI) else {
            return .errorPage(
                EntraError(
                    "invalid_request", 50011,
                    "The redirect URI '\(parameters["redirect_uri"] ?? "")' specified in the request does not match the redirect URIs configured for the application '\(clientID)'."
                ))
        }

        let state = parameters["state"]
        let mode = parameters.value("response_mode") ?? "query"
        guard ["query", "fragment", "form_post"].contains(mode) else {
            let error = EntraError("invalid_request", 900141, "The response_mode '\(mode)' is not supported.")
            return Self.deliver(error.redirectParameters(state: state), to: redirectURI, mode: "query")
        }
        func fail(_ error: EntraError) -> DevIdPResponse {
            Self.deliver(error.redirectParameters(state: state), to: redirectURI, mode: mode)
        }
        guard let responseType = parameters.value("response_type") else { return fail(.missingParameter("response_type")) }
        guard responseType == "code" else {
            return fail(
                EntraError("unsupported_response_type", 700054, "response_type '\(responseType)' is not enabled for the application."))
        }
        guard let scope = parameters.value("scope") else { return fail(.missingParameter("scope")) }
        guard let challenge = parameters.value("code_challenge"), parameters["code_challenge_method"] == "S256",
            (43...128).contains(challenge.count)
        else {
            return fail(
                EntraError(
                    "invalid_request", 9002325,
                    "Proof Key for Code Exchange is required: send a code_challenge with code_challenge_method 'S256'."))
        }
        let authenticationContexts: [String]
        do {
            authenticationContexts = try ClaimsRequest.authenticationContexts(parameters.value("claims"))
        } catch {
            return fail(error)
        }

        let users = directory.users.filter(tenant.allows)
        guard let key = parameters.value("dev_user") else {
            if parameters["prompt"] == "none" {
                return fail(
                    EntraError(
                        "login_required", 50058,
                        "A silent sign-in request was sent but no user is signed in (the development IdP keeps no sign-in session)."))
            }
            return picker(
                parameters: parameters, segment: segment, users: users, clientID: clientID, redirectURI: redirectURI,
                authenticationContexts: authenticationContexts)
        }
        guard let user = users.first(where: { $0.key == key }) else {
            return .errorPage(
                EntraError(
                    "invalid_request", 50020,
                    "User account '\(key)' does not exist in tenant '\(segment)' and cannot access the application '\(clientID)'."))
        }
        if let signInError = user.signInError {
            return fail(.simulatedSignIn(signInError, user: user, clientID: clientID))
        }
        if user.disabled {
            return fail(.simulatedSignIn("AADSTS50057", user: user, clientID: clientID))
        }

        let sid = UUID().uuidString.lowercased()
        let now = authority.now()
        // Picking the user is the step-up: any user satisfies every requested context.
        let pending = AuthorizationCode(
            clientID: clientID, redirectURI: redirectURI, codeChallenge: challenge, nonce: parameters["nonce"],
            scopes: TokenGrant.scopes(scope), userKey: user.key, tenantID: tenant.tenantID, sid: sid,
            acrs: authenticationContexts, expires: now + GrantLedger.codeLifetime)
        let code = authority.state.withLockedValue { $0.ledger.issueCode(pending) }
        var answer = FormParameters()
        answer.set("code", code)
        if let state { answer.set("state", state) }
        answer.set("session_state", sid)
        return Self.deliver(answer, to: redirectURI, mode: mode)
    }

    /// Sends parameters to the (already verified) redirect URI in the requested response mode.
    static func deliver(_ parameters: FormParameters, to redirectURI: String, mode: String) -> DevIdPResponse {
        switch mode {
        case "form_post":
            return .html(FormPostPage.render(action: redirectURI, parameters: parameters))
        case "fragment":
            return .redirect(to: FormCoding.appending(parameters, to: redirectURI, separator: "#"))
        default:
            return .redirect(to: FormCoding.appending(parameters, to: redirectURI))
        }
    }

    /// The sign-in page. When authentication contexts were requested it says so in one line
    /// (`id="step-up"`), so a browser test can see that the gateway asked for a step-up.
    private func picker(
        parameters: FormParameters, segment: String, users: [DevIdPUser], clientID: String, redirectURI: String,
        authenticationContexts: [String]
    ) -> DevIdPResponse {
        let hint = parameters["login_hint"]?.lowercased()
        let ordered = users.filter { $0.preferredUsername.lowercased() == hint } + users.filter { $0.preferredUsername.lowercased() != hint }
        let base = "\(authority.baseURL)/\(FormCoding.encode(segment))/oauth2/v2.0/authorize?"
        var items = ""
        for user in ordered {
            var chosen = parameters
            chosen.set("dev_user", user.key)
            var notes: [String] = []
            if !user.roles.isEmpty { notes.append("roles: " + user.roles.joined(separator: ", ")) }
            if user.groupOverage { notes.append("group overage (\(user.groups.count) groups via Graph)") }
            if let error = user.signInError { notes.append("fails with \(error)") }
            if user.disabled { notes.append("disabled") }
            if user.preferredUsername.lowercased() == hint { notes.append("login_hint") }
            items += """
                <li><a id="user-\(HTMLPage.escape(user.key))" href="\(HTMLPage.escape(base + chosen.encoded))">\
                \(HTMLPage.escape(user.name))</a> <small>\(HTMLPage.escape(user.preferredUsername))\
                \(notes.isEmpty ? "" : " — " + HTMLPage.escape(notes.joined(separator: "; ")))</small></li>

                """
        }
        let stepUp =
            authenticationContexts.isEmpty
            ? ""
            : "<p id=\"step-up\">Extra verification requested: authentication context "
                + HTMLPage.escape(authenticationContexts.joined(separator: ", "))
                + " (picking a user satisfies it here).</p>\n"
        let body = """
            <p>Signing in to <code>\(HTMLPage.escape(clientID))</code>; the answer goes to <code>\(HTMLPage.escape(redirectURI))</code>.</p>
            \(stepUp)<p>Pick a user (no password: this is a test identity provider).</p>
            <ul>
            \(items.isEmpty ? "<li>No users in this tenant.</li>" : items)</ul>
            """
        return .html(HTMLPage.render(title: "Pick an account", body: body))
    }
}
