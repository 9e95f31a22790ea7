import Crypto
import IMGAPI
import Foundation

/// An SSH public key (RSA, ECDSA P-256/384/521 or Ed25519) read from one OpenSSH `authorized_keys`-style line.
///
/// Two keys are equal when their key material is equal; the comment does not take part.
public struct SSHPublicKey: Sendable, Hashable {
    /// Longest line accepted; real keys (even 16384-bit RSA) are far shorter.
    static let maximumLineLength = 16 * 1024

    /// The OpenSSH key type name, e.g. `ssh-rsa` or `ecdsa-sha2-nistp256`.
    public var algorithmName: String { material.algorithmName }
    /// The free-text comment after the key, if any.
    public var comment: String?
    /// The SSH wire encoding of the key, which fingerprints hash.
    let blob: [UInt8]
    /// The key, ready for signature checks.
    let material: PublicKeyMaterial

    /// Parses `TYPE BASE64 [COMMENT]`; throws on anything malformed, never traps.
    public init(openSSHLine: String) throws {
        guard openSSHLine.utf8.count <= Self.maximumLineLength else {
            throw SSHKeyError.invalidFormat("line longer than \(Self.maximumLineLength) bytes")
        }
        let fields = openSSHLine.split(maxSplits: 2, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
        guard fields.count >= 2 else { throw SSHKeyError.invalidFormat("expected \"TYPE BASE64 [COMMENT]\"") }
        guard let decoded = Data(base64Encoded: String(fields[1])) else {
            throw SSHKeyError.invalidFormat("key data is not valid base64")
        }
        let blob = [UInt8](decoded)
        let material = try PublicKeyMaterial(blob: blob)
        guard material.algorithmName == fields[0] else {
            throw SSHKeyError.malformed("line says \(fields[0]) but the key data is \(material.algorithmName)")
        }
        let comment = fields.count == 3 ? fields[2].trimmingCharacters(in: .whitespacesAndNewlines) : ""
        self.blob = blob
        self.material = material
        self.comment = comment.isEmpty ? nil : comment
    }

    /// Wraps key material (e.g. derived from a private key), encoding its blob.
    init(material: PublicKeyMaterial, comment: String?) throws {
        self.blob = try material.encodedBlob()
        self.material = material
        self.comment = comment
    }

    /// MD5 fingerprint as Joyent and older OpenSSH print it: `aa:bb:…` lower-case hex.
    public var md5Fingerprint: String {
        Insecure.MD5.hash(data: blob).map { Hex.encode([$0]) }.joined(separator: ":")
    }

    /// SHA-256 fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64.
    public var sha256Fingerprint: String {
        let encoded = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + encoded.trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// The key as one OpenSSH line: `TYPE BASE64[ COMMENT]` (line breaks in the comment become spaces).
    public var openSSHLine: String {
        let base = algorithmName + " " + Data(blob).base64EncodedString()
        guard let comment else { return base }
        return base + " " + comment.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The algorithm a signer uses for this key unless told otherwise.
    public var defaultSignatureAlgorithm: SignatureAlgorithm { material.defaultSignatureAlgorithm }

    /// True when `fingerprint` names this key: MD5 hex-colon (optionally `MD5:`-prefixed, any case) or `SHA256:base64`.
    public func matches(fingerprint: String) -> Bool {
        let trimmed = fingerprint.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("sha256:") {
            let encoded = trimmed.dropFirst("sha256:".count).trimmingCharacters(in: CharacterSet(charactersIn: "="))
            return "SHA256:" + encoded == sha256Fingerprint
        }
        var hex = trimmed.lowercased()
        if hex.hasPrefix("md5:") { hex.removeFirst("md5:".count) }
        return hex == md5Fingerprint
    }

    /// Checks `signature` over `data` with `algorithm`; false when the algorithm does not fit this key type.
    public func isValidSignature(_ signature: [UInt8], for data: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        material.isValidSignature(signature, for: data, algorithm: algorithm)
    }

    /// Whether `algorithm` belongs to this key's family (RSA, ECDSA or Ed25519).
    public func supports(_ algorithm: SignatureAlgorithm) -> Bool {
        algorithm.family == material.family
    }

    public static func == (lhs: SSHPublicKey, rhs: SSHPublicKey) -> Bool {
        lhs.blob == rhs.blob
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(blob)
    }
}
