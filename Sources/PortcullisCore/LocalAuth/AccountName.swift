import Foundation

/// The one spelling of an account name that every comparison uses: the users file's
/// uniqueness checks, `sso.excludedUsers`, what someone types at sign-in, and the lockout
/// keys.
///
/// A single function matters more than its exact rules: if the exclusion list and the
/// sign-in form folded names differently, `Alice` could be excluded while `alice` is not, or
/// `ａｌｉｃｅ` (fullwidth, as some keyboards type it) could dodge the lockout counted
/// against `alice`.
public enum AccountName {
    /// `input` with surrounding whitespace removed, compatibility forms folded (NFKC:
    /// fullwidth letters, ligatures, composed and decomposed accents become one spelling)
    /// and letters lowercased. Idempotent.
    public static func canonical(_ input: String) -> String {
        // NFKC again after lowercasing: a few lowercase mappings (`İ` → `i̇`) leave
        // decomposed sequences behind, and canonical(canonical(x)) must equal canonical(x).
        input.precomposedStringWithCompatibilityMapping
            .lowercased()
            .precomposedStringWithCompatibilityMapping
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
