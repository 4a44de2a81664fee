/// The `response_mode=form_post` answer: a page that POSTs the parameters to the client.
///
/// Entra uses this mode so codes never appear in URLs (history, logs, referrers); the
/// button covers browsers without JavaScript.
enum FormPostPage {
    static func render(action: String, parameters: FormParameters) -> String {
        let inputs = parameters.pairs.map {
            "<input type=\"hidden\" name=\"\(HTMLPage.escape($0.0))\" value=\"\(HTMLPage.escape($0.1))\">"
        }.joined(separator: "\n")
        let body = """
            <form method="post" action="\(HTMLPage.escape(action))">
            \(inputs)
            <noscript><p>JavaScript is off: press the button to continue.</p></noscript>
            <button type="submit">Continue</button>
            </form>
            """
        return HTMLPage.render(title: "Signing you in…", body: body, onload: "document.forms[0].submit()")
    }
}
