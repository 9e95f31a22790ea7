import Foundation
import XCTest

/// One process writes a storage at a time: a second server or a mirror run on the storage
/// of a running server stops at once and says who holds it. Both used to run side by side,
/// and the server's start-up clean-up could delete what the mirror was writing.
final class StorageLockTests: XCTestCase {
    func testSecondWriterStopsAtOnceAndNamesTheHolder() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let uuid = "74000000-0000-4000-8000-000000000001"
        try await TestClient(server).publish(uuid)
        let before = server.files(under: "blobs")

        for command in [["serve", "--storage", server.storage.path, "--port", "0"],
                        ["mirror", "--storage", server.storage.path, "--from", server.baseURL]] {
            let (status, output) = try ServerProcess.run(command, timeout: 60)
            XCTAssertNotEqual(status, 0, "\(command[0]) ran beside the server: \(output)")
            XCTAssertTrue(output.contains("is in use by another imgapid (pid "), output)
            XCTAssertTrue(output.contains(" serve --storage \(server.storage.path)"), output)
        }
        XCTAssertEqual(server.files(under: "blobs"), before)
        let image = try await TestClient(server).get("/images/\(uuid)")
        XCTAssertEqual(image.status, 200)

        // Stopped, the server lets go: the next one starts on the same storage.
        server.stop()
        try server.restarted().stop()
    }

    /// A dry run reads only: beside a running server, and where no storage exists yet, it
    /// writes nothing (it used to create a new, empty storage).
    func testDryRunWritesNothing() async throws {
        let upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        defer { upstream.stop() }
        let uuid = "74000000-0000-4000-8000-000000000002"
        try await TestClient(upstream).publish(uuid)

        let missing = try ServerProcess.temporaryDirectory().appendingPathComponent("not-yet")
        let fresh = try ServerProcess.run(["mirror", "--dry-run", "--json", "--from", upstream.baseURL,
                                           "--storage", missing.path], timeout: 60)
        XCTAssertEqual(fresh.status, 0, fresh.output)
        XCTAssertTrue(fresh.output.contains("\"would-copy\""), fresh.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path), "the dry run created \(missing.path)")

        // Beside the running upstream, on its own storage: every image is already there.
        let beside = try ServerProcess.run(["mirror", "--dry-run", "--json", "--from", upstream.baseURL,
                                            "--storage", upstream.storage.path], timeout: 60)
        XCTAssertEqual(beside.status, 0, beside.output)
        XCTAssertTrue(beside.output.contains("\"present\""), beside.output)
    }
}
