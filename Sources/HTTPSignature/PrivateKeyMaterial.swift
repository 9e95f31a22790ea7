import Crypto
import _CryptoExtras

/// A private key of one of the supported types.
/// `@unchecked`: swift-crypto does not mark its NIST and Curve25519 keys `Sendable`, but they are
/// immutable values whose BoringSSL state is never changed after creation, so sharing them is safe.
enum PrivateKeyMaterial: @unchecked Sendable {
    case rsa(_RSA.Signing.PrivateKey)
    case p256(P256.Signing.PrivateKey)
    case p384(P384.Signing.PrivateKey)
    case p521(P521.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)

    /// The matching public key.
    var publicMaterial: PublicKeyMaterial {
        switch self {
        case .rsa(let key): .rsa(key.publicKey)
        case .p256(let key): .p256(key.publicKey)
        case .p384(let key): .p384(key.publicKey)
        case .p521(let key): .p521(key.publicKey)
        case .ed25519(let key): .ed25519(key.publicKey)
        }
    }

    /// Signs `data`; ECDSA signatures come out DER-encoded, as Node's crypto writes them.
    func sign(_ data: [UInt8], algorithm: SignatureAlgorithm) throws -> [UInt8] {
        let family = publicMaterial.family
        guard algorithm.family == family else {
            throw SSHKeyError.algorithmMismatch(algorithm: algorithm.rawValue, keyType: family.rawValue)
        }
        func digest() throws -> any Digest {
            guard let digest = algorithm.digest(data) else {
                throw SSHKeyError.algorithmMismatch(algorithm: algorithm.rawValue, keyType: family.rawValue)
            }
            return digest
        }
        switch self {
        case .rsa(let key):
            return Array(try key.signature(for: try digest(), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .p256(let key):
            return Array(try key.signature(for: try digest()).derRepresentation)
        case .p384(let key):
            return Array(try key.signature(for: try digest()).derRepresentation)
        case .p521(let key):
            return Array(try key.signature(for: try digest()).derRepresentation)
        case .ed25519(let key):
            return Array(try key.signature(for: data))
        }
    }
}
