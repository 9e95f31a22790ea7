import XCTest
@testable import HTTPSignature

final class SignatureHeaderTests: XCTestCase {
    func testParsesTheRecordedReferenceHeader() throws {
        let header = try SignatureHeader(authorization: Fixtures.recordedAuthorization)
        XCTAssertEqual(header.keyId, "admin")
        XCTAssertEqual(header.user, "admin")
        XCTAssertNil(header.fingerprint)
        XCTAssertEqual(header.algorithm, .rsaSHA256)
        XCTAssertEqual(header.headers, ["date"])
        XCTAssertEqual(header.signature.count, 256)
        XCTAssertEqual(header.headerValue(), Fixtures.recordedAuthorization)
    }

    func testAcceptsAnyParameterOrderCaseAndSpacing() throws {
        let header = try SignatureHeader(authorization: """
            sIgNaTuRe  signature="AQID" , Headers="Date (Request-Target)  x-extra",ALGORITHM="ECDSA-SHA384",keyId="/bob/keys/SHA256:abc"
            """)
        XCTAssertEqual(header.keyId, "/bob/keys/SHA256:abc")
        XCTAssertEqual(header.user, "bob")
        XCTAssertEqual(header.fingerprint, "SHA256:abc")
        XCTAssertEqual(header.algorithm, .ecdsaSHA384)
        XCTAssertEqual(header.headers, ["date", "(request-target)", "x-extra"])
        XCTAssertEqual(header.signature, [1, 2, 3])
    }

    func testKeyIdWithMD5Fingerprint() throws {
        let header = try SignatureHeader(authorization: "Signature keyId=\"/admin/keys/\(Fixtures.ed25519MD5)\",algorithm=\"ed25519\",signature=\"AQ==\"")
        XCTAssertEqual(header.user, "admin")
        XCTAssertEqual(header.fingerprint, Fixtures.ed25519MD5)
    }

    func testSHA256FingerprintMayContainSlashes() throws {
        let header = SignatureHeader(keyId: "/admin/keys/SHA256:ab/c+d/e", algorithm: .ed25519, signature: [1])
        XCTAssertEqual(header.user, "admin")
        XCTAssertEqual(header.fingerprint, "SHA256:ab/c+d/e")
    }

    func testKeyIdThatIsNotTheKeysFormIsAUserName() throws {
        for keyId in ["/admin/keys/", "/admin/other/fp", "a/b", "//keys/fp", "admin/keys/fp"] {
            let header = SignatureHeader(keyId: keyId, algorithm: .ed25519, signature: [1])
            XCTAssertEqual(header.user, keyId)
            XCTAssertNil(header.fingerprint)
        }
    }

    func testAlgorithmNames() {
        XCTAssertEqual(SignatureAlgorithm(name: "RSA-SHA1"), .rsaSHA1)
        XCTAssertEqual(SignatureAlgorithm(name: "ecdsa-sha512"), .ecdsaSHA512)
        XCTAssertEqual(SignatureAlgorithm(name: "ed25519-sha512"), .ed25519)
        XCTAssertNil(SignatureAlgorithm(name: "hmac-sha256"))
        XCTAssertNil(SignatureAlgorithm(name: "dsa-sha1"))
    }

    func testRendersHeadersOnlyWhenNotTheDefault() throws {
        let header = SignatureHeader(keyId: "u", algorithm: .ed25519, headers: ["Date", "(request-target)"], signature: [9])
        XCTAssertEqual(header.headerValue(), "Signature keyId=\"u\",algorithm=\"ed25519\",headers=\"date (request-target)\",signature=\"CQ==\"")
        XCTAssertEqual(try SignatureHeader(authorization: header.headerValue()), header)
    }

    func testRejectsMalformedHeaders() {
        let cases: [String: SignatureHeaderError] = [
            "": .malformed("scheme is not \"Signature\""),
            "Signature": .malformed("no parameters"),
            "Basic YWRtaW46cGFzcw==": .malformed("scheme is not \"Signature\""),
            "Signature keyId=admin,algorithm=\"rsa-sha256\",signature=\"AQ==\"": .malformed("value of keyId is not quoted"),
            "Signature keyId=\"admin,algorithm=\"rsa-sha256\",signature=\"AQ==\"": .malformed("expected , after keyId"),
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"AQ==": .malformed("unterminated value of signature"),
            "Signature keyId=\"admin\" algorithm=\"rsa-sha256\"": .malformed("expected , after keyId"),
            "Signature keyId=\"admin\",,signature=\"AQ==\"": .malformed("expected a parameter name"),
            "Signature keyId=\"admin\",keyId=\"root\",algorithm=\"rsa-sha256\",signature=\"AQ==\"":
                .malformed("duplicate parameter keyId"),
            "Signature algorithm=\"rsa-sha256\",signature=\"AQ==\"": .missingParameter("keyId"),
            "Signature keyId=\"\",algorithm=\"rsa-sha256\",signature=\"AQ==\"": .missingParameter("keyId"),
            "Signature keyId=\"admin\",signature=\"AQ==\"": .missingParameter("algorithm"),
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\"": .missingParameter("signature"),
            "Signature keyId=\"admin\",algorithm=\"hmac-sha256\",signature=\"AQ==\"": .unsupportedAlgorithm("hmac-sha256"),
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"!!garbage!!\"":
                .malformed("signature is not valid base64"),
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"\"": .malformed("signature is not valid base64"),
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"AQ=\"": .malformed("signature is not valid base64"),
        ]
        for (value, expected) in cases {
            XCTAssertThrowsError(try SignatureHeader(authorization: value), value) { error in
                XCTAssertEqual(error as? SignatureHeaderError, expected, value)
            }
        }
        let huge = "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"\(String(repeating: "A", count: 20_000))\""
        XCTAssertThrowsError(try SignatureHeader(authorization: huge))
    }
}
