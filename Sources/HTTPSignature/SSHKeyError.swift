/// Why an SSH key could not be read or used.
public enum SSHKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not an OpenSSH public key line or a supported private key document.
    case invalidFormat(String)
    /// The encoded key ends before a field it announces.
    case truncated
    /// A field holds a value that does not make sense for the key type.
    case malformed(String)
    /// The key type is not one of RSA, ECDSA P-256/384/521 or Ed25519.
    case unsupportedKeyType(String)
    /// The private key is protected by a passphrase, which is not supported.
    case encryptedKeyNotSupported
    /// The signature algorithm cannot be used with this kind of key.
    case algorithmMismatch(algorithm: String, keyType: String)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .invalidFormat(let detail): "invalid key format: \(detail)"
        case .truncated: "key data is truncated"
        case .malformed(let detail): "malformed key: \(detail)"
        case .unsupportedKeyType(let type): "unsupported key type \"\(type)\""
        case .encryptedKeyNotSupported:
            "encrypted (passphrase-protected) private keys are not supported; decrypt it first, e.g. `ssh-keygen -p -N \"\" -f KEYFILE`"
        case .algorithmMismatch(let algorithm, let keyType): "algorithm \(algorithm) cannot be used with a \(keyType) key"
        }
    }
}
