import XCTest
@testable import HTTPSignature

/// Keys made by the real OpenSSH `ssh-keygen`, read back and checked against its own fingerprints.
final class SSHKeygenInteropTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sshkeygen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private struct Variant {
        let name: String
        let arguments: [String]
        /// True when the private key file is OpenSSH format, which keeps the comment.
        var keepsComment: Bool { !arguments.contains("-m") }
        /// True when OpenSSL can read the private key file.
        var isPEM: Bool { arguments.contains("-m") }
    }

    private let variants = [
        Variant(name: "rsa", arguments: ["-t", "rsa", "-b", "2048"]),
        Variant(name: "rsa-pem", arguments: ["-t", "rsa", "-b", "2048", "-m", "PEM"]),
        Variant(name: "rsa-pkcs8", arguments: ["-t", "rsa", "-b", "3072", "-m", "PKCS8"]),
        Variant(name: "ecdsa256", arguments: ["-t", "ecdsa", "-b", "256"]),
        Variant(name: "ecdsa384", arguments: ["-t", "ecdsa", "-b", "384"]),
        Variant(name: "ecdsa521", arguments: ["-t", "ecdsa", "-b", "521"]),
        Variant(name: "ecdsa256-pem", arguments: ["-t", "ecdsa", "-b", "256", "-m", "PEM"]),
        Variant(name: "ecdsa384-pkcs8", arguments: ["-t", "ecdsa", "-b", "384", "-m", "PKCS8"]),
        Variant(name: "ed25519", arguments: ["-t", "ed25519"]),
    ]

    func testKeysFromSSHKeygenLoadFingerprintAndSign() throws {
        let keygen = try ExternalTool.sshKeygen()
        let now = Date()
        let date = RequestSigner.httpDate(now)
        for variant in variants {
            let path = directory.appendingPathComponent(variant.name).path
            try keygen.run(["-q", "-N", "", "-C", "\(variant.name) test key", "-f", path] + variant.arguments)

            let privateKey = try SSHPrivateKey(pem: String(contentsOfFile: path, encoding: .utf8))
            let publicKey = try SSHPublicKey(openSSHLine: String(contentsOfFile: path + ".pub", encoding: .utf8))
            XCTAssertEqual(privateKey.publicKey, publicKey, variant.name)
            XCTAssertEqual(publicKey.comment, "\(variant.name) test key")
            if variant.keepsComment {
                XCTAssertEqual(privateKey.publicKey.comment, publicKey.comment, variant.name)
            }
            XCTAssertEqual(try fingerprint(keygen, "md5", path + ".pub"), "MD5:" + publicKey.md5Fingerprint, variant.name)
            XCTAssertEqual(try fingerprint(keygen, "sha256", path + ".pub"), publicKey.sha256Fingerprint, variant.name)

            let signer = RequestSigner(user: "admin", key: privateKey)
            let authorization = try signer.authorization(date: date, method: "GET", path: "/images")
            let result = SignatureVerifier().verify(
                authorization: authorization, method: "GET", path: "/images", header: { $0 == "date" ? date : nil },
                now: now, keys: { _ in [publicKey] })
            XCTAssertEqual(try result.get(), "admin", variant.name)
        }
    }

    /// OpenSSL (what Node's crypto uses) and this module must accept each other's signatures.
    func testSignaturesInteroperateWithOpenSSL() throws {
        let keygen = try ExternalTool.sshKeygen()
        let openssl = try ExternalTool.openssl()
        let message = directory.appendingPathComponent("message")
        let data = Array("date: \(RequestSigner.httpDate(Date()))".utf8)
        try Data(data).write(to: message)
        for variant in variants where variant.isPEM {
            let path = directory.appendingPathComponent(variant.name).path
            try keygen.run(["-q", "-N", "", "-f", path] + variant.arguments)
            let privateKey = try SSHPrivateKey(pem: String(contentsOfFile: path, encoding: .utf8))
            let publicPEM = path + ".pub.pem"
            try keygen.run(["-e", "-m", "PKCS8", "-f", path + ".pub"]).write(toFile: publicPEM, atomically: true, encoding: .utf8)
            let algorithm = privateKey.defaultSignatureAlgorithm
            let digest = "-" + algorithm.rawValue.split(separator: "-").last!

            let ours = directory.appendingPathComponent(variant.name + ".ours.sig")
            try Data(privateKey.sign(data, algorithm: algorithm)).write(to: ours)
            XCTAssertNoThrow(
                try openssl.run(["dgst", digest, "-verify", publicPEM, "-signature", ours.path, message.path]), variant.name)

            let theirs = directory.appendingPathComponent(variant.name + ".theirs.sig")
            try openssl.run(["dgst", digest, "-sign", path, "-out", theirs.path, message.path])
            let signature = try [UInt8](Data(contentsOf: theirs))
            XCTAssertTrue(privateKey.publicKey.isValidSignature(signature, for: data, algorithm: algorithm), variant.name)
        }
    }

    func testEncryptedKeyFromSSHKeygenIsRefused() throws {
        let keygen = try ExternalTool.sshKeygen()
        for variant in [["-t", "ed25519"], ["-t", "rsa", "-b", "2048", "-m", "PEM"]] {
            let path = directory.appendingPathComponent("encrypted-\(variant[1])").path
            try keygen.run(["-q", "-N", "a passphrase", "-f", path] + variant)
            XCTAssertThrowsError(try SSHPrivateKey(pem: String(contentsOfFile: path, encoding: .utf8), passphrase: "a passphrase")) {
                XCTAssertEqual($0 as? SSHKeyError, .encryptedKeyNotSupported)
            }
        }
    }

    /// The fingerprint field of `ssh-keygen -l -E HASH -f FILE` (`BITS FINGERPRINT COMMENT (TYPE)`).
    private func fingerprint(_ keygen: ExternalTool, _ hash: String, _ path: String) throws -> String {
        let output = try keygen.run(["-l", "-E", hash, "-f", path])
        return String(output.split(separator: " ").dropFirst().first ?? "")
    }
}
