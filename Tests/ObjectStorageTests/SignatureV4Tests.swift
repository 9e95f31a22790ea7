import Foundation
import ObjectStorage
import XCTest

/// Signature Version 4 against the worked example of AWS's S3 documentation ("GET Object",
/// in "Signature Calculations for the Authorization Header: Transferring Payload in a Single
/// Chunk"), and the encodings it depends on.
final class SignatureV4Tests: XCTestCase {
    let example = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    func testAWSDocumentationExampleGetObject() throws {
        let signer = SignatureV4(credentials: example, region: "us-east-1")
        let date = try XCTUnwrap(ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z"))
        let headers = signer.signedHeaders(
            method: "GET", path: "/test.txt", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
            payloadHash: SignatureV4.emptyPayload, date: date)
        let authorization = try XCTUnwrap(headers.first { $0.0 == "Authorization" }?.1)
        XCTAssertEqual(authorization, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(headers.first { $0.0 == "x-amz-date" }?.1, "20130524T000000Z")
        XCTAssertEqual(SignatureV4.emptyPayload, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    /// A changed secret, date or header gives another signature.
    func testEveryInputChangesTheSignature() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        func signature(_ credentials: S3Credentials, _ region: String = "us-east-1", _ when: Date, _ range: String) -> String? {
            SignatureV4(credentials: credentials, region: region).signedHeaders(
                method: "GET", path: "/b/k", query: [("uploads", "")], headers: [("host", "h"), ("range", range)],
                payloadHash: SignatureV4.unsignedPayload, date: when).first { $0.0 == "Authorization" }?.1
        }
        let base = signature(example, "us-east-1", date, "bytes=0-1")
        let other = S3Credentials(accessKeyID: example.accessKeyID, secretAccessKey: "another")
        for changed in [signature(other, "us-east-1", date, "bytes=0-1"), signature(example, "eu-west-1", date, "bytes=0-1"),
                        signature(example, "us-east-1", date.addingTimeInterval(1), "bytes=0-1"),
                        signature(example, "us-east-1", date, "bytes=0-2")] {
            XCTAssertNotEqual(changed, base)
        }
    }

    func testEncodings() {
        XCTAssertEqual(SignatureV4.uriEncode("a b/c~d_e-f.g+h*"), "a%20b%2Fc~d_e-f.g%2Bh%2A")
        XCTAssertEqual(SignatureV4.uriEncode("images/ab/ab cd", keepSlash: true), "images/ab/ab%20cd")
        XCTAssertEqual(SignatureV4.uriEncode("é"), "%C3%A9")
    }

    func testCredentialsNeverShowTheSecret() throws {
        XCTAssertFalse("\(example)".contains("EXAMPLEKEY"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("""
            # shared credentials
            [other]
            aws_access_key_id = WRONG
            aws_secret_access_key = WRONG
            [default]
            aws_access_key_id = AKIDFILE
            aws_secret_access_key = secret/with=equals
            """.utf8).write(to: file)
        let read = try S3Credentials.fromFile(file.path)
        XCTAssertEqual(read.accessKeyID, "AKIDFILE")
        XCTAssertThrowsError(try S3Credentials.fromFile(file.path, profile: "missing"))
        XCTAssertNil(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "x"]))
        XCTAssertEqual(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"])?.accessKeyID, "x")
    }

    func testLocations() throws {
        let location = try S3Location(parsing: "s3://images/prod/files/?endpoint=http://10.0.0.5:9000/&region=eu-1")
        XCTAssertEqual(location, S3Location(bucket: "images", prefix: "prod/files", endpoint: "http://10.0.0.5:9000", region: "eu-1"))
        XCTAssertEqual(location.key("ab/cd"), "prod/files/ab/cd")
        let aws = try S3Location(parsing: "s3://images")
        XCTAssertEqual(aws.endpoint, "https://s3.us-east-1.amazonaws.com")
        XCTAssertEqual(aws.key("x"), "x")
        for bad in ["http://images", "s3://", "s3://Images", "s3://b?endpoint=ftp://x", "s3://b?endpoint=http://x/path",
                    "s3://b?colour=blue", "s3://b?region="] {
            XCTAssertThrowsError(try S3Location(parsing: bad), bad)
        }
    }
}
