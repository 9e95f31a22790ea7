import AsyncHTTPClient
import Foundation
import IMGAPI
import NIOCore
import NIOHTTP1
import XCTest

/// Hostile and broken input: each gets a clear 4xx IMGAPI error, nothing is stored, and
/// the server keeps serving.
final class BadInputTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    let uuid = "bad00000-0000-4000-8000-000000000001"

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// An IMGAPI error: the status, a JSON object with string `code` and `message`.
    func expectError(_ result: HTTPResult, status: Int, code: String, _ context: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, status, "\(context): \(result.text)", file: file, line: line)
        let body = try? result.object()
        XCTAssertEqual(body?["code"]?.stringValue, code, "\(context): \(result.text)", file: file, line: line)
        XCTAssertFalse(body?["message"]?.stringValue?.isEmpty ?? true, "\(context): message missing", file: file, line: line)
        XCTAssertEqual(result.header("Content-Type"), "application/json", context, file: file, line: line)
    }

    /// The server still answers after the abuse.
    func assertStillServing(file: StaticString = #filePath, line: UInt = #line) async throws {
        XCTAssertTrue(server.isRunning, "server exited", file: file, line: line)
        let ping = try await client.get("/ping")
        XCTAssertEqual(ping.status, 200, file: file, line: line)
    }

    func postRaw(_ path: String, _ bytes: [UInt8]) async throws -> HTTPResult {
        try await client.request(.POST, path, headers: [("Content-Type", "application/json")], body: bytes)
    }

    func testMalformedJSONIsRefused() async throws {
        let bodies = [#"{"v": 2,"#, #"{"v": 2}}"#, "{'v': 2}", "nul", #"{"v": 2,}"#, #"{"name": "a\q"}"#, "{\"a\": 01}"]
        for body in bodies {
            expectError(try await postRaw("/images/\(uuid)?action=import", Array(body.utf8)), status: 400,
                        code: "InvalidContent", body)
            expectError(try await postRaw("/images", Array(body.utf8)), status: 400, code: "InvalidContent", body)
        }
        try server.assertStored(images: 0, blobs: 0)
        try await assertStillServing()
    }

    func testNonUTF8JSONIsRefused() async throws {
        let bodies: [[UInt8]] = [
            [0x7B, 0x22, 0x6E, 0x61, 0x6D, 0x65, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D],  // {"name":"\xff\xfe"}
            [0x7B, 0x22, 0x6E, 0x22, 0x3A, 0x22, 0xC3, 0x22, 0x7D],                          // truncated sequence
            [0xEF, 0xBB, 0xBF] + Array(#"{"n":""#.utf8) + [0xC0, 0x80] + Array(#""}"#.utf8),                 // overlong NUL
        ]
        for body in bodies {
            expectError(try await postRaw("/images/\(uuid)?action=import", body), status: 400, code: "InvalidContent",
                        "\(body)")
        }
        try server.assertStored(images: 0, blobs: 0)
    }

    func testJSONThatIsNotAnObjectIsRefused() async throws {
        for body in ["[]", #"["v", 2]"#, #""manifest""#, "42", "true", "null"] {
            let result = try await postRaw("/images/\(uuid)?action=import", Array(body.utf8))
            expectError(result, status: 422, code: "InvalidParameter", body)
            XCTAssertEqual(try result.object()["errors"]?.arrayValue?.first?.objectValue?["field"], .string("body"))
        }
        try server.assertStored(images: 0, blobs: 0)
    }

    func testDeeplyNestedJSONIsRefusedWithoutCrashing() async throws {
        let arrays = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        expectError(try await postRaw("/images/\(uuid)?action=import", Array(arrays.utf8)), status: 400,
                    code: "InvalidContent", "100000 nested arrays")
        let inField = "{\"tags\": {\"a\": " + String(repeating: "{\"b\": ", count: 5_000) + "1"
            + String(repeating: "}", count: 5_001) + "}"
        expectError(try await postRaw("/images/\(uuid)?action=import", Array(inField.utf8)), status: 400,
                    code: "InvalidContent", "nested tag objects")
        try server.assertStored(images: 0, blobs: 0)
        try await assertStillServing()
    }

    func testOversizedManifestIsRefused() async throws {
        let padding = String(repeating: "x", count: 2 * 1024 * 1024)
        let manifest = Fixture.manifest(uuid: uuid, extra: "\"description\": \"\(padding)\"")
        // With a Content-Length: refused before the body is read.
        expectError(try await postRaw("/images/\(uuid)?action=import", Array(manifest.utf8)), status: 413,
                    code: "RequestEntityTooLarge", "declared length")
        // Chunked, no length announced: refused once the limit is crossed.
        let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
        for start in stride(from: 0, to: manifest.utf8.count, by: 64 * 1024) {
            continuation.yield(ByteBuffer(bytes: Array(manifest.utf8).dropFirst(start).prefix(64 * 1024)))
        }
        continuation.finish()
        let result = try await client.request(.POST, "/images/\(uuid)?action=import",
                                              headers: [("Content-Type", "application/json")],
                                              streamedBody: .stream(chunks, length: .unknown))
        expectError(result, status: 413, code: "RequestEntityTooLarge", "chunked")
        try server.assertStored(images: 0, blobs: 0)
        try await assertStillServing()
    }

    /// Unknown fields are refused first (as the reference), then every invalid value is listed.
    func testUnknownAndInvalidFieldsAreListed() async throws {
        let unknown = try await client.postJSON("/images/\(uuid)?action=import",
                                                Fixture.manifest(uuid: uuid, extra: #""bogus": 1, "zzz": null"#))
        expectError(unknown, status: 422, code: "InvalidParameter", "unknown fields")
        XCTAssertEqual(Self.fields(unknown), ["bogus", "zzz"])
        let invalid = try await client.postJSON("/images/\(uuid)?action=import",
                                                Fixture.manifest(uuid: uuid, extra: #""homepage": 7, "requirements": {"min_ram": "lots"}"#))
        expectError(invalid, status: 422, code: "ValidationFailed", "invalid values")
        XCTAssertEqual(Set(Self.fields(invalid)), ["homepage", "requirements.min_ram"], invalid.text)
        try server.assertStored(images: 0, blobs: 0)
    }

    static func fields(_ result: HTTPResult) -> [String] {
        ((try? result.object())?["errors"]?.arrayValue ?? []).compactMap { $0.objectValue?["field"]?.stringValue }
    }

    func testBadUUIDsAreRefused() async throws {
        for path in ["/images/not-a-uuid", "/images/BAD00000-0000-4000-8000-000000000001",
                     "/images/\(uuid)x", "/images/\(uuid)/file/extra", "/images/\(uuid)/nothing"] {
            expectError(try await client.get(path), status: 404, code: "ResourceNotFound", path)
        }
        // The body's uuid must be the path's, and a valid one.
        let other = Fixture.manifest(uuid: "bad00000-0000-4000-8000-000000000002")
        expectError(try await client.postJSON("/images/\(uuid)?action=import", other), status: 422,
                    code: "InvalidParameter", "uuid mismatch")
        let invalid = Fixture.manifest(uuid: "nope")
        expectError(try await client.postJSON("/images/nope?action=import", invalid), status: 404,
                    code: "ResourceNotFound", "uuid in path")
        expectError(try await client.get("/images?account=42"), status: 422, code: "InvalidParameter", "account")
        try server.assertStored(images: 0, blobs: 0)
    }

    /// Paths no client library would send: parent segments, encoded dots, NUL, huge.
    func testHostilePathsAreNotFound() async throws {
        let paths = ["/images/../ping", "/images/%2e%2e/file", "/images/\(uuid)/../../etc/passwd",
                     "/images/\(uuid)/file/..", "/%2e%2e/%2e%2e/etc/passwd", "/images/%00", "//images//",
                     "/images/" + String(repeating: "a", count: 60_000)]
        for path in paths {
            let response = try RawHTTP.exchange(port: server.port, lines: ["GET \(path) HTTP/1.1", "Host: x", "Connection: close"])
            let status = RawHTTP.status(of: response)
            XCTAssertTrue(status == 404 || status == 414 || status == 431 || status == 400,
                          "\(path.prefix(80)): \(response.prefix(300))")
            if status == 404 { XCTAssertTrue(response.contains("\"ResourceNotFound\""), response) }
        }
        try await assertStillServing()
    }

    func testGarbageRequestsDoNotStopTheServer() async throws {
        for request in ["GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\u{0}\u{1}\u{2}\r\n\r\n",
                        "POST /images HTTP/1.1\r\nContent-Length: -5\r\n\r\n"] {
            let response = try RawHTTP.exchange(port: server.port, Array(request.utf8))
            if let status = RawHTTP.status(of: response) {
                XCTAssertTrue((400..<500).contains(status), response)
            }
        }
        try await assertStillServing()
    }

    func testWrongQueryValuesAreRefused() async throws {
        let cases = ["public=maybe": "public", "limit=abc": "limit", "limit=-1": "limit", "limit=1.5": "limit",
                     "marker=garbage": "marker", "sort=size": "sort", "sort=published_at.sideways": "sort",
                     "state=bogus": "state", "inclAdminFields=yes": "inclAdminFields", "account=nope": "account"]
        for (query, field) in cases.sorted(by: { $0.key < $1.key }) {
            let result = try await client.get("/images?\(query)")
            expectError(result, status: 422, code: "InvalidParameter", query)
            let named = try result.object()["errors"]?.arrayValue?.first?.objectValue?["field"]?.stringValue
            XCTAssertEqual(named, field, query)
        }
        expectError(try await client.get("/images?marker=bad00000-0000-4000-8000-00000000ffff"), status: 404,
                    code: "ResourceNotFound", "unknown marker image")
        expectError(try await client.get("/images/\(uuid)?inclAdminFields=maybe"), status: 422, code: "InvalidParameter")
        // Broken percent-encoding and odd keys are read literally, not crashed on.
        for query in ["name=%zz", "name=%", "tag.=x", "name=a&name=b", "&&&="] {
            expect(try await client.get("/images?\(query)"), status: 200)
        }
        try await assertStillServing()
    }

    func testUploadChecksumAndParameterErrorsStoreNothing() async throws {
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let file = Fixture.bytes(100_000, seed: 5)
        let wrongSHA1 = String(repeating: "0", count: 40)
        let wrongSHA256 = String(repeating: "0", count: 64)
        expectError(try await client.putFile(uuid, file, query: "compression=gzip&sha1=\(wrongSHA1)"), status: 400,
                    code: "Download", "sha1 mismatch")
        expectError(try await client.putFile(uuid, file, query: "compression=gzip&sha256=\(wrongSHA256)"), status: 400,
                    code: "Download", "sha256 mismatch")
        expectError(try await client.putFile(uuid, [], query: "compression=gzip"), status: 400, code: "Download", "empty")
        expectError(try await client.putFile(uuid, file, query: ""), status: 422, code: "InvalidParameter", "no compression")
        expectError(try await client.putFile(uuid, file, query: "compression=zip"), status: 422, code: "InvalidParameter",
                    "unknown compression")
        expectError(try await client.putFile(uuid, file, query: "compression=gzip&sha1=xyz"), status: 422,
                    code: "InvalidParameter", "malformed sha1")
        try server.assertStored(images: 1, blobs: 0)
        let image = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"], .array([]))
        expectError(try await client.putFile("bad00000-0000-4000-8000-000000000009", file, query: "compression=gzip"),
                    status: 404, code: "ResourceNotFound", "no such image")
        try server.assertStored(images: 1, blobs: 0)
    }

    /// A body shorter than its Content-Length, then the client half-closes.
    func testUploadThatStopsHalfWayStoresNothing() async throws {
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let head = ["PUT /images/\(uuid)/file?compression=gzip HTTP/1.1", "Host: x", "Content-Type: application/json",
                    "Content-Length: 100000"].joined(separator: "\r\n") + "\r\n\r\n"
        let response = try RawHTTP.exchange(port: server.port, Array(head.utf8) + Fixture.bytes(40_000))
        if let status = RawHTTP.status(of: response) { XCTAssertTrue((400..<500).contains(status), response) }
        try await waitForNoUploads()
        try server.assertStored(images: 1, blobs: 0)
        let image = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"], .array([]))
        try await assertStillServing()
    }

    /// A JSON body shorter than its Content-Length creates nothing.
    func testTruncatedManifestStoresNothing() async throws {
        let manifest = Fixture.manifest(uuid: uuid)
        let head = ["POST /images/\(uuid)?action=import HTTP/1.1", "Host: x", "Content-Type: application/json",
                    "Content-Length: \(manifest.utf8.count + 100)"].joined(separator: "\r\n") + "\r\n\r\n"
        let response = try RawHTTP.exchange(port: server.port, Array((head + manifest).utf8))
        if let status = RawHTTP.status(of: response) { XCTAssertTrue((400..<500).contains(status), response) }
        try server.assertStored(images: 0, blobs: 0)
        try await assertStillServing()
    }

    func testContentMD5MismatchIsRefused() async throws {
        let body = Array(Fixture.manifest(uuid: uuid).utf8)
        let result = try await client.request(.POST, "/images/\(uuid)?action=import",
                                              headers: [("Content-Type", "application/json"),
                                                        ("Content-MD5", Fixture.md5Base64(Array("other".utf8)))],
                                              body: body)
        expectError(result, status: 400, code: "BadDigest")
        try server.assertStored(images: 0, blobs: 0)
    }

    func testStateErrorsOnWrites() async throws {
        expectError(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 404,
                    code: "ResourceNotFound", "activate unknown")
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        expectError(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 409,
                    code: "ImageUuidAlreadyExists", "import twice")
        expectError(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 422,
                    code: "NoActivationNoFile", "activate without file")
        expectError(try await client.postJSON("/images/\(uuid)?action=explode", "{}"), status: 422,
                    code: "InvalidParameter", "unknown action")
        let noAction = try await client.postJSON("/images/\(uuid)", "{}")
        expectError(noAction, status: 422, code: "InvalidParameter", "no action")
        XCTAssertEqual(try noAction.object()["errors"]?.arrayValue?.first?.objectValue?["code"], .string("MissingParameter"))
        let orphan = Fixture.manifest(uuid: "bad00000-0000-4000-8000-000000000003",
                                      extra: #""origin": "bad00000-0000-4000-8000-00000000dead""#)
        expectError(try await client.postJSON("/images/bad00000-0000-4000-8000-000000000003?action=import", orphan),
                    status: 422, code: "OriginDoesNotExist", "missing origin")
        expect(try await client.putFile(uuid, Fixture.bytes(10), query: "compression=gzip"), status: 200)
        expect(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        expectError(try await client.putFile(uuid, Fixture.bytes(10), query: "compression=gzip"), status: 422,
                    code: "ImageFilesImmutable", "file after activation")
        expectError(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 422,
                    code: "ImageAlreadyActivated", "activate twice")
        try server.assertStored(images: 1, blobs: 1)
    }

    func testWrongMethodsGet405WithAllow() async throws {
        for (method, path) in [(HTTPMethod.DELETE, "/images"), (.PUT, "/ping"), (.PATCH, "/images/\(uuid)"),
                               (.POST, "/images/\(uuid)/file")] {
            let result = try await client.request(method, path)
            expectError(result, status: 405, code: "MethodNotAllowedError", "\(method) \(path)")
            XCTAssertNotNil(result.header("Allow"), "\(method) \(path)")
        }
    }

    func waitForNoUploads() async throws {
        for _ in 0..<200 where !server.files(under: "uploads").isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
