import Crypto

extension SignatureAlgorithm {
    /// Hashes `data` with this algorithm's digest; `nil` for Ed25519, which hashes internally.
    func digest(_ data: [UInt8]) -> (any Digest)? {
        switch self {
        case .rsaSHA1: Insecure.SHA1.hash(data: data)
        case .rsaSHA256, .ecdsaSHA256: SHA256.hash(data: data)
        case .ecdsaSHA384: SHA384.hash(data: data)
        case .rsaSHA512, .ecdsaSHA512: SHA512.hash(data: data)
        case .ed25519: nil
        }
    }
}
