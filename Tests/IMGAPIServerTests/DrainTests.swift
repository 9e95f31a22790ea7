import Foundation
import IMGAPI
import XCTest

/// SIGTERM drains: no new connections, a download in flight finishes, and the process exits
/// once it is done, or at `shutdownTimeout` when a client stops reading.
final class DrainTests: XCTestCase {
    let uuid = "d1a10000-0000-4000-8000-000000000001"
    let file = Fixture.bytes(16 * 1024 * 1024, seed: 5)

    func start(shutdownTimeout: Int) async throws -> ServerProcess {
        let storage = try ServerProcess.temporaryDirectory()
        let config = storage.appendingPathComponent("drain.json")
        try #"{"shutdownTimeout": \#(shutdownTimeout), "trustedNetworks": ["127.0.0.1/32"]}"#.write(to: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--config", config.path], storage: storage)
        try server.start()
        try await TestClient(server).publish(uuid, file: file)
        return server
    }

    /// A download begun before SIGTERM, read after it, with a small receive buffer so the
    /// server is still sending when the signal comes.
    func beginDownload(_ server: ServerProcess) throws -> RawConnection {
        let connection = try RawConnection(port: server.port, receiveBuffer: 16 * 1024, timeout: 30)
        XCTAssertTrue(connection.send("GET /images/\(uuid)/file HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertFalse(connection.receive(upTo: 1024).isEmpty, "the download started")
        return connection
    }

    func testDownloadInFlightFinishesAndNewConnectionsAreRefused() async throws {
        let server = try await start(shutdownTimeout: 60)
        defer { server.stop() }
        let download = try beginDownload(server)
        server.signal(SIGTERM)
        XCTAssertTrue(eventually { (try? RawConnection(port: server.port, timeout: 2)) == nil },
                      "new connections are refused while draining")
        XCTAssertTrue(server.isRunning, "still draining the download")
        let (rest, _) = download.receiveAll()
        XCTAssertGreaterThan(rest.count, file.count - 1024, "the whole file arrived: \(rest.count) of \(file.count) bytes")
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"msg\":\"stopped\"") }, server.logLines.joined(separator: "\n"))
        XCTAssertTrue(eventually { !server.isRunning }, "exited once the download was done")
        XCTAssertEqual(server.terminationStatus, 0)
    }

    func testAStalledDownloadIsCutAtTheDeadline() async throws {
        let server = try await start(shutdownTimeout: 1)
        defer { server.stop() }
        let download = try beginDownload(server)
        let signalled = Date()
        server.signal(SIGTERM)
        XCTAssertTrue(eventually(within: 20) { !server.isRunning }, "the drain has a deadline")
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 15)
        let (rest, closed) = download.receiveAll()
        XCTAssertTrue(closed)
        XCTAssertLessThan(rest.count, file.count, "cut short, not completed")
    }

    /// Polls `condition` every 50 ms for at most `seconds`; true once it holds.
    func eventually(within seconds: TimeInterval = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}
