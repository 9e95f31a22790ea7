import Crypto
import _CryptoExtras

/// A parsed public key of one of the supported types, ready for signature checks.
/// `@unchecked`: swift-crypto does not mark its NIST and Curve25519 keys `Sendable`, but they are
/// immutable values whose BoringSSL state is never changed after creation, so sharing them is safe.
enum PublicKeyMaterial: @unchecked Sendable {
    case rsa(_RSA.Signing.PublicKey)
    case p256(P256.Signing.PublicKey)
    case p384(P384.Signing.PublicKey)
    case p521(P521.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)

    /// RSA moduli accepted, in bits: smaller is forgeable, larger only costs CPU.
    static let rsaModulusBits = 1024...16384

    /// The OpenSSH key type name, e.g. `ssh-rsa`.
    var algorithmName: String {
        switch self {
        case .rsa: "ssh-rsa"
        case .p256: "ecdsa-sha2-nistp256"
        case .p384: "ecdsa-sha2-nistp384"
        case .p521: "ecdsa-sha2-nistp521"
        case .ed25519: "ssh-ed25519"
        }
    }

    /// The key family, which decides the usable signature algorithms.
    var family: SSHKeyFamily {
        switch self {
        case .rsa: .rsa
        case .p256, .p384, .p521: .ecdsa
        case .ed25519: .ed25519
        }
    }

    /// The algorithm used when the caller does not choose one (matches OpenSSH's hash per curve).
    var defaultSignatureAlgorithm: SignatureAlgorithm {
        switch self {
        case .rsa: .rsaSHA256
        case .p256: .ecdsaSHA256
        case .p384: .ecdsaSHA384
        case .p521: .ecdsaSHA512
        case .ed25519: .ed25519
        }
    }

    /// Reads the SSH wire encoding of a public key (the base64 part of an OpenSSH line).
    init(blob: [UInt8]) throws {
        var reader = SSHWireReader(blob)
        let type = try reader.readString()
        switch type {
        case "ssh-rsa":
            let exponent = try reader.readPositiveMPInt()
            let modulus = try reader.readPositiveMPInt()
            self = try .rsa(Self.rsaKey(modulus: modulus, exponent: exponent))
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            let curve = try reader.readString()
            guard type == "ecdsa-sha2-" + curve else {
                throw SSHKeyError.malformed("curve \(curve) does not match key type \(type)")
            }
            self = try Self.ecdsaKey(curve: curve, point: try reader.readBytes())
        case "ssh-ed25519":
            self = try Self.ed25519Key(try reader.readBytes())
        default:
            throw SSHKeyError.unsupportedKeyType(type)
        }
        guard reader.isAtEnd else { throw SSHKeyError.malformed("trailing data after the key") }
    }

    /// The SSH wire encoding of this key.
    func encodedBlob() throws -> [UInt8] {
        var writer = SSHWireWriter()
        writer.writeString(algorithmName)
        switch self {
        case .rsa(let key):
            let primitives = try key.getKeyPrimitives()
            writer.writePositiveMPInt(primitives.publicExponent)
            writer.writePositiveMPInt(primitives.modulus)
        case .p256(let key):
            writer.writeString("nistp256")
            writer.writeBytes(key.x963Representation)
        case .p384(let key):
            writer.writeString("nistp384")
            writer.writeBytes(key.x963Representation)
        case .p521(let key):
            writer.writeString("nistp521")
            writer.writeBytes(key.x963Representation)
        case .ed25519(let key):
            writer.writeBytes(key.rawRepresentation)
        }
        return writer.bytes
    }

    /// Builds an RSA key from big-endian magnitudes, refusing sizes outside `rsaModulusBits`.
    static func rsaKey(modulus: [UInt8], exponent: [UInt8]) throws -> _RSA.Signing.PublicKey {
        guard let first = modulus.first, !exponent.isEmpty else { throw SSHKeyError.malformed("empty RSA number") }
        let bits = modulus.count * 8 - first.leadingZeroBitCount
        guard rsaModulusBits.contains(bits) else {
            throw SSHKeyError.malformed("RSA modulus of \(bits) bits is outside \(rsaModulusBits)")
        }
        do {
            return try _RSA.Signing.PublicKey(n: modulus, e: exponent)
        } catch {
            throw SSHKeyError.malformed("invalid RSA public key")
        }
    }

    /// Builds an ECDSA key from an OpenSSH curve name and an uncompressed point.
    static func ecdsaKey(curve: String, point: [UInt8]) throws -> PublicKeyMaterial {
        do {
            switch curve {
            case "nistp256": return .p256(try P256.Signing.PublicKey(x963Representation: point))
            case "nistp384": return .p384(try P384.Signing.PublicKey(x963Representation: point))
            case "nistp521": return .p521(try P521.Signing.PublicKey(x963Representation: point))
            default: throw SSHKeyError.unsupportedKeyType("ecdsa-sha2-" + curve)
            }
        } catch let error as SSHKeyError {
            throw error
        } catch {
            throw SSHKeyError.malformed("invalid point on curve \(curve)")
        }
    }

    /// Builds an Ed25519 key from its 32 raw bytes.
    static func ed25519Key(_ raw: [UInt8]) throws -> PublicKeyMaterial {
        guard raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw SSHKeyError.malformed("Ed25519 public key must be 32 bytes")
        }
        return .ed25519(key)
    }
}
