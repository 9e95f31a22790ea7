import Foundation
import IMGAPI
import XCTest

/// imgpublish when the server fails it: nothing half-published stays behind. These use
/// `--manifest --file` (no ZFS needed).
final class PublishFailureTests: XCTestCase {
    let uuid = "9f000000-0000-4000-8000-000000000001"
    var directory: URL!

    override func setUp() async throws {
        directory = try ServerProcess.temporaryDirectory()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func imgpublish(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ServerProcess.run(arguments, executable: ServerProcess.imgpublish)
    }

    /// A manifest and image file on disk.
    func files(_ bytes: [UInt8]) throws -> (manifest: String, file: String) {
        let manifest = directory.appendingPathComponent("m.json")
        let file = directory.appendingPathComponent("f.zfs.gz")
        try Fixture.manifest(uuid: uuid, extra: """
            "files": [{"sha1": "\(Fixture.sha1(bytes))", "size": \(bytes.count), "compression": "gzip"}]
            """).write(to: manifest, atomically: true, encoding: .utf8)
        try Data(bytes).write(to: file)
        return (manifest.path, file.path)
    }

    func testRefusedActivationDeletesTheImage() throws {
        let bytes = Fixture.bytes(10_000, seed: 1)
        let (manifest, file) = try files(bytes)
        let stored = #"{"uuid": "\#(uuid)", "state": "unactivated", "files": [{"sha1": "\#(Fixture.sha1(bytes))", "size": \#(bytes.count), "compression": "gzip"}]}"#
        let uuid = self.uuid
        let server = try ScriptedUpstream { method, uri in
            switch (method, uri.split(separator: "?").first.map(String.init) ?? uri) {
            case ("GET", "/ping"): return .json(status: 200, #"{"ping": "pong", "imgapi": true}"#)
            case ("POST", _) where uri.contains("action=import"): return .json(status: 200, #"{"uuid": "\#(uuid)"}"#)
            case ("PUT", _): return .json(status: 200, stored)
            case ("POST", _) where uri.contains("action=activate"):
                return .json(status: 422, #"{"code": "NoActivationNoFile", "message": "refused for the test"}"#)
            case ("DELETE", _): return .json(status: 204, "")
            default: return .json(status: 404, #"{"code": "ResourceNotFound", "message": "no"}"#)
            }
        }
        defer { server.stop() }
        let result = try imgpublish(["--manifest", manifest, "--file", file, "--url", server.baseURL])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("activate") && result.output.contains("refused for the test"), result.output)
        XCTAssertEqual(server.requests.last, "DELETE /images/\(uuid)", "the created image is deleted: \(server.requests)")
    }

    func testServerReportingAnotherFileDeletesTheImage() throws {
        let bytes = Fixture.bytes(10_000, seed: 2)
        let (manifest, file) = try files(bytes)
        let uuid = self.uuid
        let server = try ScriptedUpstream { method, _ in
            switch method {
            case "GET": return .json(status: 200, #"{"imgapi": true}"#)
            case "POST": return .json(status: 200, #"{"uuid": "\#(uuid)"}"#)
            case "PUT": return .json(status: 200, #"{"files": [{"sha1": "\#(String(repeating: "0", count: 40))", "size": 10000}]}"#)
            default: return .json(status: 204, "")
            }
        }
        defer { server.stop() }
        let result = try imgpublish(["--manifest", manifest, "--file", file, "--url", server.baseURL])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("verify"), result.output)
        XCTAssertFalse(server.requests.contains { $0.contains("activate") }, "\(server.requests)")
        XCTAssertEqual(server.requests.last, "DELETE /images/\(uuid)")
    }

    /// The server is killed while the file streams: the publish fails naming the upload, and
    /// after a restart no file is stored and no image is listed.
    func testServerDyingMidUploadLeavesNothingListed() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        let (manifest, file) = try files(Fixture.bytes(96 * 1024 * 1024, seed: 3))
        let (process, output) = try ChildProcess.withOutput(ServerProcess.imgpublish.path,
                                                            ["--manifest", manifest, "--file", file, "--url", server.baseURL])
        for _ in 0..<6000 where server.files(under: "uploads").isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertEqual(server.files(under: "uploads").count, 1, "upload under way")
        server.kill()
        let said = String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.wait(), 1)
        XCTAssertTrue(said.contains("upload"), said)

        let restarted = try server.restarted()
        defer { restarted.stop() }
        let listed = try await TestClient(restarted).get("/images?state=all")
        XCTAssertEqual(listed.text, "[]", "nothing listed")
        XCTAssertEqual(restarted.files(under: "blobs"), [])
        XCTAssertEqual(restarted.files(under: "uploads"), [])
    }

    func testSignedPublish() async throws {
        let server = try ServerProcess([])
        try server.start()
        defer { server.stop() }
        // A key as a build host has it: made by ssh-keygen, in OpenSSH's format.
        let keyFile = directory.appendingPathComponent("builder")
        try ZFSPool.shell("ssh-keygen -q -t ecdsa -b 256 -N '' -f '\(keyFile.path)'")
        XCTAssertEqual(try ServerProcess.run(["keys", "add", "--storage", server.storage.path, "builder", keyFile.path + ".pub"]).status, 0)
        let unsigned = try imgpublish(["--manifest", try files(Fixture.bytes(10, seed: 9)).manifest, "--file",
                                       directory.appendingPathComponent("f.zfs.gz").path, "--url", server.baseURL])
        XCTAssertEqual(unsigned.status, 1, "auth refused without a key")
        let (manifest, file) = try files(Fixture.bytes(5000, seed: 4))
        let result = try imgpublish(["--manifest", manifest, "--file", file, "--url", server.baseURL,
                                     "--user", "builder", "--key", keyFile.path, "--json"])
        XCTAssertEqual(result.status, 0, result.output)
        let image = try await TestClient(server).get("/images/\(uuid)").object()
        XCTAssertEqual(image["state"], .string("active"))
    }

    /// Failures before or after the server is involved exit 1 naming their step; a malformed
    /// option value stays a usage error (64).
    func testEveryFailureNamesItsStep() throws {
        let (manifest, file) = try files(Fixture.bytes(1000, seed: 5))
        let nowhere = "http://127.0.0.1:9"
        let missing = directory.appendingPathComponent("missing").path

        let key = try imgpublish(["--manifest", manifest, "--file", file, "--url", nowhere, "--user", "builder", "--key", missing])
        XCTAssertEqual(key.status, 1, key.output)
        XCTAssertTrue(key.output.contains("imgpublish: key: cannot use --key \(missing)"), key.output)

        let unreadableManifest = try imgpublish(["--manifest", missing, "--file", file, "--url", nowhere])
        XCTAssertEqual(unreadableManifest.status, 1, unreadableManifest.output)
        XCTAssertTrue(unreadableManifest.output.contains("imgpublish: manifest: cannot read \(missing)"), unreadableManifest.output)

        let unreadableFile = try imgpublish(["--manifest", manifest, "--file", missing, "--url", nowhere])
        XCTAssertEqual(unreadableFile.status, 1, unreadableFile.output)
        XCTAssertTrue(unreadableFile.output.contains("imgpublish: file: cannot read \(missing)"), unreadableFile.output)

        // The manifest's place is taken by a directory: the stream written for it goes too.
        let output = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output.appendingPathComponent("test-image-1.0.0.json"), withIntermediateDirectories: true)
        let unwritable = try imgpublish(["--manifest", manifest, "--file", file, "--output", output.path])
        XCTAssertEqual(unwritable.status, 1, unwritable.output)
        XCTAssertTrue(unwritable.output.contains("imgpublish: output: cannot write \(output.path)/test-image-1.0.0.json"), unwritable.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.appendingPathComponent("test-image-1.0.0.zfs.gz").path))

        let badURL = try imgpublish(["--manifest", manifest, "--file", file, "--url", "ftp://host/"])
        XCTAssertEqual(badURL.status, 64, badURL.output)
        XCTAssertTrue(badURL.output.contains("--url ftp://host/ is not an http or https URL"), badURL.output)
    }
}
