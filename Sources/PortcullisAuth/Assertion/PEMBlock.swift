import Foundation

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block of a PEM file (RFC 7468), with
/// the RFC 1421 headers OpenSSL still writes for legacy encrypted keys (`Proc-Type`).
/// Text between blocks is ignored, as OpenSSL does (comments, `Bag Attributes`).
struct PEMBlock {
    var label: String
    /// `Name: value` lines before the base64 body.
    var headers: [String: String]
    /// The decoded body; nil when it is not base64 (or the END line is missing).
    var der: [UInt8]?

    /// Every block of `text`, in order.
    static func blocks(in text: String) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var current: (label: String, headers: [String: String], body: String)?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if var block = current {
                if line == "-----END \(block.label)-----" {
                    blocks.append(PEMBlock(label: block.label, headers: block.headers, der: Data(base64Encoded: block.body).map(Array.init)))
                    current = nil
                } else if line.hasPrefix("-----") {
                    // A BEGIN or a mismatched END inside a block: the block is broken.
                    blocks.append(PEMBlock(label: block.label, headers: block.headers, der: nil))
                    current = nil
                } else if block.body.isEmpty, let colon = line.firstIndex(of: ":") {
                    block.headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    current = block
                } else {
                    block.body += line
                    current = block
                }
            }
            if current == nil, line.hasPrefix("-----BEGIN "), line.hasSuffix("-----"), line.count > 16 {
                current = (String(line.dropFirst(11).dropLast(5)), [:], "")
            }
        }
        if let block = current { blocks.append(PEMBlock(label: block.label, headers: block.headers, der: nil)) }
        return blocks
    }

    /// Whether OpenSSL encrypted this block with a passphrase (PKCS#8 or the legacy
    /// `Proc-Type: 4,ENCRYPTED` header).
    /// The DER bytes of the first well-formed block labelled `label` (a certificate chain's
    /// leaf, say); nil when there is none.
    static func first(_ label: String, in text: String) -> [UInt8]? {
        blocks(in: text).first { $0.label == label && $0.der != nil }?.der
    }

    var isEncrypted: Bool {
        label == "ENCRYPTED PRIVATE KEY" || headers["Proc-Type"]?.uppercased().hasSuffix("ENCRYPTED") == true
    }
}
