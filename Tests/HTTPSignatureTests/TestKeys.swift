@testable import HTTPSignature

/// Generated keys shared by the tests (RSA generation is slow, so each kind is made once).
enum TestKeys {
    static let rsa = try! SSHPrivateKey.generate(.rsa(bits: 2048))
    static let p256 = try! SSHPrivateKey.generate(.ecdsaP256)
    static let p384 = try! SSHPrivateKey.generate(.ecdsaP384)
    static let p521 = try! SSHPrivateKey.generate(.ecdsaP521)
    static let ed25519 = try! SSHPrivateKey.generate(.ed25519)

    /// Every kind, with the algorithms it can sign with.
    static let all: [(name: String, key: SSHPrivateKey, algorithms: [SignatureAlgorithm])] = [
        ("rsa", rsa, [.rsaSHA1, .rsaSHA256, .rsaSHA512]),
        ("p256", p256, [.ecdsaSHA256, .ecdsaSHA384, .ecdsaSHA512]),
        ("p384", p384, [.ecdsaSHA256, .ecdsaSHA384, .ecdsaSHA512]),
        ("p521", p521, [.ecdsaSHA256, .ecdsaSHA384, .ecdsaSHA512]),
        ("ed25519", ed25519, [.ed25519]),
    ]
}
