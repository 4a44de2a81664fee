import Foundation
import PortcullisAuth
import PortcullisCore
import PortcullisTestSupport
import Testing

/// Warnings before a sign-in credential expires: the secret's date from the config, the
/// certificate's `notAfter` from the certificate itself.
@Suite("Credential expiry")
struct CredentialExpiryTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("dates: a day (the end of it, UTC) or a full timestamp")
    func dates() throws {
        let day = try #require(CredentialExpiry.parseDate("2027-06-30"))
        #expect(ISO8601DateFormatter().string(from: day) == "2027-06-30T23:59:59Z")
        #expect(CredentialExpiry.parseDate("2027-06-30T12:00:00Z").map { ISO8601DateFormatter().string(from: $0) } == "2027-06-30T12:00:00Z")
        #expect(CredentialExpiry.parseDate("30/06/2027") == nil)
        #expect(CredentialExpiry.parseDate("soon") == nil)
    }

    @Test("a warning from 30 days before, saying how many are left; after, that it expired")
    func warnings() {
        func warning(inDays days: Double) -> String? {
            CredentialExpiry(field: "entra.clientSecretExpiresAt", expires: Self.now.addingTimeInterval(days * 86_400)).warning(now: Self.now)
        }
        #expect(warning(inDays: 40) == nil)
        #expect(warning(inDays: 10)?.contains("in 10 days") == true)
        #expect(warning(inDays: 0.5)?.contains("in 1 day;") == true)
        #expect(warning(inDays: -2)?.contains("expired on") == true)
        #expect(warning(inDays: 10)?.hasPrefix("entra.clientSecretExpiresAt:") == true)
    }

    @Test("the config gives the secret's expiry; the certificate's notAfter is read from the certificate")
    func fromConfig() throws {
        let secret = try GatewayConfig.load(
            Data(#"{ "routes": [{ "upstream": "http://127.0.0.1:1" }], "entra": { "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "S", "clientSecretExpiresAt": "2027-06-30" } }"#.utf8),
            environment: { _ in "x" })
        #expect(CredentialExpiry.all(in: secret).map(\.field) == ["entra.clientSecretExpiresAt"])
        // The test certificate was made to last a century (openssl says: Oct 30 01:26:12 2126 GMT).
        let notAfter = try #require(CredentialExpiry.notAfter(certificatePEM: GatewayTestCertificate.certificatePEM))
        #expect(ISO8601DateFormatter().string(from: notAfter) == "2126-10-30T01:26:12Z")
        #expect(CredentialExpiry.notAfter(certificatePEM: "not a certificate") == nil)
        do {
            _ = try GatewayConfig.load(
                Data(#"{ "routes": [{ "upstream": "http://127.0.0.1:1" }], "entra": { "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "S", "clientSecretExpiresAt": "next year" } }"#.utf8),
                environment: { _ in "x" })
            Issue.record("a bad date was accepted")
        } catch {
            #expect(error.issues.contains { $0.path == "entra.clientSecretExpiresAt" })
        }
    }
}
