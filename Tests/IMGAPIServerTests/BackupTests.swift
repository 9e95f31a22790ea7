import Foundation
import IMGAPI
import XCTest

/// `imgapid backup` of a server that keeps publishing, `imgapid restore`, and the restored
/// store checked and served.
final class BackupTests: XCTestCase {
    func testBackupOfABusyServerRestoresEveryAcknowledgedImage() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let admin = try server.signedClient()
        var files: [String: [UInt8]] = [:]
        for index in 1...5 {
            let uuid = "ba000000-0000-4000-8000-00000000000\(index)"
            files[uuid] = Fixture.bytes(100_000 + index, seed: UInt64(index))
            let origin = index > 1 ? ", \"origin\": \"ba000000-0000-4000-8000-000000000001\"" : ""
            try await client.publish(uuid, name: "img\(index)", extra: String(origin.dropFirst(2)), file: files[uuid]!)
        }
        let work = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let backup = work.appendingPathComponent("backup").path

        // Publishes go on while the backup runs.
        let busy = Task {
            for index in 0..<30 where !Task.isCancelled {
                try await client.publish(String(format: "bb000000-0000-4000-8000-%012d", index), file: Fixture.bytes(50_000, seed: UInt64(100 + index)))
            }
        }
        let made = try ServerProcess.run(["backup", backup, "--storage", server.storage.path, "--json"])
        busy.cancel()
        _ = try? await busy.value
        XCTAssertEqual(made.status, 0, made.output)
        let report = try XCTUnwrap(try? JSONValue.parse(Array(made.output.utf8)).objectValue, made.output)
        XCTAssertGreaterThanOrEqual(report["images"]?.intValue ?? 0, 5, made.output)

        let again = try ServerProcess.run(["backup", backup, "--storage", server.storage.path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("is not empty"), again.output)

        let restored = work.appendingPathComponent("restored")
        let restore = try ServerProcess.run(["restore", backup, "--storage", restored.path])
        XCTAssertEqual(restore.status, 0, restore.output)
        let check = try ServerProcess.run(["check", "--storage", restored.path])
        XCTAssertEqual(check.status, 0, check.output)
        let keys = try ServerProcess.run(["keys", "list", "-H", "--storage", restored.path])
        XCTAssertTrue(keys.output.hasPrefix("admin"), "keys come along: \(keys.output)")

        let second = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: restored)
        try second.start()
        defer { second.stop() }
        let restoredClient = TestClient(second)
        for (uuid, bytes) in files {
            let manifest = try await restoredClient.get("/images/\(uuid)").object()
            let original = try await admin.get("/images/\(uuid)").object()
            XCTAssertEqual(manifest, original, uuid)
            let download = try await restoredClient.get("/images/\(uuid)/file")
            XCTAssertEqual(download.body, bytes, uuid)
        }
    }
}
