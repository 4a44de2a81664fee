import Foundation
import Testing

@testable import PortcullisCore

@Suite("Canonical account names")
struct AccountNameTests {
    @Test("one spelling per name", arguments: [
        ("Alice", "alice"),
        ("  alice\t\n", "alice"),
        ("ALICE@CONTOSO.EXAMPLE", "alice@contoso.example"),
        ("ａｌｉｃｅ", "alice"),  // fullwidth
        ("\u{3000}alice\u{3000}", "alice"),  // ideographic spaces
        ("ﬁnance", "finance"),  // ligature
        ("Ａｄｍｉｎ＠Ｃｏｎｔｏｓｏ．ｅｘａｍｐｌｅ", "admin@contoso.example"),
        ("Jose\u{0301}", "jos\u{00E9}"),  // decomposed accent composes
        ("JOSÉ", "jos\u{00E9}"),
        ("ⅸ", "ix"),  // compatibility numeral
        ("", ""),
        ("   ", ""),
    ])
    func canonical(input: String, expected: String) {
        let result = AccountName.canonical(input)
        #expect(result == expected)
        #expect(Array(result.unicodeScalars) == Array(expected.unicodeScalars), "compared by scalars, not only by String equality")
        #expect(AccountName.canonical(result) == result, "idempotent")
    }

    @Test("inner whitespace and distinct letters are kept")
    func keepsDifferences() {
        #expect(AccountName.canonical("a b") == "a b")
        #expect(AccountName.canonical("alice") != AccountName.canonical("alíce"))
        #expect(AccountName.canonical("İstanbul") == AccountName.canonical(AccountName.canonical("İstanbul")))
    }
}
