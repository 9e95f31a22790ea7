import XCTest
@testable import HTTPSignature

final class RequestSignerTests: XCTestCase {
    func testProducesTheNodeClientHeaderShape() throws {
        let signer = RequestSigner(user: "admin", key: TestKeys.rsa)
        let value = try signer.authorization(date: Fixtures.recordedDate, method: "GET", path: "/ping")
        let header = try SignatureHeader(authorization: value)
        XCTAssertTrue(value.hasPrefix("Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\""), value)
        XCTAssertFalse(value.contains("headers="))
        XCTAssertEqual(header.signature.count, 256)
        // RSA PKCS#1 v1.5 is deterministic: the signature is exactly that of "date: <value>".
        let expected = try TestKeys.rsa.sign(Array("date: \(Fixtures.recordedDate)".utf8), algorithm: .rsaSHA256)
        XCTAssertEqual(header.signature, expected)
    }

    func testKeyIdStyles() {
        XCTAssertEqual(RequestSigner(user: "bob", key: TestKeys.ed25519).keyId, "bob")
        XCTAssertEqual(
            RequestSigner(user: "bob", key: TestKeys.ed25519, keyIdStyle: .fingerprint).keyId,
            "/bob/keys/\(TestKeys.ed25519.publicKey.md5Fingerprint)")
    }

    func testDefaultAndChosenAlgorithm() {
        XCTAssertEqual(RequestSigner(user: "u", key: TestKeys.p521).algorithm, .ecdsaSHA512)
        XCTAssertEqual(RequestSigner(user: "u", key: TestKeys.rsa, algorithm: .rsaSHA1).algorithm, .rsaSHA1)
    }

    func testExtraHeadersAreLowerCasedAndDeduplicated() throws {
        let signer = RequestSigner(user: "u", key: TestKeys.ed25519)
        let value = try signer.authorization(
            date: "d", method: "PUT", path: "/x", extraHeaders: [("X-A", "1"), ("x-a", "2"), ("Date", "other")])
        let header = try SignatureHeader(authorization: value)
        XCTAssertEqual(header.headers, ["date", "x-a"])
        XCTAssertTrue(TestKeys.ed25519.publicKey.isValidSignature(
            header.signature, for: Array("date: d\nx-a: 1".utf8), algorithm: .ed25519))
    }
}
