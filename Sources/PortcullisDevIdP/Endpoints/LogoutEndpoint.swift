/// The end-session endpoint: ends the user's sign-in sessions, notifies the applications
/// through front-channel logout iframes, then returns to the client if allowed.
///
/// The return URI must be registered for the client the `id_token_hint` (or `client_id`)
/// names, otherwise the logout endpoint would be an open redirector.
struct LogoutEndpoint {
    let authority: DevIdPAuthority

    /// Seconds the page waits before returning, so the iframes can load.
    static let redirectDelay = 2

    func respond(to request: DevIdPRequest, segment: String, tenant: TenantSegment) -> DevIdPResponse {
        var parameters = request.query
        if request.method == .POST, let form = request.form {
            for (name, value) in form.pairs where parameters[name] == nil { parameters.set(name, value) }
        }
        // Expired hints are fine (that is the usual case at logout); forged ones are ignored.
        let hint = parameters.value("id_token_hint").flatMap(CompactJWT.init)
        let verifiedHint = authority.state.withLockedValue { state in hint.flatMap { state.keys.verifies($0) ? $0 : nil } }
        let clientID = verifiedHint?.payload["aud"]?.stringValue ?? parameters.value("client_id")
        let hintSID = verifiedHint?.payload["sid"]?.stringValue
        let hintOID = verifiedHint?.payload["oid"]?.stringValue
        let logoutHint = parameters.value("logout_hint")?.lowercased()

        let (client, ended, users) = authority.state.withLockedValue { state in
            let user = state.directory.users.first {
                (hintOID != nil && $0.oid == hintOID) || (logoutHint != nil && $0.preferredUsername.lowercased() == logoutHint)
            }
            let ended = state.ledger.sessions.values.filter { $0.sid == hintSID || $0.userKey == user?.key }
            for session in ended { state.ledger.sessions[session.sid] = nil }
            let users = Dictionary(state.directory.users.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
            return (clientID.flatMap(state.directory.client), ended, users)
        }

        var frames = ""
        let clients = authority.state.withLockedValue { $0.directory.clients }
        for session in ended.sorted(by: { $0.sid < $1.sid }) {
            guard let url = clients.first(where: { $0.clientId == session.clientID })?.frontchannelLogoutURL,
                let user = users[session.userKey]
            else { continue }
            var query = FormParameters()
            query.set("iss", authority.issuer(tenantID: user.tid))
            query.set("sid", session.sid)
            let src = FormCoding.appending(query, to: url)
            frames += "<iframe src=\"\(HTMLPage.escape(src))\" hidden width=\"0\" height=\"0\" title=\"front-channel logout\"></iframe>\n"
        }

        var head = ""
        var body = "<p>You signed out of your account.</p>\n" + frames
        if let target = parameters.value("post_logout_redirect_uri") {
            if let client, client.postLogoutRedirectURIs.contains(target) {
                var query = FormParameters()
                if let state = parameters["state"] { query.set("state", state) }
                let url = FormCoding.appending(query, to: target)
                head = "\n<meta http-equiv=\"refresh\" content=\"\(Self.redirectDelay);url=\(HTMLPage.escape(url))\">"
                body += "<p><a id=\"continue\" href=\"\(HTMLPage.escape(url))\">Continue</a></p>\n"
            } else {
                body += "<p>Not returning to <code>\(HTMLPage.escape(target))</code>: it is not a registered post-logout redirect URI for this client.</p>\n"
            }
        }
        body += "<p>It’s a good idea to close all browser windows.</p>"
        return .html(HTMLPage.render(title: "You signed out", body: body, head: head))
    }
}
