/// A block of addresses, `10.0.0.0/8` or `fd00::/8`, as `trustedProxies` lists them. A bare
/// address is the block of that one address (/32 or /128).
public struct CIDRBlock: Sendable, Equatable, CustomStringConvertible {
    /// The block's first address (host bits zero).
    public let network: IPAddress
    public let prefixLength: Int

    public var description: String { "\(network)/\(prefixLength)" }

    /// Parses `address/prefix` or a bare address. Host bits must be zero (`10.0.0.1/8` is
    /// refused: either the prefix or the address is a typo, and guessing which would widen
    /// or narrow trust silently). `/0` is refused: it trusts every client to name itself.
    public static func parse(_ text: String) -> Result<CIDRBlock, ParseFailure> {
        let quoted = "\"\(TextCheck.quotable(text))\""
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress.parse(String(parts[0])) else {
            return .failure(ParseFailure(reason: "\(quoted) is not an IPv4 or IPv6 address or CIDR block"))
        }
        let mapped = parts[0].contains(":") && address.isIPv4
        let width = address.bytes.count * 8
        var prefix = width
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let written = Int(parts[1]),
                (0...(mapped ? 128 : width)).contains(written)
            else {
                return .failure(ParseFailure(reason: "\(quoted) has an invalid prefix length (0 to \(mapped ? 128 : width))"))
            }
            if mapped {
                guard written >= 96 else {
                    return .failure(ParseFailure(reason: "\(quoted): an IPv4-mapped block needs a prefix of 96 or more"))
                }
                prefix = written - 96
            } else {
                prefix = written
            }
        }
        if prefix == 0 {
            return .failure(ParseFailure(reason: "\(quoted) would trust every address, letting any client choose the address it is counted as"))
        }
        let block = CIDRBlock(network: address, prefixLength: prefix)
        guard block.masked(address) == address.bytes else {
            let network = IPAddress(bytes: block.masked(address))
            return .failure(ParseFailure(reason: "\(quoted) has bits set past the /\(prefix) prefix (did you mean \(network)/\(prefix)?)"))
        }
        return .success(block)
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == network.bytes.count && masked(address) == network.bytes
    }

    private func masked(_ address: IPAddress) -> [UInt8] {
        address.bytes.enumerated().map { index, byte in
            let bitsInByte = max(0, min(8, prefixLength - index * 8))
            return byte & UInt8(truncatingIfNeeded: 0xFF << (8 - bitsInByte))
        }
    }

    public struct ParseFailure: Error, Sendable {
        public var reason: String
    }
}
