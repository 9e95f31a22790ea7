import Crypto
import _CryptoExtras

/// Reads the body of an `-----BEGIN OPENSSH PRIVATE KEY-----` document (the `openssh-key-v1` format).
enum OpenSSHPrivateKeyParser {
    private static let magic = Array("openssh-key-v1".utf8) + [0]

    /// Decodes an unencrypted key; encrypted ones throw `encryptedKeyNotSupported`.
    static func parse(_ document: [UInt8]) throws -> (material: PrivateKeyMaterial, comment: String?) {
        guard document.starts(with: magic) else { throw SSHKeyError.invalidFormat("not an openssh-key-v1 key") }
        var reader = SSHWireReader(Array(document.dropFirst(magic.count)))
        let cipher = try reader.readString()
        let kdf = try reader.readString()
        _ = try reader.readBytes()  // KDF options
        guard cipher == "none", kdf == "none" else { throw SSHKeyError.encryptedKeyNotSupported }
        guard try reader.readUInt32() == 1 else { throw SSHKeyError.invalidFormat("expected exactly one key") }
        let publicBlob = try reader.readBytes()

        var secret = SSHWireReader(try reader.readBytes())
        guard try secret.readUInt32() == (try secret.readUInt32()) else {
            throw SSHKeyError.malformed("check numbers differ (corrupt or encrypted key)")
        }
        let material = try readKey(&secret)
        let comment = try secret.readString()
        guard try material.publicMaterial.encodedBlob() == publicBlob else {
            throw SSHKeyError.malformed("private key does not match its public key")
        }
        return (material, comment.isEmpty ? nil : comment)
    }

    /// Reads one private key record: type name, then the type's fields.
    private static func readKey(_ reader: inout SSHWireReader) throws -> PrivateKeyMaterial {
        let type = try reader.readString()
        switch type {
        case "ssh-rsa":
            let n = try reader.readPositiveMPInt()
            let e = try reader.readPositiveMPInt()
            let d = try reader.readPositiveMPInt()
            _ = try reader.readPositiveMPInt()  // iqmp, recomputed by BoringSSL
            let p = try reader.readPositiveMPInt()
            let q = try reader.readPositiveMPInt()
            _ = try PublicKeyMaterial.rsaKey(modulus: n, exponent: e)
            return try wrapping("RSA") { .rsa(try _RSA.Signing.PrivateKey(n: n, e: e, d: d, p: p, q: q)) }
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            let curve = try reader.readString()
            guard type == "ecdsa-sha2-" + curve else {
                throw SSHKeyError.malformed("curve \(curve) does not match key type \(type)")
            }
            _ = try reader.readBytes()  // public point, checked against the public blob by the caller
            let scalar = try reader.readPositiveMPInt()
            return try wrapping("ECDSA") {
                switch curve {
                case "nistp256": .p256(try P256.Signing.PrivateKey(rawRepresentation: padded(scalar, to: 32)))
                case "nistp384": .p384(try P384.Signing.PrivateKey(rawRepresentation: padded(scalar, to: 48)))
                default: .p521(try P521.Signing.PrivateKey(rawRepresentation: padded(scalar, to: 66)))
                }
            }
        case "ssh-ed25519":
            _ = try reader.readBytes()  // public key, repeated in the secret below
            let secret = try reader.readBytes()
            guard secret.count == 64 else { throw SSHKeyError.malformed("Ed25519 secret must be 64 bytes") }
            return try wrapping("Ed25519") { .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: secret[0..<32])) }
        default:
            throw SSHKeyError.unsupportedKeyType(type)
        }
    }

    /// Left-pads a big-endian number to `width` bytes; too long throws.
    static func padded(_ magnitude: [UInt8], to width: Int) throws -> [UInt8] {
        guard magnitude.count <= width else { throw SSHKeyError.malformed("private scalar too long") }
        return [UInt8](repeating: 0, count: width - magnitude.count) + magnitude
    }

    /// Runs a crypto constructor, turning its errors into `SSHKeyError.malformed`.
    private static func wrapping(_ kind: String, _ build: () throws -> PrivateKeyMaterial) throws -> PrivateKeyMaterial {
        do {
            return try build()
        } catch let error as SSHKeyError {
            throw error
        } catch {
            throw SSHKeyError.malformed("invalid \(kind) private key")
        }
    }
}
