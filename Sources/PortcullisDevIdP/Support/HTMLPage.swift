import PortcullisCore
/// The frame of every page the IdP shows, so the "not for production" banner can never be
/// forgotten on a new page.
enum HTMLPage {
    static let banner = "Portcullis development IdP — not for production"

    /// `body` must already be escaped; `head` is extra markup for `<head>` (a meta refresh).
    static func render(title: String, body: String, head: String = "", onload: String? = nil) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · \(escape(banner))</title>
        <meta name="robots" content="noindex">\(head)
        <style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}\
        .banner{background:#b00020;color:#fff;padding:.5rem 1rem;font-weight:bold}\
        li{margin:.5rem 0}small{color:#555}</style></head>
        <body\(onload.map { " onload=\"\(escape($0))\"" } ?? "")><p class="banner" role="alert">\(escape(banner))</p>
        <h1>\(escape(title))</h1>
        \(body)
        </body></html>
        """
    }

    /// Escapes text for element content and double- or single-quoted attribute values.
    static func escape(_ text: String) -> String { HTMLText.escaped(text) }
}
