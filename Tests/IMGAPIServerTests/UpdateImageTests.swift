import Foundation
import IMGAPI
import XCTest

/// UpdateImage (spec §1.12), DisableImage/EnableImage (§1.11) and DeleteImage (§1.14).
final class UpdateImageTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    let uuid = "0d000000-0000-4000-8000-000000000001"
    let child = "0d000000-0000-4000-8000-000000000002"
    let account = "0d0acc00-0000-4000-8000-000000000000"

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server.stop()
    }

    func update(_ body: String, query: String = "", headers: [(String, String)] = []) async throws -> HTTPResult {
        let bytes = Array(body.utf8)
        return try await client.request(.POST, "/images/\(uuid)?action=update\(query)",
                                        headers: [("Content-Type", "application/json")] + headers, body: bytes)
    }

    func testMutableFieldsChangeAndNullDeletes() async throws {
        try await client.publish(uuid, extra: #""description": "first", "homepage": "https://example.com", "tags": {"a": "1"}"#)
        let updated = try await update(#"{"description": "second", "homepage": null, "tags": {"b": 2}, "name": "renamed", "version": "2.0"}"#)
        expect(updated, status: 200)
        let image = try updated.object()
        XCTAssertEqual(image["description"], .string("second"))
        XCTAssertNil(image["homepage"], "null deletes")
        XCTAssertEqual(image["tags"], .object(JSONObject([("b", .number(2))])), "replaced wholesale, not merged")
        XCTAssertEqual(image["name"], .string("renamed"))
        XCTAssertEqual(image["state"], .string("active"))
        let stored = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(stored, image)
        let listed = try await client.get("/images?tag.b=2").json().arrayValue?.count
        XCTAssertEqual(listed, 1, "the tag index follows the update")
    }

    func testRefusedFieldsAndBodies() async throws {
        try await client.publish(uuid)
        let before = try await client.get("/images/\(uuid)").text
        for (body, field) in [(#"{"type": "zvol"}"#, "type"), (#"{"published_at": "2020-01-01T00:00:00Z"}"#, "published_at"),
                              (#"{"disabled": true}"#, "disabled"), (#"{"v": 3}"#, "v"), (#"{"files": []}"#, "files"),
                              (#"{"uuid": "0d000000-0000-4000-8000-0000000000ff"}"#, "uuid")] {
            let result = try await update(body)
            XCTAssertEqual(result.status, 422, body)
            XCTAssertEqual(result.errorCode, "ValidationFailed", body)
            let item = try result.object()["errors"]?.arrayValue?.first?.objectValue
            XCTAssertEqual(item?["field"], .string(field), body)
            XCTAssertEqual(item?["code"], .string("NotAllowed"), body)
        }
        let empty = try await update("{}")
        XCTAssertEqual(try empty.object()["message"], .string("invalid image update data: no parameters provided"))
        let result1 = try await update("[1]")
        XCTAssertEqual(result1.errorCode, "ValidationFailed")
        // The merged image is validated: a public server keeps images public.
        let privateOnPublic = try await update(#"{"public": false}"#)
        XCTAssertEqual(privateOnPublic.errorCode, "ValidationFailed")
        XCTAssertTrue(privateOnPublic.text.contains("public"), privateOnPublic.text)
        let result2 = try await update(#"{"os": 12}"#)
        XCTAssertEqual(result2.errorCode, "ValidationFailed")
        // Operator-only fields are refused to an account.
        let byAccount = try await update(#"{"billing_tags": ["gold"]}"#, query: "&account=\(ImageUUID.zero)")
        XCTAssertEqual(try byAccount.object()["errors"]?.arrayValue?.first?.objectValue?["code"], .string("NotAllowed"))
        let after = try await client.get("/images/\(uuid)").text
        XCTAssertEqual(after, before, "refused updates change nothing")
    }

    func testIfMatchGuardsUpdates() async throws {
        try await client.publish(uuid)
        let fetched = try await client.get("/images/\(uuid)")
        let etag = try XCTUnwrap(fetched.header("ETag"))
        expect(try await update(#"{"description": "x"}"#, headers: [("If-Match", "stale")]), status: 412)
        expect(try await update(#"{"description": "x"}"#, headers: [("If-Match", etag)]), status: 200)
        expect(try await update(#"{"description": "y"}"#, headers: [("If-Match", etag)]), status: 412)
    }

    func testOriginCanChangeOnlyBeforeActivation() async throws {
        try await client.publish(child, name: "base")
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let missing = try await update(#"{"origin": "0d000000-0000-4000-8000-0000000000aa"}"#)
        XCTAssertEqual(missing.errorCode, "OriginDoesNotExist")
        expect(try await update("{\"origin\": \"\(child)\"}"), status: 200)
        expect(try await client.putFile(uuid, Fixture.bytes(10), query: "compression=gzip"), status: 200)
        expect(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        let result3 = try await update(#"{"origin": null}"#)
        XCTAssertEqual(result3.errorCode, "ValidationFailed")
    }

    func testDisableAndEnableAreIdempotent() async throws {
        try await client.publish(uuid)
        for _ in 0..<2 {
            let disabled = try await client.postJSON("/images/\(uuid)?action=disable", "{}").object()
            XCTAssertEqual(disabled["state"], .string("disabled"))
            XCTAssertEqual(disabled["disabled"], .bool(true))
        }
        let result4 = try await client.get("/images")
        XCTAssertEqual(result4.text, "[]", "disabled images leave the default listing")
        for _ in 0..<2 {
            let enabled = try await client.postJSON("/images/\(uuid)?action=enable", "{}").object()
            XCTAssertEqual(enabled["state"], .string("active"))
        }
        let result5 = try await client.get("/images")
        XCTAssertEqual(try result5.json().arrayValue?.count, 1)
        // An unactivated image stays unactivated whatever its disabled flag.
        expect(try await client.postJSON("/images/\(child)?action=import", Fixture.manifest(uuid: child)), status: 200)
        let pending = try await client.postJSON("/images/\(child)?action=disable", "{}").object()
        XCTAssertEqual(pending["state"], .string("unactivated"))
    }

    func testDeleteRules() async throws {
        try await client.publish(uuid, name: "base")
        try await client.publish(child, extra: "\"origin\": \"\(uuid)\"")
        let refused = try await client.request(.DELETE, "/images/\(uuid)")
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(refused.errorCode, "ImageHasDependentImages")
        XCTAssertTrue(refused.text.contains(child), refused.text)
        let notOwner = try await client.request(.DELETE, "/images/\(child)?account=\(account)")
        XCTAssertEqual(notOwner.status, 422, notOwner.text)
        XCTAssertEqual(notOwner.errorCode, "NotImageOwner")
        let deleted = try await client.request(.DELETE, "/images/\(child)")
        XCTAssertEqual(deleted.status, 204)
        XCTAssertEqual(deleted.body, [])
        expect(try await client.request(.DELETE, "/images/\(child)"), status: 404)
        expect(try await client.request(.DELETE, "/images/\(uuid)"), status: 204)
        try server.assertStored(images: 0, blobs: 0)
    }
}
