import Foundation
import IMGAPI
import XCTest

/// imgpublish fails an upload only when its bytes stop moving, and says which side stopped.
/// It gave up after 30 minutes whatever the transfer was doing. The stream comes from a
/// named pipe the test feeds, as `zfs send` would.
final class PublishStallTests: XCTestCase {
    let uuid = "9d000000-0000-4000-8000-000000000001"
    var directory: URL!
    var manifest: URL!

    override func setUp() async throws {
        directory = try ServerProcess.temporaryDirectory()
        manifest = directory.appendingPathComponent("manifest.json")
        try #"{"name": "stall", "version": "1"}"#.write(to: manifest, atomically: true, encoding: .utf8)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A named pipe, opened read-write by the test so that neither end blocks on open.
    func pipe() throws -> (path: String, fd: Int32) {
        let path = directory.appendingPathComponent("stream").path
        guard mkfifo(path, 0o600) == 0 else { throw TestFailure("mkfifo: \(errno)") }
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { throw TestFailure("open fifo: \(errno)") }
        return (path, fd)
    }

    func imgpublish(_ file: String, to url: String, _ extra: [String] = []) throws -> (status: Int32, output: String) {
        try ServerProcess.run(["--manifest", manifest.path, "--file", file, "--uuid", uuid, "--url", url, "--stall-timeout", "2"] + extra,
                              executable: ServerProcess.imgpublish, timeout: 60)
    }

    func testStreamThatStopsFailsTheUploadAndSaysSo() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let (path, fd) = try pipe()
        defer { close(fd) }
        XCTAssertEqual(write(fd, Fixture.bytes(50_000), 50_000), 50_000)
        let result = try imgpublish(path, to: server.baseURL)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("the upload stalled: the stream gave no byte for 2 seconds"), result.output)
        expect(try await TestClient(server).get("/images/\(uuid)"), status: 404)
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"method\":\"PUT\"") }, "the broken upload was not logged")
        try server.assertStored(images: 0, blobs: 0)
    }

    func testServerThatStopsReadingFailsTheUploadAndSaysSo() throws {
        let uuid = self.uuid
        let hanging = try ScriptedUpstream { method, uri in
            switch (method, uri) {
            case ("GET", _): return .json(status: 200, #"{"ping": "pong", "imgapi": true}"#)
            case ("PUT", _): return .stopReading
            case ("DELETE", _): return .json(status: 204, "")
            case ("POST", let uri) where uri.contains("action=import"):
                return .json(status: 200, #"{"uuid": "\#(uuid)", "name": "stall", "version": "1", "state": "unactivated"}"#)
            default: return .json(status: 422, #"{"code": "InvalidParameter", "message": "no action"}"#)
            }
        }
        defer { hanging.stop() }
        let file = directory.appendingPathComponent("big.zfs.gz")
        try Data(Fixture.bytes(48 << 20, seed: 4)).write(to: file)
        let result = try imgpublish(file.path, to: hanging.baseURL)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("the upload stalled: \(hanging.baseURL) took no byte for 2 seconds"), result.output)
        XCTAssertTrue(hanging.requests.contains("DELETE /images/\(uuid)"), "the image was not removed: \(hanging.requests)")
    }

    /// Slower than the stall timeout in total, but never still for that long: it finishes.
    func testSlowUploadThatKeepsMovingFinishes() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let (path, fd) = try pipe()
        let bytes = Fixture.bytes(16 * 65_536, seed: 5)
        let feeder = Thread {
            for piece in 0..<16 {
                let start = piece * 65_536
                _ = bytes[start..<start + 65_536].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                Thread.sleep(forTimeInterval: 0.3)
            }
            close(fd)
        }
        feeder.start()
        let result = try imgpublish(path, to: server.baseURL)
        XCTAssertEqual(result.status, 0, result.output)
        let download = try await TestClient(server).get("/images/\(uuid)/file")
        XCTAssertEqual(download.body, bytes, "the image holds every byte fed over 4.8 s")
    }
}
