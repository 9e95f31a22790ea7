import Crypto
import _CryptoExtras

/// Which kind of key `SSHPrivateKey.generate` makes.
public enum SSHKeyKind: Sendable, Hashable {
    /// RSA with a modulus of this many bits (1024 or more).
    case rsa(bits: Int)
    case ecdsaP256
    case ecdsaP384
    case ecdsaP521
    case ed25519
}

/// An SSH private key (RSA, ECDSA P-256/384/521 or Ed25519) that signs HTTP requests.
public struct SSHPrivateKey: Sendable {
    /// The matching public key, carrying the key file's comment when it has one.
    public let publicKey: SSHPublicKey
    /// The key itself.
    let material: PrivateKeyMaterial

    /// Reads an unencrypted OpenSSH (`openssh-key-v1`) or PEM (PKCS#1, SEC1, PKCS#8) private key.
    ///
    /// Encrypted keys throw `SSHKeyError.encryptedKeyNotSupported` whatever `passphrase` holds.
    public init(pem: String, passphrase: String? = nil) throws {
        let block = try PEMBlock(text: pem)
        if block.label == "OPENSSH PRIVATE KEY" {
            let (material, comment) = try OpenSSHPrivateKeyParser.parse(block.der)
            try self.init(material: material, comment: comment)
        } else {
            try self.init(material: PEMPrivateKeyParser.parse(block), comment: nil)
        }
    }

    init(material: PrivateKeyMaterial, comment: String?) throws {
        self.material = material
        self.publicKey = try SSHPublicKey(material: material.publicMaterial, comment: comment)
    }

    /// Makes a fresh random key (meant for tests and tooling).
    public static func generate(_ kind: SSHKeyKind) throws -> SSHPrivateKey {
        let material: PrivateKeyMaterial
        switch kind {
        case .rsa(let bits):
            guard PublicKeyMaterial.rsaModulusBits.contains(bits) else {
                throw SSHKeyError.malformed("RSA size \(bits) is outside \(PublicKeyMaterial.rsaModulusBits)")
            }
            material = .rsa(try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: bits)))
        case .ecdsaP256: material = .p256(P256.Signing.PrivateKey())
        case .ecdsaP384: material = .p384(P384.Signing.PrivateKey())
        case .ecdsaP521: material = .p521(P521.Signing.PrivateKey())
        case .ed25519: material = .ed25519(Curve25519.Signing.PrivateKey())
        }
        return try SSHPrivateKey(material: material, comment: nil)
    }

    /// The algorithm used unless the caller picks one: `rsa-sha256`, `ecdsa-sha256/384/512` by curve, `ed25519`.
    public var defaultSignatureAlgorithm: SignatureAlgorithm { publicKey.defaultSignatureAlgorithm }

    /// Signs `data`; throws when `algorithm` does not fit the key type. ECDSA output is DER.
    public func sign(_ data: [UInt8], algorithm: SignatureAlgorithm) throws -> [UInt8] {
        try material.sign(data, algorithm: algorithm)
    }
}
