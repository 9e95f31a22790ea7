import XCTest
@testable import HTTPSignature

final class SignatureVerifierTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_795_315_295)
    private var date: String { RequestSigner.httpDate(now) }
    private let verifier = SignatureVerifier()

    /// Verifies `authorization` for `GET /images?state=all` with the given headers, `admin` owning `keys`.
    private func verify(
        _ authorization: String, headers: [String: String]? = nil, keys: [SSHPublicKey], at now: Date? = nil
    ) -> Result<String, AuthFailure> {
        let headers = headers ?? ["date": date]
        return verifier.verify(
            authorization: authorization, method: "GET", path: "/images?state=all", header: { headers[$0] },
            now: now ?? self.now, keys: { $0 == "admin" ? keys : [] })
    }

    private func assertRefused(
        _ result: Result<String, AuthFailure>, _ reason: AuthFailure.Reason, file: StaticString = #filePath, line: UInt = #line
    ) {
        switch result {
        case .success(let user): XCTFail("accepted as \(user), expected \(reason)", file: file, line: line)
        case .failure(let failure): XCTAssertEqual(failure.reason, reason, failure.message, file: file, line: line)
        }
    }

    func testRoundTripEveryKindAndAlgorithm() throws {
        for (name, key, algorithms) in TestKeys.all {
            for algorithm in algorithms {
                for style in [RequestSigner.KeyIdStyle.user, .fingerprint] {
                    let signer = RequestSigner(user: "admin", key: key, algorithm: algorithm, keyIdStyle: style)
                    let authorization = try signer.authorization(date: date, method: "GET", path: "/images?state=all")
                    let others = TestKeys.all.map(\.key.publicKey).filter { $0 != key.publicKey }
                    XCTAssertEqual(try verify(authorization, keys: others + [key.publicKey]).get(), "admin", "\(name) \(algorithm)")
                }
            }
        }
    }

    func testRoundTripWithRequestTargetAndExtraHeaders() throws {
        let signer = RequestSigner(user: "admin", key: TestKeys.p256)
        let authorization = try signer.authorization(
            date: date, method: "GET", path: "/images?state=all", extraHeaders: [("Content-MD5", "xyz")],
            signRequestTarget: true)
        XCTAssertTrue(authorization.contains("headers=\"date (request-target) content-md5\""))
        let headers = ["date": date, "content-md5": "xyz"]
        XCTAssertEqual(try verify(authorization, headers: headers, keys: [TestKeys.p256.publicKey]).get(), "admin")
        assertRefused(verify(authorization, headers: ["date": date, "content-md5": "XYZ"], keys: [TestKeys.p256.publicKey]),
                      .invalidSignature)
        assertRefused(verify(authorization, headers: ["date": date], keys: [TestKeys.p256.publicKey]), .missingHeader)
        let otherPath = verifier.verify(
            authorization: authorization, method: "GET", path: "/images", header: { headers[$0] }, now: now,
            keys: { _ in [TestKeys.p256.publicKey] })
        assertRefused(otherPath, .invalidSignature)
    }

    func testAcceptsXDateInsteadOfDate() throws {
        let key = TestKeys.ed25519
        let signingString = "x-date: \(date)"
        let signature = try key.sign(Array(signingString.utf8), algorithm: .ed25519)
        let header = SignatureHeader(keyId: "admin", algorithm: .ed25519, headers: ["x-date"], signature: signature)
        XCTAssertEqual(try verify(header.headerValue(), headers: ["x-date": date], keys: [key.publicKey]).get(), "admin")
    }

    func testRefusesWrongKey() throws {
        let authorization = try RequestSigner(user: "admin", key: TestKeys.rsa).authorization(date: date, method: "GET", path: "/")
        let otherRSA = try SSHPrivateKey.generate(.rsa(bits: 1024))
        assertRefused(verify(authorization, keys: [otherRSA.publicKey]), .invalidSignature)
        assertRefused(verify(authorization, keys: []), .unknownKey)
        let unknownUser = authorization.replacingOccurrences(of: "keyId=\"admin\"", with: "keyId=\"nobody\"")
        assertRefused(verify(unknownUser, keys: [TestKeys.rsa.publicKey]), .unknownKey)
    }

    func testRefusesTamperedSignature() throws {
        let signer = RequestSigner(user: "admin", key: TestKeys.rsa)
        var header = try SignatureHeader(authorization: signer.authorization(date: date, method: "GET", path: "/"))
        header.signature[10] ^= 0x01
        assertRefused(verify(header.headerValue(), keys: [TestKeys.rsa.publicKey]), .invalidSignature)
        header.signature = Array(header.signature.dropLast())
        assertRefused(verify(header.headerValue(), keys: [TestKeys.rsa.publicKey]), .invalidSignature)
        for (_, key, algorithms) in TestKeys.all where key.publicKey != TestKeys.rsa.publicKey {
            var header = try SignatureHeader(
                authorization: RequestSigner(user: "admin", key: key, algorithm: algorithms[0])
                    .authorization(date: date, method: "GET", path: "/"))
            header.signature[header.signature.count / 2] ^= 0x80
            assertRefused(verify(header.headerValue(), keys: [key.publicKey]), .invalidSignature)
        }
    }

    func testRefusesTamperedDate() throws {
        let authorization = try RequestSigner(user: "admin", key: TestKeys.ed25519).authorization(date: date, method: "GET", path: "/")
        let later = RequestSigner.httpDate(now.addingTimeInterval(1))
        assertRefused(verify(authorization, headers: ["date": later], keys: [TestKeys.ed25519.publicKey]), .invalidSignature)
    }

    func testRefusesDatesOutsideTheClockSkew() throws {
        let signer = RequestSigner(user: "admin", key: TestKeys.p256)
        for offset in [-360.0, 360.0] {
            let skewed = RequestSigner.httpDate(now.addingTimeInterval(offset))
            let authorization = try signer.authorization(date: skewed, method: "GET", path: "/")
            assertRefused(verify(authorization, headers: ["date": skewed], keys: [TestKeys.p256.publicKey]), .clockSkew)
        }
        for offset in [-299.0, 299.0] {
            let close = RequestSigner.httpDate(now.addingTimeInterval(offset))
            let authorization = try signer.authorization(date: close, method: "GET", path: "/")
            XCTAssertNoThrow(try verify(authorization, headers: ["date": close], keys: [TestKeys.p256.publicKey]).get())
        }
        let strict = SignatureVerifier(clockSkew: 10)
        let authorization = try signer.authorization(date: date, method: "GET", path: "/")
        let result = strict.verify(
            authorization: authorization, method: "GET", path: "/", header: { _ in self.date },
            now: now.addingTimeInterval(11), keys: { _ in [TestKeys.p256.publicKey] })
        assertRefused(result, .clockSkew)
    }

    func testRefusesUnparsableDate() throws {
        let bad = "2026-11-22T02:41:35Z"
        let authorization = try RequestSigner(user: "admin", key: TestKeys.p256).authorization(date: bad, method: "GET", path: "/")
        assertRefused(verify(authorization, headers: ["date": bad], keys: [TestKeys.p256.publicKey]), .invalidDate)
    }

    func testRefusesWhenDateIsNotSigned() throws {
        let key = TestKeys.ed25519
        let signingString = "(request-target): get /images?state=all"
        let signature = try key.sign(Array(signingString.utf8), algorithm: .ed25519)
        let header = SignatureHeader(keyId: "admin", algorithm: .ed25519, headers: ["(request-target)"], signature: signature)
        assertRefused(verify(header.headerValue(), keys: [key.publicKey]), .dateNotSigned)
        let empty = SignatureHeader(keyId: "admin", algorithm: .ed25519, headers: [], signature: signature)
        assertRefused(verify(empty.headerValue(), keys: [key.publicKey]), .dateNotSigned)
    }

    func testRefusesMissingDateHeader() throws {
        let authorization = try RequestSigner(user: "admin", key: TestKeys.p256).authorization(date: date, method: "GET", path: "/")
        assertRefused(verify(authorization, headers: [:], keys: [TestKeys.p256.publicKey]), .missingHeader)
    }

    func testRefusesUnknownAlgorithm() throws {
        let authorization = try RequestSigner(user: "admin", key: TestKeys.rsa).authorization(date: date, method: "GET", path: "/")
        for name in ["hmac-sha256", "dsa-sha1", "rsa-md5"] {
            let changed = authorization.replacingOccurrences(of: "rsa-sha256", with: name)
            assertRefused(verify(changed, keys: [TestKeys.rsa.publicKey]), .unsupportedAlgorithm)
        }
    }

    func testRefusesAlgorithmNotMatchingTheKeyType() throws {
        let signature = try TestKeys.rsa.sign(Array("date: \(date)".utf8), algorithm: .rsaSHA256)
        let header = SignatureHeader(keyId: "admin", algorithm: .ecdsaSHA256, signature: signature)
        assertRefused(verify(header.headerValue(), keys: [TestKeys.rsa.publicKey]), .algorithmMismatch)
        let signer = RequestSigner(user: "admin", key: TestKeys.rsa, algorithm: .ed25519)
        XCTAssertThrowsError(try signer.authorization(date: date, method: "GET", path: "/"))
    }

    func testRefusesMalformedHeaders() {
        for value in [
            "", "Signature", "Basic YWRtaW46cGFzcw==", "Signature keyId=admin,algorithm=\"rsa-sha256\",signature=\"AQ==\"",
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\",signature=\"%%%\"",
            "Signature keyId=\"admin\",algorithm=\"rsa-sha256\"",
        ] {
            assertRefused(verify(value, keys: [TestKeys.rsa.publicKey]), .malformedHeader)
        }
    }

    func testKeyIdFingerprintSelectsOnlyThatKey() throws {
        let signer = RequestSigner(user: "admin", key: TestKeys.p256, keyIdStyle: .fingerprint)
        let authorization = try signer.authorization(date: date, method: "GET", path: "/")
        XCTAssertTrue(authorization.contains("keyId=\"/admin/keys/\(TestKeys.p256.publicKey.md5Fingerprint)\""))
        XCTAssertEqual(try verify(authorization, keys: [TestKeys.p384.publicKey, TestKeys.p256.publicKey]).get(), "admin")
        // The same signature, but keyId names another key of the user.
        let pointingElsewhere = authorization.replacingOccurrences(
            of: TestKeys.p256.publicKey.md5Fingerprint, with: TestKeys.p384.publicKey.sha256Fingerprint)
        assertRefused(verify(pointingElsewhere, keys: [TestKeys.p384.publicKey, TestKeys.p256.publicKey]), .invalidSignature)
        // A fingerprint the user does not have.
        let unknown = authorization.replacingOccurrences(
            of: TestKeys.p256.publicKey.md5Fingerprint, with: TestKeys.ed25519.publicKey.md5Fingerprint)
        assertRefused(verify(unknown, keys: [TestKeys.p384.publicKey, TestKeys.p256.publicKey]), .unknownKey)
        // SHA256 form of the right key works too.
        let sha = authorization.replacingOccurrences(
            of: TestKeys.p256.publicKey.md5Fingerprint, with: TestKeys.p256.publicKey.sha256Fingerprint)
        XCTAssertEqual(try verify(sha, keys: [TestKeys.p256.publicKey]).get(), "admin")
    }

    func testKeyLookupErrorIsAFailureWithoutDetails() throws {
        struct Secret: Error {}
        let authorization = try RequestSigner(user: "admin", key: TestKeys.p256).authorization(date: date, method: "GET", path: "/")
        let result = verifier.verify(
            authorization: authorization, method: "GET", path: "/", header: { _ in self.date }, now: now,
            keys: { _ in throw Secret() })
        assertRefused(result, .keyLookupFailed)
    }

    func testFailureMessagesCarryNoSignature() throws {
        let authorization = try RequestSigner(user: "admin", key: TestKeys.rsa).authorization(date: date, method: "GET", path: "/")
        let encoded = try XCTUnwrap(authorization.split(separator: "\"").dropLast().last)
        guard case .failure(let failure) = verify(authorization, keys: [TestKeys.p256.publicKey]) else {
            return XCTFail("accepted")
        }
        XCTAssertFalse(failure.message.contains(encoded))
    }
}
