import Foundation

/// The proxies in front of the gateway (load balancers, TLS terminators) whose
/// `X-Forwarded-For` is believed, to find the address a request really came from.
///
/// That address keys the login throttle and goes into the audit log. Behind a load balancer
/// every connection comes from the balancer, so without this all clients would share one
/// address and one lockout; but believing `X-Forwarded-For` from anyone would let a client
/// name any address it likes (a fresh one per guess). Only entries appended by trusted
/// proxies are believed, read from the right, where each proxy appends its own peer.
public struct TrustedProxies: Sendable, Equatable {
    public let blocks: [CIDRBlock]

    /// Trusts nobody: the client address is always the connection's peer.
    public static let none = TrustedProxies(blocks: [])

    public init(blocks: [CIDRBlock]) {
        self.blocks = blocks
    }

    /// Parses `trustedProxies` entries; every bad entry is reported as `trustedProxies[i]`.
    public static func parse(_ entries: [String]) -> Result<TrustedProxies, ConfigError> {
        var blocks: [CIDRBlock] = []
        var issues: [ConfigIssue] = []
        for (index, entry) in entries.enumerated() {
            switch CIDRBlock.parse(entry) {
            case .success(let block): blocks.append(block)
            case .failure(let failure): issues.append(ConfigIssue(path: "trustedProxies[\(index)]", reason: failure.reason))
            }
        }
        return issues.isEmpty ? .success(TrustedProxies(blocks: blocks)) : .failure(ConfigError(issues: issues))
    }

    /// Whether `address` (a plain IPv4 or IPv6 address) is in a trusted block.
    public func contains(_ address: String) -> Bool {
        IPAddress.parse(address).map(contains) ?? false
    }

    public func contains(_ address: IPAddress) -> Bool {
        blocks.contains { $0.contains(address) }
    }

    /// The client's address, normalized (IPv4-mapped IPv6 as IPv4, IPv6 compressed
    /// lowercase). It is `peer` unless `peer` is trusted; then `forwardedFor` (every
    /// `X-Forwarded-For` value in header order, each possibly comma-separated) is read from
    /// the right, past trusted addresses, to the first untrusted one. When all are trusted,
    /// the left-most is the client. A malformed entry (`unknown`, garbage) ends the walk
    /// at the last good address: what lies left of it was written by someone untrusted.
    /// Entries may carry a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some load
    /// balancers append them. A peer that is no IP address is returned unchanged.
    public func clientAddress(peer: String, forwardedFor: [String]) -> String {
        clientIPAddress(peer: peer, forwardedFor: forwardedFor)?.description ?? peer
    }

    /// ``clientAddress(peer:forwardedFor:)`` as an address, for matching it against blocks
    /// (route rules); nil when the peer is no IP address.
    public func clientIPAddress(peer: String, forwardedFor: [String]) -> IPAddress? {
        guard let peerAddress = IPAddress.parse(Self.unbracketed(peer)) else { return nil }
        guard contains(peerAddress) else { return peerAddress }
        var last = peerAddress
        for value in forwardedFor.reversed() {
            for item in value.split(separator: ",", omittingEmptySubsequences: false).reversed() {
                let text = item.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                guard let address = Self.forwardedAddress(text) else { return last }
                if !contains(address) { return address }
                last = address
            }
        }
        return last
    }

    /// An `X-Forwarded-For` entry: an address, `[v6]` or `[v6]:port`, or `v4:port`.
    static func forwardedAddress(_ text: String) -> IPAddress? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || isPort(rest.dropFirst()) && rest.first == ":" else { return nil }
            return IPAddress.parse(String(text[text.index(after: text.startIndex)..<close]))
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let colon = text.firstIndex(of: ":") {
            guard isPort(text[text.index(after: colon)...]) else { return nil }
            let address = IPAddress.parse(String(text[..<colon]))
            return address?.isIPv4 == true ? address : nil
        }
        return IPAddress.parse(text)
    }

    private static func unbracketed(_ text: String) -> String {
        text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
    }

    private static func isPort(_ text: Substring) -> Bool {
        text.count <= 5 && text.allSatisfy { $0.isASCII && $0.isNumber } && Int(text).map { (1...65535).contains($0) } == true
    }
}
