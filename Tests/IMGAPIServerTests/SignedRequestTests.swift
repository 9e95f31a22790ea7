import Crypto
import Foundation
import HTTPSignature
import IMGAPI
import XCTest

/// A signature is good for the request it was made for, once. A signature over the Date
/// header alone, captured from any request (even `GET /ping`), could be replayed for any
/// write within the clock skew; signed request targets and body digests were not checked.
final class SignedRequestTests: XCTestCase {
    var server: ServerProcess!
    var admin: TestClient!
    var signer: RequestSigner!
    let uuid = "5e000000-0000-4000-8000-000000000001"

    override func setUp() async throws {
        server = try ServerProcess([])
        try server.start()
        admin = try server.signedClient()
        signer = try XCTUnwrap(admin.signer)
        try await admin.publish(uuid)
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// The headers of a request signed for `method` `path` (Date alone unless `target`).
    func signed(_ method: String, _ path: String, target: Bool = false) throws -> [(String, String)] {
        let date = RequestSigner.httpDate(Date())
        return [("Date", date), ("Authorization", try signer.authorization(date: date, method: method, path: path, signRequestTarget: target))]
    }

    func testSignatureCapturedFromAReadCannotBeReplayedForAWrite() async throws {
        let anonymous = TestClient(server)
        let captured = try signed("GET", "/ping")
        let ping = try await anonymous.get("/ping", headers: captured)
        XCTAssertEqual(try ping.object()["user"], .string("admin"))
        let again = try await anonymous.get("/ping", headers: captured)
        XCTAssertEqual(again.status, 200, "a read may repeat")

        let replayed = try await anonymous.request(.DELETE, "/images/\(uuid)", headers: captured)
        XCTAssertEqual(replayed.status, 401, replayed.text)
        XCTAssertTrue(replayed.text.contains("this signature was already used (a replay)"), replayed.text)
        expect(try await admin.get("/images/\(uuid)"), status: 200)
    }

    func testSignedWriteCannotBeSentTwice() async throws {
        let anonymous = TestClient(server)
        let path = "/images/\(uuid)?action=update"
        let headers = try signed("POST", path, target: true) + [("Content-Type", "application/json")]
        let first = try await anonymous.request(.POST, path, headers: headers, body: Array(#"{"description": "one"}"#.utf8))
        XCTAssertEqual(first.status, 200, first.text)
        let second = try await anonymous.request(.POST, path, headers: headers, body: Array(#"{"description": "two"}"#.utf8))
        XCTAssertEqual(second.status, 401, second.text)
        let stored = try await admin.get("/images/\(uuid)").object()
        XCTAssertEqual(stored["description"], .string("one"))
    }

    func testSignedRequestTargetMustBeTheOneSent() async throws {
        let anonymous = TestClient(server)
        let headers = try signed("POST", "/images/\(uuid)?action=disable", target: true)
        let moved = try await anonymous.request(.DELETE, "/images/\(uuid)", headers: headers)
        XCTAssertEqual(moved.status, 401, moved.text)
        XCTAssertTrue(moved.text.contains("signature verification failed"), moved.text)
        expect(try await admin.get("/images/\(uuid)"), status: 200)
    }

    func testBodyMustMatchItsDigest() async throws {
        let body = Array(#"{"description": "digested"}"#.utf8)
        let good = "SHA-256=" + Data(SHA256.hash(data: body)).base64EncodedString()
        let wrong = "SHA-256=" + Data(SHA256.hash(data: Array("other".utf8))).base64EncodedString()
        let path = "/images/\(uuid)?action=update"
        let refused = try await admin.request(.POST, path, headers: [("Content-Type", "application/json"), ("Digest", wrong)], body: body)
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual(refused.errorCode, "BadDigest")
        let accepted = try await admin.request(.POST, path, headers: [("Content-Type", "application/json"), ("Digest", good)], body: body)
        XCTAssertEqual(accepted.status, 200, accepted.text)

        let other = "5e000000-0000-4000-8000-000000000002"
        expect(try await admin.postJSON("/images/\(other)?action=import", Fixture.manifest(uuid: other)), status: 200)
        let file = Fixture.bytes(4000, seed: 6)
        let badFile = try await admin.request(.PUT, "/images/\(other)/file?compression=gzip", headers: [("Digest", wrong)], body: file)
        XCTAssertEqual(badFile.status, 400, badFile.text)
        try server.assertStored(images: 2, blobs: 1)
        let goodFile = "SHA-256=" + Data(SHA256.hash(data: file)).base64EncodedString()
        expect(try await admin.request(.PUT, "/images/\(other)/file?compression=gzip", headers: [("Digest", goodFile)], body: file), status: 200)
    }
}
