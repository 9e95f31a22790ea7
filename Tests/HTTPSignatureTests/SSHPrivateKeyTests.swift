import Crypto
import XCTest
import _CryptoExtras
@testable import HTTPSignature

final class SSHPrivateKeyTests: XCTestCase {
    func testReadsOpenSSHEd25519KeyWithItsComment() throws {
        let key = try SSHPrivateKey(pem: Fixtures.ed25519Private)
        XCTAssertEqual(key.publicKey, try SSHPublicKey(openSSHLine: Fixtures.ed25519Line))
        XCTAssertEqual(key.publicKey.comment, "fixture@example")
        XCTAssertEqual(key.publicKey.openSSHLine, Fixtures.ed25519Line)
    }

    func testSignAndVerifyEveryKindAndAlgorithm() throws {
        let data = Array("date: Sun, 22 Nov 2026 02:41:35 GMT".utf8)
        for (name, key, algorithms) in TestKeys.all {
            for algorithm in algorithms {
                let signature = try key.sign(data, algorithm: algorithm)
                XCTAssertTrue(key.publicKey.isValidSignature(signature, for: data, algorithm: algorithm), "\(name) \(algorithm)")
                XCTAssertFalse(
                    key.publicKey.isValidSignature(signature, for: data + [0x20], algorithm: algorithm), "\(name) \(algorithm)")
                // Survives an OpenSSH line round trip.
                let reparsed = try SSHPublicKey(openSSHLine: key.publicKey.openSSHLine)
                XCTAssertTrue(reparsed.isValidSignature(signature, for: data, algorithm: algorithm), "\(name) \(algorithm)")
            }
        }
    }

    func testDefaultAlgorithmPerKind() {
        XCTAssertEqual(TestKeys.rsa.defaultSignatureAlgorithm, .rsaSHA256)
        XCTAssertEqual(TestKeys.p256.defaultSignatureAlgorithm, .ecdsaSHA256)
        XCTAssertEqual(TestKeys.p384.defaultSignatureAlgorithm, .ecdsaSHA384)
        XCTAssertEqual(TestKeys.p521.defaultSignatureAlgorithm, .ecdsaSHA512)
        XCTAssertEqual(TestKeys.ed25519.defaultSignatureAlgorithm, .ed25519)
    }

    func testRefusesAlgorithmOfAnotherFamily() {
        XCTAssertThrowsError(try TestKeys.rsa.sign([1], algorithm: .ecdsaSHA256))
        XCTAssertThrowsError(try TestKeys.p256.sign([1], algorithm: .rsaSHA256))
        XCTAssertThrowsError(try TestKeys.ed25519.sign([1], algorithm: .ecdsaSHA512))
        let signature = try? TestKeys.rsa.sign([1], algorithm: .rsaSHA256)
        XCTAssertFalse(TestKeys.p256.publicKey.isValidSignature(signature ?? [], for: [1], algorithm: .rsaSHA256))
    }

    func testECDSASignaturesAreDERAndRawIsAlsoAccepted() throws {
        let data = Array("hello".utf8)
        let der = try TestKeys.p384.sign(data, algorithm: .ecdsaSHA384)
        XCTAssertEqual(der.first, 0x30)
        let raw = Array(try P384.Signing.ECDSASignature(derRepresentation: der).rawRepresentation)
        XCTAssertEqual(raw.count, 96)
        XCTAssertTrue(TestKeys.p384.publicKey.isValidSignature(raw, for: data, algorithm: .ecdsaSHA384))
    }

    func testReadsPEMForms() throws {
        guard case .rsa(let rsa) = TestKeys.rsa.material, case .p256(let p256) = TestKeys.p256.material,
              case .p521(let p521) = TestKeys.p521.material, case .ed25519(let ed) = TestKeys.ed25519.material
        else { return XCTFail("unexpected material") }
        XCTAssertEqual(try SSHPrivateKey(pem: rsa.pemRepresentation).publicKey, TestKeys.rsa.publicKey)  // PKCS#1
        XCTAssertEqual(try SSHPrivateKey(pem: rsa.pkcs8PEMRepresentation).publicKey, TestKeys.rsa.publicKey)
        XCTAssertEqual(try SSHPrivateKey(pem: p256.pemRepresentation).publicKey, TestKeys.p256.publicKey)  // PKCS#8
        XCTAssertEqual(try SSHPrivateKey(pem: p521.pemRepresentation).publicKey, TestKeys.p521.publicKey)
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\n\(sec1DER(p256).base64EncodedString())\n-----END EC PRIVATE KEY-----"
        XCTAssertEqual(try SSHPrivateKey(pem: sec1).publicKey, TestKeys.p256.publicKey)
        let pkcs8 = Data([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
            + ed.rawRepresentation
        let edPEM = "-----BEGIN PRIVATE KEY-----\n\(pkcs8.base64EncodedString())\n-----END PRIVATE KEY-----\n"
        XCTAssertEqual(try SSHPrivateKey(pem: edPEM).publicKey, TestKeys.ed25519.publicKey)
    }

    func testRefusesEncryptedKeysClearly() {
        let encryptedPEM = """
            -----BEGIN RSA PRIVATE KEY-----
            Proc-Type: 4,ENCRYPTED
            DEK-Info: AES-128-CBC,00000000000000000000000000000000

            AAAA
            -----END RSA PRIVATE KEY-----
            """
        let pkcs8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
        var writer = SSHWireWriter()
        writer.writeString("aes256-ctr")
        writer.writeString("bcrypt")
        writer.writeBytes([0, 0, 0, 0])
        let openSSH = Data(Array("openssh-key-v1".utf8) + [0] + writer.bytes).base64EncodedString()
        let openSSHPEM = "-----BEGIN OPENSSH PRIVATE KEY-----\n\(openSSH)\n-----END OPENSSH PRIVATE KEY-----"
        for pem in [encryptedPEM, pkcs8, openSSHPEM] {
            XCTAssertThrowsError(try SSHPrivateKey(pem: pem, passphrase: "secret")) { error in
                XCTAssertEqual(error as? SSHKeyError, .encryptedKeyNotSupported)
                XCTAssertTrue("\(error)".contains("not supported"))
            }
        }
    }

    func testRejectsGarbageAndTruncatedKeys() {
        let body = Fixtures.ed25519Private.split(separator: "\n").dropFirst().dropLast().joined()
        let der = Data(base64Encoded: body)!
        var documents = [
            "", "hello", "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
        ]
        for length in stride(from: 1, to: der.count, by: 3) {
            let truncated = der.prefix(length).base64EncodedString()
            documents.append("-----BEGIN OPENSSH PRIVATE KEY-----\n\(truncated)\n-----END OPENSSH PRIVATE KEY-----")
        }
        for document in documents {
            XCTAssertThrowsError(try SSHPrivateKey(pem: document), "accepted: \(document.prefix(80))")
        }
    }

    func testRejectsPrivateKeyNotMatchingItsPublicHalf() throws {
        let body = Fixtures.ed25519Private.split(separator: "\n").dropFirst().dropLast().joined()
        var der = [UInt8](Data(base64Encoded: body)!)
        // Flip a byte of the seed (inside the 64-byte secret, after the public key copy).
        let secretStart = der.count - 6 - (4 + 15) - 64  // padding 1...6, comment, secret
        der[secretStart] ^= 0xff
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n\(Data(der).base64EncodedString())\n-----END OPENSSH PRIVATE KEY-----"
        XCTAssertThrowsError(try SSHPrivateKey(pem: pem))
    }

    func testGenerateRefusesTinyRSA() {
        XCTAssertThrowsError(try SSHPrivateKey.generate(.rsa(bits: 512)))
    }

    /// A SEC1 `ECPrivateKey` with only version and key (what `openssl ec` writes minus optional fields).
    private func sec1DER(_ key: P256.Signing.PrivateKey) -> Data {
        Data([0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20]) + key.rawRepresentation
    }
}
