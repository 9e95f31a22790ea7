import Foundation
import XCTest

/// Connections that send nothing are closed after `idleTimeout`: half a request head, an idle
/// keep-alive connection, an upload whose body stops. They were held for ever.
final class ConnectionTimeoutTests: XCTestCase {
    var server: ServerProcess!
    let uuid = "71000000-0000-4000-8000-000000000001"

    override func setUp() async throws {
        let config = try ServerProcess.temporaryDirectory().appendingPathComponent("imgapid.json")
        try #"{"idleTimeout": 2}"#.write(to: config, atomically: true, encoding: .utf8)
        server = try ServerProcess(["--config", config.path, "--trust-network", "127.0.0.1/32"])
        try server.start()
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// Sends `bytes` without closing, then reads until the server closes (or 20 s pass).
    func closedByServer(after bytes: String) throws -> (response: String, closedByServer: Bool) {
        try RawHTTP.exchange(port: server.port, Array(bytes.utf8), timeout: 20, halfClose: false)
    }

    func testHalfARequestHeadIsClosed() throws {
        let (response, closed) = try closedByServer(after: "GET /images HTTP/1.1\r\nHost: x\r\n")
        XCTAssertTrue(closed, "a connection with half a request head was held open")
        XCTAssertNil(RawHTTP.status(of: response).flatMap { $0 == 200 ? $0 : nil })
    }

    func testIdleKeepAliveConnectionIsClosed() throws {
        let (response, closed) = try closedByServer(after: "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(RawHTTP.status(of: response), 200, response)
        XCTAssertTrue(closed, "an idle keep-alive connection was held open")
    }

    func testStalledUploadIsAbortedAndDiscarded() async throws {
        let client = TestClient(server)
        let imported = try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
        expect(imported, status: 200)
        let head = "PUT /images/\(uuid)/file?compression=gzip HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
        let (_, closed) = try RawHTTP.exchange(port: server.port, Array(head.utf8) + Fixture.bytes(65536), timeout: 20,
                                               halfClose: false)
        XCTAssertTrue(closed, "an upload that stopped sending was held open")
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"method\":\"PUT\"") }, "the aborted upload was not logged")
        try server.assertStored(images: 1, blobs: 0)
        let ping = try await client.get("/ping")
        XCTAssertEqual(ping.status, 200)
    }
}

/// Every connection holds a descriptor: the server raises its soft limit to the hard one.
final class OpenFileLimitTests: XCTestCase {
    func testSoftLimitIsRaisedAndLogged() throws {
        var limit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit), 0)
        let hard = limit.rlim_max
        // Start the server with a low soft limit, as the default 1,024 is on many systems.
        let lowered = rlimit(rlim_cur: min(256, hard), rlim_max: hard)
        var saved = limit
        var low = lowered
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &low), 0)
        let server = try ServerProcess()
        defer { server.stop() }
        let started = Result { try server.start() }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &saved), 0)
        try started.get()
        let line = try XCTUnwrap(server.logLines.first { $0.contains("\"msg\":\"listening\"") })
        XCTAssertTrue(line.contains("\"max_open_files\":\(hard)"), line)
    }
}
