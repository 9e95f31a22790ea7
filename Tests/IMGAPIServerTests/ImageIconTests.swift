import Foundation
import IMGAPI
import XCTest

/// AddImageIcon, GetImageIcon, DeleteImageIcon (spec §1.5, §1.9).
final class ImageIconTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    let uuid = "1c000000-0000-4000-8000-000000000001"
    /// The PNG signature and a few bytes: the server checks the declared type, not the picture.
    let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Fixture.bytes(3000, seed: 4)

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
        try await client.publish(uuid)
    }

    override func tearDown() async throws {
        server.stop()
    }

    func putIcon(_ bytes: [UInt8], type: String = "image/png", query: String = "") async throws -> HTTPResult {
        try await client.request(.PUT, "/images/\(uuid)/icon\(query)", headers: [("Content-Type", type)], body: bytes)
    }

    func testIconLifecycle() async throws {
        let added = try await putIcon(png)
        expect(added, status: 200)
        XCTAssertEqual(try added.object()["icon"], .bool(true), "activated images take icons too")

        let icon = try await client.get("/images/\(uuid)/icon")
        XCTAssertEqual(icon.status, 200)
        XCTAssertEqual(icon.body, png)
        XCTAssertEqual(icon.header("Content-Type"), "image/png")
        XCTAssertEqual(icon.header("Content-Length"), String(png.count))
        XCTAssertEqual(icon.header("Content-MD5"), Fixture.md5Base64(png))
        XCTAssertEqual(icon.header("ETag"), Fixture.sha1(png))
        XCTAssertNotNil(icon.header("Last-Modified"))
        expect(try await client.get("/images/\(uuid)/icon", headers: [("If-None-Match", Fixture.sha1(png))]), status: 304)
        let head = try await client.request(.HEAD, "/images/\(uuid)/icon")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, [])

        let replaced = Array(png.prefix(100))
        expect(try await putIcon(replaced, type: "image/gif", query: "?sha1=\(Fixture.sha1(replaced))"), status: 200)
        let second = try await client.get("/images/\(uuid)/icon")
        XCTAssertEqual(second.body, replaced)
        XCTAssertEqual(second.header("Content-Type"), "image/gif")

        let removed = try await client.request(.DELETE, "/images/\(uuid)/icon")
        expect(removed, status: 200)
        XCTAssertNil(try removed.object()["icon"])
        let again = try await client.request(.DELETE, "/images/\(uuid)/icon")
        XCTAssertEqual(again.status, 404, "no icon: 404, where the reference crashes")
        XCTAssertEqual(again.errorCode, "ResourceNotFound")
        let gone = try await client.get("/images/\(uuid)/icon")
        XCTAssertEqual(try gone.object()["message"], .string("image \"\(uuid)\" has no icon"))
    }

    func testBadIconsAreRefused() async throws {
        for (bytes, type, query) in [(png, "image/svg+xml", ""), (png, "application/json", ""),
                                     (Fixture.bytes(128 * 1024 + 1), "image/png", ""), ([UInt8](), "image/png", ""),
                                     (png, "image/png", "?sha1=\(String(repeating: "0", count: 40))")] {
            let result = try await putIcon(bytes, type: type, query: query)
            XCTAssertEqual(result.status, 400, "\(type) \(bytes.count) \(query)")
            XCTAssertEqual(result.errorCode, "Upload", "\(type) \(bytes.count) \(query)")
        }
        expect(try await putIcon(Fixture.bytes(128 * 1024), type: "image/jpeg"), status: 200)
        let unsigned = try ServerProcess([])
        try unsigned.start()
        defer { unsigned.stop() }
        let refused = try await TestClient(unsigned).request(.PUT, "/images/\(uuid)/icon", headers: [("Content-Type", "image/png")], body: png)
        XCTAssertEqual(refused.status, 401)
    }

    func testIconGoesWithItsImage() async throws {
        expect(try await putIcon(png), status: 200)
        expect(try await client.request(.DELETE, "/images/\(uuid)"), status: 204)
        try await client.publish(uuid)
        expect(try await client.get("/images/\(uuid)/icon"), status: 404)
        let image = try await client.get("/images/\(uuid)").object()
        XCTAssertNil(image["icon"])
    }
}
