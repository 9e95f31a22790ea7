/// An HTTP Signature `algorithm` parameter value (Joyent http-signature naming).
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    case rsaSHA1 = "rsa-sha1"
    case rsaSHA256 = "rsa-sha256"
    case rsaSHA512 = "rsa-sha512"
    case ecdsaSHA256 = "ecdsa-sha256"
    case ecdsaSHA384 = "ecdsa-sha384"
    case ecdsaSHA512 = "ecdsa-sha512"
    case ed25519 = "ed25519"

    /// Parses a name case-insensitively; `ed25519-sha512` (newer http-signature) is read as `ed25519`.
    public init?(name: String) {
        let lowered = name.lowercased()
        if lowered == "ed25519-sha512" {
            self = .ed25519
            return
        }
        self.init(rawValue: lowered)
    }

    /// The key family this algorithm signs with.
    var family: SSHKeyFamily {
        switch self {
        case .rsaSHA1, .rsaSHA256, .rsaSHA512: .rsa
        case .ecdsaSHA256, .ecdsaSHA384, .ecdsaSHA512: .ecdsa
        case .ed25519: .ed25519
        }
    }
}

/// The broad kind of an SSH key, which decides the signature algorithms it can use.
enum SSHKeyFamily: String, Sendable {
    case rsa = "RSA"
    case ecdsa = "ECDSA"
    case ed25519 = "Ed25519"
}
