import AsyncHTTPClient
import Foundation
import IMGAPI
import NIOHTTP1
import XCTest

/// Odd but legal input that crashed the server or answered 500: each now gets a clear
/// 4xx IMGAPI error, stores nothing, and the server keeps serving.
extension BadInputTests {
    /// These killed the process (integer overflow computing a range's upper bound).
    func testHugeVersionNumbersAreInvalidVersion() async throws {
        let ranges = ["~9223372036854775807", "^0.0.9223372036854775807", "1.2.9223372036854775807",
                      "~>9223372036854775807", "99999999999999999999"]
        let requests: [(HTTPMethod, String)] = [(.GET, "/ping"), (.GET, "/images"), (.GET, "/images/\(uuid)/file"),
                                                (.HEAD, "/images"), (.POST, "/images")]
        for range in ranges {
            for header in ["Accept-Version", "x-api-version"] {
                for (method, path) in requests {
                    let result = try await client.request(method, path, headers: [(header, range)])
                    XCTAssertEqual(result.status, 400, "\(header): \(range) on \(method) \(path)")
                    if method != .HEAD {
                        let body = try result.object()
                        XCTAssertEqual(body["code"]?.stringValue, "InvalidVersion")
                        XCTAssertEqual(body["message"]?.stringValue?.hasPrefix("\(range) is not supported by \(method.rawValue) \(path)"),
                                       true, result.text)
                    }
                }
            }
        }
        try await assertStillServing()
    }

    /// 990 `tag.role=os` made a 990-term SQL expression: SQLite refused it and the client got 500.
    func testManyTagFiltersAreBoundedNeverAServerError() async throws {
        try await client.publish(uuid, extra: #""tags": {"role": "os"}, "billing_tags": ["gold"]"#)
        let repeated = Array(repeating: "tag.role=os", count: 990).joined(separator: "&")
        let same = try await client.get("/images?\(repeated)")
        expect(same, status: 200)
        XCTAssertEqual(try same.json().arrayValue?.count, 1, "a repeated filter is the same filter")
        let billing = try await client.get("/images?" + Array(repeating: "billing_tag=gold", count: 990).joined(separator: "&"))
        expect(billing, status: 200)
        XCTAssertEqual(try billing.json().arrayValue?.count, 1)
        let distinct = (0..<990).map { "tag.k\($0)=v" }.joined(separator: "&")
        let refused = try await client.get("/images?\(distinct)")
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertEqual(try refused.object()["code"]?.stringValue, "InvalidParameter")
        XCTAssertTrue(refused.text.contains("at most \(ListImagesQuery.maximumTagFilters)"), refused.text)
        try await assertStillServing()
    }

    /// A NUL was cut off when bound to SQLite, so different keys collided (500) or matched each other.
    func testNULInManifestStringsAndQueryValuesIsRefused() async throws {
        let manifest = Fixture.manifest(uuid: uuid, extra: #""tags": {"role\u0000x": "a", "role": "b"}"#)
        let imported = try await client.postJSON("/images/\(uuid)?action=import", manifest)
        XCTAssertEqual(imported.status, 422, imported.text)
        XCTAssertEqual(try imported.object()["code"]?.stringValue, "ValidationFailed")
        XCTAssertTrue(imported.text.contains("NUL"), imported.text)
        let described = try await client.postJSON("/images/\(uuid)?action=import",
                                                  Fixture.manifest(uuid: uuid, extra: #""description": "a\u0000b""#))
        XCTAssertEqual(described.status, 422, described.text)
        try server.assertStored(images: 0, blobs: 0)

        try await client.publish(uuid, extra: #""tags": {"role": "os"}"#)
        for query in ["tag.role%00x=os", "tag.role=os%00", "name=test-image%00", "owner=%00", "%00=1"] {
            let result = try await client.get("/images?\(query)")
            XCTAssertEqual(result.status, 422, "\(query): \(result.text)")
            XCTAssertEqual(try result.object()["code"]?.stringValue, "InvalidParameter", query)
        }
        try await assertStillServing()
    }

    /// A JSON body labelled as something else was parsed anyway.
    func testNonJSONContentTypeIsRefused() async throws {
        let body = Array(Fixture.manifest(uuid: uuid).utf8)
        for type in ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"] {
            let created = try await client.request(.POST, "/images", headers: [("Content-Type", type)], body: body)
            XCTAssertEqual(created.status, 415, "\(type): \(created.text)")
            XCTAssertEqual(try created.object()["code"]?.stringValue, "UnsupportedMediaType")
            let imported = try await client.request(.POST, "/images/\(uuid)?action=import", headers: [("Content-Type", type)],
                                                    body: body)
            XCTAssertEqual(imported.status, 415, "\(type): \(imported.text)")
        }
        try server.assertStored(images: 0, blobs: 0)
        let labelled = try await client.request(.POST, "/images/\(uuid)?action=import",
                                                 headers: [("Content-Type", "application/json; charset=utf-8")], body: body)
        expect(labelled, status: 200)
    }

    /// CONNECT got a head with neither a length nor a close, and the client waited for ever.
    func testConnectIsAnsweredAndClosed() throws {
        for target in ["/ping", "127.0.0.1:80"] {
            let (response, closed) = try RawHTTP.exchange(
                port: server.port, Array("CONNECT \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8), timeout: 20, halfClose: false)
            XCTAssertEqual(RawHTTP.status(of: response), target == "/ping" ? 405 : 404, response)
            XCTAssertTrue(closed, "CONNECT \(target): the connection was left open")
        }
        let (response, closed) = try RawHTTP.exchange(port: server.port, Array("FOO /ping HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                                                      timeout: 20, halfClose: false)
        XCTAssertEqual(RawHTTP.status(of: response), 400, response)
        XCTAssertTrue(response.lowercased().contains("content-length: 0"), response)
        XCTAssertTrue(closed)
        XCTAssertTrue(server.isRunning)
    }
}
