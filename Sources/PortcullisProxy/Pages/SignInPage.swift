import Mustache
import PortcullisCore

/// The gateway's own sign-in page: one template, rendered with swift-mustache (every `{{ }}`
/// value is HTML-escaped), small, accessible (each field has a label; an error is an alert,
/// tied to its field with `aria-describedby`, and takes the focus) and brandable from `sso.branding`.
struct SignInPage {
    /// Which step the form asks for.
    enum Step: String {
        /// Email-first step one: who are you?
        case identify
        case password
        case totp
    }

    var step: Step
    var branding: BrandingConfig
    var csrf: String
    var returnTo: String
    var username: String = ""
    /// The generic error shown above the form (never says which part was wrong).
    var error: String?
    /// Offer Entra sign-in beside the form (SSO on and configured).
    var entraURL: String?
    /// Why local sign-in is offered to everyone (the SSO switch is off, or Entra is down).
    var notice: String?
    /// The sealed proof that the password step passed, carried to the TOTP step.
    var passed: String?

    func render() -> String {
        let context: [String: Any] = [
            "productName": branding.productName, "logoURL": branding.logoURL ?? "", "hasLogo": branding.logoURL != nil,
            "helpText": branding.helpText ?? "", "hasHelp": branding.helpText != nil,
            "supportContact": branding.supportContact ?? "", "hasSupport": branding.supportContact != nil,
            "csrf": csrf, "returnTo": returnTo, "username": username,
            "error": error ?? "", "hasError": error != nil,
            "entraURL": entraURL ?? "", "hasEntra": entraURL != nil,
            "notice": notice ?? "", "hasNotice": notice != nil,
            "passed": passed ?? "",
            "identify": step == .identify, "password": step == .password, "totp": step == .totp,
            "step": step.rawValue,
        ]
        return Self.template.render(context)
    }

    static let template: MustacheTemplate = try! MustacheTemplate(
        string: """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Sign in · {{productName}}</title>
            <style>
            body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}
            h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem;font-weight:600}
            input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #767676;border-radius:4px}
            input:focus,button:focus,a:focus{outline:3px solid #005fcc;outline-offset:2px}
            button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;background:#0b57d0;color:#fff;border:0;border-radius:4px}
            .error{background:#fde7e9;border:1px solid #b3261e;color:#8c1d18;padding:.6rem;border-radius:4px}
            .notice{background:#fff4ce;border:1px solid #8a6d00;padding:.6rem;border-radius:4px}
            .alt{margin-top:1.5rem;text-align:center}small{color:#555}
            </style></head>
            <body><main>
            {{#hasLogo}}<img src="{{logoURL}}" alt="{{productName}}" height="48">{{/hasLogo}}
            <h1>Sign in to {{productName}}</h1>
            {{#hasNotice}}<p class="notice" role="status">{{notice}}</p>{{/hasNotice}}
            {{#hasError}}<p class="error" id="form-error" role="alert" tabindex="-1" autofocus>{{error}}</p>{{/hasError}}
            <form method="post" action="/.portcullis/signin" novalidate>
            <input type="hidden" name="csrf" value="{{csrf}}">
            <input type="hidden" name="rd" value="{{returnTo}}">
            <input type="hidden" name="step" value="{{step}}">
            {{#identify}}
            <label for="username">Email or username</label>
            <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required{{^hasError}} autofocus{{/hasError}} value="{{username}}"{{#hasError}} aria-describedby="form-error" aria-invalid="true"{{/hasError}}>
            <button type="submit">Next</button>
            {{/identify}}
            {{#password}}
            <label for="username">Email or username</label>
            <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{{username}}"{{#hasError}} aria-describedby="form-error"{{/hasError}}>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required{{^hasError}} autofocus{{/hasError}}{{#hasError}} aria-describedby="form-error" aria-invalid="true"{{/hasError}}>
            <button type="submit">Sign in</button>
            {{/password}}
            {{#totp}}
            <input type="hidden" name="username" value="{{username}}">
            <input type="hidden" name="passed" value="{{passed}}">
            <label for="code">Authenticator code</label>
            <input id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required{{^hasError}} autofocus{{/hasError}}{{#hasError}} aria-describedby="form-error" aria-invalid="true"{{/hasError}}>
            <button type="submit">Verify</button>
            {{/totp}}
            </form>
            {{#hasEntra}}<p class="alt"><a href="{{entraURL}}">Sign in with Microsoft instead</a></p>{{/hasEntra}}
            {{#hasHelp}}<p><small>{{helpText}}</small></p>{{/hasHelp}}
            {{#hasSupport}}<p><small>Need help? {{supportContact}}</small></p>{{/hasSupport}}
            </main></body></html>

            """)
}
