import Foundation
import IMGAPI
import XCTest

/// Channels (spec §6) configured in the config file, and `Accept-Version` (spec §5).
final class ChannelTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    let base = "cccc0000-0000-4000-8000-000000000001"
    let child = "cccc0000-0000-4000-8000-000000000002"

    override func setUp() async throws {
        let directory = try ServerProcess.temporaryDirectory()
        let config = directory.appendingPathComponent("config.json")
        try """
            {"trustedNetworks": ["127.0.0.1/32"], "channels": [
              {"name": "experimental", "description": "feature branches"},
              {"name": "dev", "description": "master builds", "default": true},
              {"name": "release", "description": "release builds"}]}
            """.write(to: config, atomically: true, encoding: .utf8)
        server = try ServerProcess(["--config", config.path], storage: directory)
        try server.start()
        client = TestClient(server)
        client.defaultHeaders.append(("Accept-Version", "~2"))
    }

    override func tearDown() async throws {
        server.stop()
        try? FileManager.default.removeItem(at: server.storage)
    }

    func expectUUIDs(_ path: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) async throws {
        let listed = try await uuids(path)
        XCTAssertEqual(listed, expected, path, file: file, line: line)
    }

    func uuids(_ path: String) async throws -> [String] {
        let result = try await client.get(path)
        guard result.status == 200, let items = try result.json().arrayValue else {
            throw TestFailure("\(path): \(result.status) \(result.text)")
        }
        return items.compactMap { $0.objectValue?["uuid"]?.stringValue }
    }

    func testListChannelsAsConfigured() async throws {
        let listed = try await client.get("/channels")
        XCTAssertEqual(listed.status, 200)
        XCTAssertEqual(listed.text, """
            [
              {
                "name": "experimental",
                "description": "feature branches"
              },
              {
                "name": "dev",
                "description": "master builds",
                "default": true
              },
              {
                "name": "release",
                "description": "release builds"
              }
            ]
            """)
    }

    func testImagesLiveInTheirChannels() async throws {
        let published = try await client.publish(base)
        XCTAssertEqual(published["channels"], .array([.string("dev")]), "the default channel")
        try await expectUUIDs("/images", [base])
        try await expectUUIDs("/images?channel=release", [])
        try await expectUUIDs("/images?channel=*", [base])
        expect(try await client.get("/images/\(base)?channel=release"), status: 404)
        expect(try await client.get("/images/\(base)/file?channel=release"), status: 404)
        expect(try await client.get("/images/\(base)/file?channel=*"), status: 200)
        expect(try await client.postJSON("/images/\(base)?action=disable&channel=release", "{}"), status: 404)

        // Imported into a named channel; the body's own `channels` is ignored.
        let imported = try await client.postJSON("/images/\(child)?action=import&channel=experimental",
                                                 Fixture.manifest(uuid: child, extra: #""channels": ["release"]"#))
        expect(imported, status: 200)
        XCTAssertEqual(try imported.object()["channels"], .array([.string("experimental")]))
        expect(try await client.putFile(child, Fixture.bytes(10), query: "compression=gzip"), status: 404)
        expect(try await client.putFile(child, Fixture.bytes(10), query: "compression=gzip&channel=experimental"), status: 200)
    }

    func testBadChannelsAreRefused() async throws {
        try await client.publish(base)
        for path in ["/images?channel=nope", "/images/\(base)?channel=nope"] {
            let result = try await client.get(path)
            XCTAssertEqual(result.status, 422, path)
            XCTAssertEqual(result.errorCode, "ValidationFailed", path)
            XCTAssertEqual(try result.object()["message"], .string("unknown channel: nope"))
        }
        let starOnWrite = try await client.postJSON("/images/\(base)?action=disable&channel=*", "{}")
        XCTAssertEqual(starOnWrite.status, 422, "* is for reads only")
        let noTarget = try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "nope"}"#)
        XCTAssertEqual(noTarget.errorCode, "ValidationFailed")
        expect(try await client.request(.DELETE, "/images/\(base)?force_all_channels=maybe"), status: 422)
    }

    func testChannelAddAndDeleteFromOneChannel() async throws {
        try await client.publish(base)
        let added = try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "release"}"#)
        XCTAssertEqual(try added.object()["channels"], .array([.string("dev"), .string("release")]))
        let again = try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "release"}"#)
        XCTAssertEqual(try again.object()["channels"], .array([.string("dev"), .string("release")]), "no-op")
        try await expectUUIDs("/images?channel=release", [base])

        // Deleting in one channel of two only leaves that channel.
        expect(try await client.request(.DELETE, "/images/\(base)?channel=release"), status: 204)
        try await expectUUIDs("/images?channel=release", [])
        try await expectUUIDs("/images?channel=dev", [base])
        XCTAssertEqual(server.files(under: "blobs").count, 1)
        // In its last channel, it is deleted with its file.
        expect(try await client.request(.DELETE, "/images/\(base)"), status: 204)
        expect(try await client.get("/images/\(base)?channel=*"), status: 404)
        XCTAssertEqual(server.files(under: "blobs"), [])
    }

    func testForceAllChannelsAndDependents() async throws {
        try await client.publish(base)
        expect(try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "release"}"#), status: 200)
        try await client.publish(child, extra: "\"origin\": \"\(base)\"")
        // The child (in dev) depends on the base in dev, not in release.
        let refused = try await client.request(.DELETE, "/images/\(base)")
        XCTAssertEqual(refused.errorCode, "ImageHasDependentImages")
        expect(try await client.request(.DELETE, "/images/\(base)?channel=release"), status: 204)
        expect(try await client.request(.DELETE, "/images/\(child)"), status: 204)
        expect(try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "experimental"}"#), status: 200)
        expect(try await client.request(.DELETE, "/images/\(base)?force_all_channels=true"), status: 204)
        expect(try await client.get("/images/\(base)?channel=*"), status: 404)
    }

    /// An image whose origin is in another channel only could not be imported from its own
    /// channel: activation (and ChannelAddImage) say so, where they accepted it before.
    func testOriginMustBeInEveryChannelOfItsChild() async throws {
        try await client.publish(base)
        expect(try await client.postJSON("/images/\(base)?action=channel-add", #"{"channel": "release"}"#), status: 200)
        expect(try await client.request(.DELETE, "/images/\(base)?channel=dev"), status: 204)
        let manifest = Fixture.manifest(uuid: child, extra: "\"origin\": \"\(base)\"")
        expect(try await client.postJSON("/images/\(child)?action=import", manifest), status: 200)
        expect(try await client.putFile(child, Fixture.bytes(100), query: "compression=gzip"), status: 200)
        let refused = try await client.postJSON("/images/\(child)?action=activate", "{}")
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertEqual(refused.errorCode, "OriginNotInChannel")
        XCTAssertTrue(refused.text.contains("origin image \(base) is not in channel \\\"dev\\\""), refused.text)
        try await expectUUIDs("/images?channel=dev", [])

        expect(try await client.postJSON("/images/\(base)?action=channel-add&channel=release", #"{"channel": "dev"}"#), status: 200)
        expect(try await client.postJSON("/images/\(child)?action=activate", "{}"), status: 200)
        let toExperimental = try await client.postJSON("/images/\(child)?action=channel-add", #"{"channel": "experimental"}"#)
        XCTAssertEqual(toExperimental.errorCode, "OriginNotInChannel", toExperimental.text)
        expect(try await client.postJSON("/images/\(child)?action=channel-add", #"{"channel": "release"}"#), status: 200)
    }

    /// `channels` is shown only to clients asking for version 2; absent means `~1`.
    func testAcceptVersionDecidesWhetherChannelsShow() async throws {
        try await client.publish(base)
        var v1 = TestClient(server)
        let plain = try await v1.get("/images/\(base)").object()
        XCTAssertNil(plain["channels"])
        v1.defaultHeaders.append(("Accept-Version", "~1"))
        let listed = try await v1.get("/images").json().arrayValue?.first?.objectValue
        XCTAssertNil(listed?["channels"])
        let v2 = try await client.get("/images").json().arrayValue?.first?.objectValue
        XCTAssertEqual(v2?["channels"], .array([.string("dev")]))
        for (header, value) in [("Accept-Version", "*"), ("x-api-version", ">=1")] {
            let image = try await TestClient(server).get("/images/\(base)", headers: [(header, value)]).object()
            XCTAssertNotNil(image["channels"], "\(header): \(value)")
        }
        for path in ["/images", "/ping", "/images/\(base)"] {
            let refused = try await TestClient(server).get(path, headers: [("Accept-Version", "~99")])
            XCTAssertEqual(refused.status, 400, path)
            XCTAssertEqual(refused.errorCode, "InvalidVersion", path)
        }
    }

    /// An image copied with import-remote joins the request's channel.
    func testRemoteImportJoinsTheRequestChannel() async throws {
        let upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        defer { upstream.stop() }
        try await TestClient(upstream).publish(base)
        let started = try await client.postJSON("/images/\(base)?action=import-remote&source=\(upstream.baseURL)&channel=release", "{}")
        let job = try XCTUnwrap(try started.object()["job_uuid"]?.stringValue, started.text)
        for _ in 0..<200 {
            let state = try await client.get("/jobs/\(job)").object()["state"]
            if state != .string("running") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await expectUUIDs("/images?channel=release", [base])
        try await expectUUIDs("/images", [])
    }

    /// Without channels configured, `?channel=` is ignored and `/channels` does not exist.
    /// A client that reads images with `channels` (Accept-Version ~2, as imgadm sends it)
    /// can write with the ETag it was given.
    func testIfMatchTakesTheETagOfTheChannelView() async throws {
        try await client.publish(base)
        let fetched = try await client.get("/images/\(base)")
        XCTAssertNotNil(try fetched.object()["channels"])
        let etag = try XCTUnwrap(fetched.header("ETag"))
        let updated = try await client.request(.POST, "/images/\(base)?action=update",
                                               headers: [("Content-Type", "application/json"), ("If-Match", etag)],
                                               body: Array(#"{"description": "checked"}"#.utf8))
        XCTAssertEqual(updated.status, 200, updated.text)
        let stale = try await client.request(.POST, "/images/\(base)?action=disable", headers: [("If-Match", etag)])
        XCTAssertEqual(stale.status, 412, "the update changed the image")
    }

    /// Images stored before channels were turned on join the default channel at start,
    /// instead of vanishing from every listing.
    func testImagesFromBeforeChannelsJoinTheDefaultChannel() async throws {
        let plain = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try plain.start()
        try await TestClient(plain).publish(base, name: "older")
        plain.stop()
        let channelled = try ServerProcess(["--config", server.storage.appendingPathComponent("config.json").path],
                                           storage: plain.storage, catalog: plain.catalog)
        try channelled.start()
        defer { channelled.stop() }
        var reader = TestClient(channelled)
        reader.defaultHeaders.append(("Accept-Version", "~2"))
        let listed = try await reader.get("/images").json().arrayValue ?? []
        XCTAssertEqual(listed.compactMap { $0.objectValue?["uuid"]?.stringValue }, [base])
        let image = try await reader.get("/images/\(base)").object()
        XCTAssertEqual(image["channels"], .array([.string("dev")]))
        XCTAssertTrue(channelled.logLines.contains { $0.contains("joined the default channel") && $0.contains("\"images\":1") },
                      channelled.logLines.joined(separator: "\n"))
    }

    func testServerWithoutChannelsIgnoresThem() async throws {
        let plain = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try plain.start()
        defer { plain.stop() }
        var other = TestClient(plain)
        other.defaultHeaders.append(("Accept-Version", "~2"))
        expect(try await other.get("/channels"), status: 404)
        let published = try await other.publish(base, extra: #""channels": ["dev"]"#)
        XCTAssertNil(published["channels"])
        let listed = try await other.get("/images?channel=anything")
        XCTAssertEqual(listed.status, 200)
        XCTAssertEqual(try listed.json().arrayValue?.count, 1)
        expect(try await other.get("/images/\(base)?channel=whatever"), status: 200)
    }
}
