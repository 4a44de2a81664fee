import Foundation
import PortcullisCore
import X509

extension CredentialExpiry {
    /// The expiry of every credential `config` signs in with that has one: the client
    /// secret's (when `entra.clientSecretExpiresAt` says) and the client certificate's
    /// `notAfter`.
    public static func all(in config: GatewayConfig) -> [CredentialExpiry] {
        guard let entra = config.entra else { return [] }
        switch entra.credential {
        case .secret:
            return entra.clientSecretExpiresAt.map { [CredentialExpiry(field: "entra.clientSecretExpiresAt", expires: $0)] } ?? []
        case .certificate(let certificate):
            return notAfter(certificatePEM: certificate.certificatePEM).map {
                [CredentialExpiry(field: "entra.clientCertificate.certificateFile", expires: $0)]
            } ?? []
        }
    }

    /// The first certificate's `notAfter` in `pem` (the leaf of a chain); nil when there is
    /// none to read.
    public static func notAfter(certificatePEM pem: String) -> Date? {
        guard let der = PEMBlock.first("CERTIFICATE", in: pem), let certificate = try? Certificate(derEncoded: der) else { return nil }
        return certificate.notValidAfter
    }
}
