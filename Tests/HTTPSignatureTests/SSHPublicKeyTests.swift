import XCTest
@testable import HTTPSignature

final class SSHPublicKeyTests: XCTestCase {
    func testParsesEd25519WithFingerprintsAsSSHKeygenPrintsThem() throws {
        let key = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        XCTAssertEqual(key.algorithmName, "ssh-ed25519")
        XCTAssertEqual(key.comment, "fixture@example")
        XCTAssertEqual(key.md5Fingerprint, Fixtures.ed25519MD5)
        XCTAssertEqual(key.sha256Fingerprint, Fixtures.ed25519SHA256)
        XCTAssertEqual(key.openSSHLine, Fixtures.ed25519Line)
        XCTAssertEqual(key.defaultSignatureAlgorithm, .ed25519)
    }

    func testParsesECDSAWithCommentContainingSpaces() throws {
        let key = try SSHPublicKey(openSSHLine: Fixtures.p256Line)
        XCTAssertEqual(key.algorithmName, "ecdsa-sha2-nistp256")
        XCTAssertEqual(key.comment, "p256 fixture")
        XCTAssertEqual(key.md5Fingerprint, Fixtures.p256MD5)
        XCTAssertEqual(key.sha256Fingerprint, Fixtures.p256SHA256)
        XCTAssertEqual(key.openSSHLine, Fixtures.p256Line)
        XCTAssertEqual(key.defaultSignatureAlgorithm, .ecdsaSHA256)
    }

    func testParsesRSAWithoutComment() throws {
        let key = try SSHPublicKey(openSSHLine: "  " + Fixtures.rsa1024Line + " \t\n")
        XCTAssertEqual(key.algorithmName, "ssh-rsa")
        XCTAssertNil(key.comment)
        XCTAssertEqual(key.md5Fingerprint, Fixtures.rsa1024MD5)
        XCTAssertEqual(key.sha256Fingerprint, Fixtures.rsa1024SHA256)
        XCTAssertEqual(key.openSSHLine, Fixtures.rsa1024Line)
        XCTAssertEqual(key.defaultSignatureAlgorithm, .rsaSHA256)
    }

    func testEqualityIgnoresTheComment() throws {
        var key = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        key.comment = "another"
        XCTAssertEqual(key, try SSHPublicKey(openSSHLine: Fixtures.ed25519Line))
        XCTAssertNotEqual(key, try SSHPublicKey(openSSHLine: Fixtures.p256Line))
    }

    func testCommentLineBreaksNeverSplitTheLine() throws {
        var key = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        key.comment = "two\nlines"
        XCTAssertFalse(key.openSSHLine.contains("\n"))
        XCTAssertEqual(try SSHPublicKey(openSSHLine: key.openSSHLine).comment, "two lines")
    }

    func testMatchesFingerprintInEveryForm() throws {
        let key = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        XCTAssertTrue(key.matches(fingerprint: Fixtures.ed25519MD5))
        XCTAssertTrue(key.matches(fingerprint: Fixtures.ed25519MD5.uppercased()))
        XCTAssertTrue(key.matches(fingerprint: "MD5:" + Fixtures.ed25519MD5))
        XCTAssertTrue(key.matches(fingerprint: Fixtures.ed25519SHA256))
        XCTAssertTrue(key.matches(fingerprint: Fixtures.ed25519SHA256 + "="))
        XCTAssertFalse(key.matches(fingerprint: Fixtures.p256MD5))
        XCTAssertFalse(key.matches(fingerprint: Fixtures.p256SHA256))
        XCTAssertFalse(key.matches(fingerprint: Fixtures.ed25519SHA256.lowercased()))
        XCTAssertFalse(key.matches(fingerprint: ""))
    }

    func testRejectsMalformedLines() {
        let lines = [
            "",
            "ssh-ed25519",
            "ssh-ed25519 !!!notbase64!!!",
            "ssh-rsa " + Fixtures.ed25519Line.split(separator: " ")[1],
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "ssh-ed25519 " + String(repeating: "A", count: 20_000),
        ]
        for line in lines {
            XCTAssertThrowsError(try SSHPublicKey(openSSHLine: line), "accepted: \(line.prefix(60))")
        }
    }

    func testRejectsHostileBlobsWithoutCrashing() throws {
        let valid = try SSHPublicKey(openSSHLine: Fixtures.p256Line).blob
        var blobs: [[UInt8]] = (0..<valid.count).map { Array(valid.prefix($0)) }  // every truncation
        blobs.append(valid + [0])  // trailing byte
        blobs.append([0xff, 0xff, 0xff, 0xff] + valid)  // huge type length
        var hugePoint = valid
        hugePoint.replaceSubrange((valid.count - 69)..<(valid.count - 65), with: [0x7f, 0xff, 0xff, 0xff])
        blobs.append(hugePoint)
        var offCurve = valid
        offCurve[valid.count - 1] ^= 0x01
        blobs.append(offCurve)
        blobs.append(wire(["ecdsa-sha2-nistp256", "nistp384"].map { Array($0.utf8) } + [[4] + Array(repeating: 1, count: 64)]))
        blobs.append(wire([Array("ssh-ed25519".utf8), Array(repeating: 1, count: 31)]))
        blobs.append(wire([Array("ssh-rsa".utf8), [1, 0, 1], [0x80] + Array(repeating: 1, count: 255)]))  // negative n
        blobs.append(wire([Array("ssh-rsa".utf8), [1, 0, 1], [0x7f] + Array(repeating: 1, count: 63)]))  // 512-bit n
        blobs.append(wire([Array("ssh-rsa".utf8), [], [0x7f] + Array(repeating: 1, count: 255)]))  // empty e
        blobs.append(wire([Array("ssh-rsa".utf8), [1, 0, 1], [0x40] + Array(repeating: 0, count: 2100)]))  // > 16384 bits
        for blob in blobs {
            XCTAssertThrowsError(try PublicKeyMaterial(blob: blob), "accepted blob of \(blob.count) bytes")
        }
    }

    func testRandomMutationsNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        for line in [Fixtures.ed25519Line, Fixtures.p256Line, Fixtures.rsa1024Line] {
            let valid = try SSHPublicKey(openSSHLine: line)
            for _ in 0..<300 {
                var blob = valid.blob
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    blob[Int.random(in: 0..<blob.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                // Any outcome but a crash is fine.
                _ = try? SSHPublicKey(openSSHLine: "\(valid.algorithmName) \(Data(blob).base64EncodedString())")
            }
        }
    }

    private func wire(_ fields: [[UInt8]]) -> [UInt8] {
        var writer = SSHWireWriter()
        fields.forEach { writer.writeBytes($0) }
        return writer.bytes
    }
}
