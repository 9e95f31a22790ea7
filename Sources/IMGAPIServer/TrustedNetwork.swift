import NIOCore

/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`, `fd00::/8`, or a single address).
public struct TrustedNetwork: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(of: String(parts[0])) else { return nil }
        let maxPrefix = address.count * 8
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maxPrefix).contains(p) else { return nil }
            prefix = p
        }
        network = Self.masked(address, prefix)
        prefixLength = prefix
        description = text
    }

    public func contains(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress, var bytes = Self.bytes(of: ip) else { return false }
        // An IPv4 client seen on an IPv6 socket (::ffff:a.b.c.d) belongs to IPv4 networks.
        if network.count == 4, bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        return bytes.count == network.count && Self.masked(bytes, prefixLength) == network
    }

    private static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { i, b in
            let bits = max(0, min(8, prefix - i * 8))
            return bits == 8 ? b : b & ~(UInt8(0xFF) >> bits)
        }
    }

    private static func bytes(of address: String) -> [UInt8]? {
        guard let socket = try? SocketAddress(ipAddress: address, port: 0) else { return nil }
        switch socket {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }
}
