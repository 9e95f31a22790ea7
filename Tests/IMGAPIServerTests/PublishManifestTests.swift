import Foundation
import IMGAPI
import XCTest

/// How imgpublish builds the manifest (`--manifest`, `--set`, `--name`, …) and `--dry-run`.
final class PublishManifestTests: XCTestCase {
    func testSettingsShapeTheManifestAndDryRunSendsNothing() async throws {
        let directory = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = directory.appendingPathComponent("base.json")
        try #"{"os": "linux", "type": "lx-dataset", "description": "from the file", "requirements": {"min_platform": {"7.0": "20200101T000000Z"}}}"#
            .write(to: base, atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("image.zfs.gz")
        try Data(Fixture.bytes(1000, seed: 1)).write(to: file)
        let uuid = "9c000000-0000-4000-8000-000000000001"
        let arguments = ["--manifest", base.path, "--file", file.path, "--uuid", uuid, "--name", "app", "--version", "1.2",
                         "--set", "requirements.min_ram=1024", "--set", "tags.role=web", "--set", "description=\"set here\"",
                         "--set", "homepage=https://example.com"]

        let recorder = try ScriptedUpstream { _, _ in .json(status: 500, #"{"code": "InternalError", "message": "no"}"#) }
        defer { recorder.stop() }
        let dry = try ServerProcess.run(arguments + ["--url", recorder.baseURL, "--dry-run"], executable: ServerProcess.imgpublish)
        XCTAssertEqual(dry.status, 0, dry.output)
        XCTAssertTrue(dry.output.contains("would publish \(uuid) app@1.2"), dry.output)
        XCTAssertEqual(recorder.requests, [], "a dry run sends nothing")

        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let published = try ServerProcess.run(arguments + ["--url", server.baseURL, "--json"], executable: ServerProcess.imgpublish)
        XCTAssertEqual(published.status, 0, published.output)
        let image = try await TestClient(server).get("/images/\(uuid)").object()
        XCTAssertEqual(image["os"], .string("linux"))
        XCTAssertEqual(image["type"], .string("lx-dataset"))
        XCTAssertEqual(image["description"], .string("set here"))
        XCTAssertEqual(image["homepage"], .string("https://example.com"), "a value that is not JSON stays a string")
        XCTAssertEqual(image["requirements"]?.objectValue?["min_ram"], .number(1024))
        XCTAssertEqual(image["requirements"]?.objectValue?["min_platform"], .object(JSONObject([("7.0", .string("20200101T000000Z"))])))
        XCTAssertEqual(image["tags"], .object(JSONObject([("role", .string("web"))])))
        XCTAssertEqual(image["state"], .string("active"))
    }

    /// A manifest that says its file is compressed in a way imgadm cannot read is refused
    /// before anything is sent. It was published as gzip, and every import of it failed.
    func testCompressionImgadmCannotReadIsRefusedWhereGiven() throws {
        let directory = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = directory.appendingPathComponent("m.json")
        try #"{"name": "z", "version": "1", "files": [{"compression": "zstd"}]}"#.write(to: manifest, atomically: true, encoding: .utf8)
        let file = directory.appendingPathComponent("image.zfs.zst")
        try Data(Fixture.bytes(1000, seed: 2)).write(to: file)
        let recorder = try ScriptedUpstream { _, _ in .json(status: 500, #"{"code": "InternalError", "message": "no"}"#) }
        defer { recorder.stop() }
        let refused = try ServerProcess.run(["--manifest", manifest.path, "--file", file.path, "--url", recorder.baseURL],
                                            executable: ServerProcess.imgpublish)
        XCTAssertNotEqual(refused.status, 0, refused.output)
        XCTAssertTrue(refused.output.contains(#"files[0].compression "zstd": stock imgadm handles only gzip, bzip2, xz or none"#),
                      refused.output)
        XCTAssertEqual(recorder.requests, [], "nothing is sent")
        let option = try ServerProcess.run(["--manifest", manifest.path, "--file", file.path, "--url", recorder.baseURL,
                                            "--compression", "lz4"], executable: ServerProcess.imgpublish)
        XCTAssertTrue(option.output.contains("--compression lz4: stock imgadm handles only gzip, bzip2, xz or none"), option.output)
    }
}
