import Crypto
import _CryptoExtras

extension PublicKeyMaterial {
    /// Checks `signature` over `data`; false (never a throw) for any malformed or mismatched input.
    ///
    /// ECDSA signatures are accepted DER-encoded (as Node's crypto writes them) or as raw `r || s`.
    func isValidSignature(_ signature: [UInt8], for data: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        guard algorithm.family == family else { return false }
        switch self {
        case .rsa(let key):
            guard let digest = algorithm.digest(data) else { return false }
            let decoded = _RSA.Signing.RSASignature(rawRepresentation: signature)
            return key.isValidSignature(decoded, for: digest, padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard let digest = algorithm.digest(data) else { return false }
            return Self.checkECDSA(
                signature, der: P256.Signing.ECDSASignature.init(derRepresentation:),
                raw: P256.Signing.ECDSASignature.init(rawRepresentation:)
            ) { key.isValidSignature($0, for: digest) }
        case .p384(let key):
            guard let digest = algorithm.digest(data) else { return false }
            return Self.checkECDSA(
                signature, der: P384.Signing.ECDSASignature.init(derRepresentation:),
                raw: P384.Signing.ECDSASignature.init(rawRepresentation:)
            ) { key.isValidSignature($0, for: digest) }
        case .p521(let key):
            guard let digest = algorithm.digest(data) else { return false }
            return Self.checkECDSA(
                signature, der: P521.Signing.ECDSASignature.init(derRepresentation:),
                raw: P521.Signing.ECDSASignature.init(rawRepresentation:)
            ) { key.isValidSignature($0, for: digest) }
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        }
    }

    /// Tries the DER reading of an ECDSA signature, then the raw `r || s` one.
    private static func checkECDSA<Signature>(
        _ bytes: [UInt8],
        der: ([UInt8]) throws -> Signature,
        raw: ([UInt8]) throws -> Signature,
        isValid: (Signature) -> Bool
    ) -> Bool {
        if let decoded = try? der(bytes), isValid(decoded) { return true }
        if let decoded = try? raw(bytes), isValid(decoded) { return true }
        return false
    }
}
