import Crypto
import _CryptoExtras

/// Reads PEM private keys that swift-crypto understands: PKCS#1 RSA, SEC1 EC and PKCS#8 (RSA, EC, Ed25519).
enum PEMPrivateKeyParser {
    /// The fixed PKCS#8 prefix (RFC 8410) of an Ed25519 key; the 32-byte seed follows it.
    private static let ed25519PKCS8Prefix: [UInt8] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]

    /// Decodes `block`; encrypted PEM keys throw `encryptedKeyNotSupported`.
    static func parse(_ block: PEMBlock) throws -> PrivateKeyMaterial {
        if block.label == "ENCRYPTED PRIVATE KEY" || block.headers["Proc-Type"]?.contains("ENCRYPTED") == true {
            throw SSHKeyError.encryptedKeyNotSupported
        }
        let der = block.der
        let material: PrivateKeyMaterial?
        switch block.label {
        case "RSA PRIVATE KEY":
            material = rsa(der)
        case "EC PRIVATE KEY":
            material = ecdsa(der)
        case "PRIVATE KEY":
            material = rsa(der) ?? ecdsa(der) ?? ed25519(der)
        default:
            throw SSHKeyError.invalidFormat("unsupported PEM block \"\(block.label)\"")
        }
        guard let material else { throw SSHKeyError.malformed("unreadable or unsupported \(block.label)") }
        return material
    }

    private static func rsa(_ der: [UInt8]) -> PrivateKeyMaterial? {
        (try? _RSA.Signing.PrivateKey(unsafeDERRepresentation: der)).map(PrivateKeyMaterial.rsa)
    }

    private static func ecdsa(_ der: [UInt8]) -> PrivateKeyMaterial? {
        if let key = try? P256.Signing.PrivateKey(derRepresentation: der) { return .p256(key) }
        if let key = try? P384.Signing.PrivateKey(derRepresentation: der) { return .p384(key) }
        if let key = try? P521.Signing.PrivateKey(derRepresentation: der) { return .p521(key) }
        return nil
    }

    private static func ed25519(_ der: [UInt8]) -> PrivateKeyMaterial? {
        guard der.count == ed25519PKCS8Prefix.count + 32, der.starts(with: ed25519PKCS8Prefix) else { return nil }
        return (try? Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))).map(PrivateKeyMaterial.ed25519)
    }
}
