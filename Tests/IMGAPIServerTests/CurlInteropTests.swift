import Foundation
import XCTest

/// The server driven by curl, the client operators reach for first.
final class CurlInteropTests: XCTestCase {
    func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "120"] + arguments, timeout: 180)
    }

    /// curl asks `Expect: 100-continue` before a large upload; the server must say go at once.
    func testUploadWithExpectContinueAndRangedDownload() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw TestFailure("curl is missing (scripts/setup installs it)") }
            throw XCTSkip("curl is not installed")
        }
        let server = try ServerProcess(["--auth", "none"])
        try server.start()
        defer { server.stop() }
        let uuid = "12121212-0000-4000-8000-000000000001"
        expect(try await TestClient(server).postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)

        let file = Fixture.bytes(2 * 1024 * 1024, seed: 9)
        let path = server.storage.appendingPathComponent("upload.bin")
        try Data(file).write(to: path)
        let upload = try curl(["-v", "-X", "PUT", "--data-binary", "@\(path.path)", "--expect100-timeout", "30",
                               "\(server.baseURL)/images/\(uuid)/file?compression=none&sha1=\(Fixture.sha1(file))"])
        XCTAssertEqual(upload.status, 0, upload.output)
        XCTAssertTrue(upload.output.contains("< HTTP/1.1 100 Continue"), upload.output)
        XCTAssertTrue(upload.output.contains("< HTTP/1.1 200 OK"), upload.output)

        let ranged = try curl(["-r", "1000-1009", "-o", "-", "-w", "\n%{http_code}", "\(server.baseURL)/images/\(uuid)/file"])
        let parts = ranged.output.split(separator: "\n").last
        XCTAssertEqual(parts, "206")
    }
}
