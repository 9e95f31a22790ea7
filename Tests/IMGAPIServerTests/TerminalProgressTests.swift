import Foundation
import XCTest

/// Long transfers show a progress line on a terminal and print nothing of it otherwise.
final class TerminalProgressTests: XCTestCase {
    /// Runs a command line under `script`, which gives it a pseudo-terminal; returns what it wrote.
    func onTerminal(_ command: String) throws -> String {
        try ZFSPool.shell("script -qec \"\(command)\" /dev/null")
    }

    func testMirrorAndPublishShowProgressOnlyOnATerminal() async throws {
        let upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        defer { upstream.stop() }
        let uuid = "7e000000-0000-4000-8000-000000000001"
        try await TestClient(upstream).publish(uuid, file: Fixture.bytes(2 * 1024 * 1024, seed: 8))
        let storage = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: storage) }
        let imgapid = ServerProcess.executable.path

        let terminal = try onTerminal("\(imgapid) mirror --no-validate-streams --from \(upstream.baseURL) --storage \(storage.path)")
        XCTAssertTrue(terminal.contains("mirror: 1/1 images"), terminal)
        XCTAssertTrue(terminal.contains("1 copied"), terminal)
        let plain = try ServerProcess.run(["mirror", "--no-validate-streams", "--from", upstream.baseURL, "--storage", storage.path + "-2"])
        defer { try? FileManager.default.removeItem(atPath: storage.path + "-2") }
        XCTAssertEqual(plain.status, 0)
        XCTAssertFalse(plain.output.contains("mirror:"), plain.output)

        let directory = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("f.zfs.gz")
        try Data(Fixture.bytes(8 * 1024 * 1024, seed: 9)).write(to: file)
        let manifest = directory.appendingPathComponent("m.json")
        let second = "7e000000-0000-4000-8000-000000000002"
        try Fixture.manifest(uuid: second).write(to: manifest, atomically: true, encoding: .utf8)
        let imgpublish = ServerProcess.imgpublish.path
        let published = try onTerminal("\(imgpublish) --manifest \(manifest.path) --file \(file.path) --url \(upstream.baseURL)")
        XCTAssertTrue(published.contains("sent ") && published.contains("MiB/s"), published)
        XCTAssertTrue(published.contains("published to"), published)
    }
}
