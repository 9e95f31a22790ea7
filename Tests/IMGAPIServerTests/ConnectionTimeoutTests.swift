import Foundation
import XCTest

/// Clients that stall are dropped: half a request head, a head dripped byte by byte, an idle
/// keep-alive connection, an upload whose body stops, a reader that takes nothing. They were
/// held for ever. A transfer that keeps moving is not cut.
final class ConnectionTimeoutTests: XCTestCase {
    var server: ServerProcess!
    let uuid = "71000000-0000-4000-8000-000000000001"

    override func setUp() async throws {
        let config = try ServerProcess.temporaryDirectory().appendingPathComponent("imgapid.json")
        try #"{"headTimeout": 2, "idleTimeout": 2, "bodyStallTimeout": 2, "responseStallTimeout": 2}"#.write(to: config, atomically: true, encoding: .utf8)
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

    /// The stalled upload is answered (it was closed without a word) and then closed.
    func testStalledUploadIsAbortedAndDiscarded() async throws {
        let client = TestClient(server)
        let imported = try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
        expect(imported, status: 200)
        let head = "PUT /images/\(uuid)/file?compression=gzip HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
        let (response, closed) = try RawHTTP.exchange(port: server.port, Array(head.utf8) + Fixture.bytes(65536), timeout: 20,
                                                      halfClose: false)
        XCTAssertTrue(closed, "an upload that stopped sending was held open")
        XCTAssertEqual(RawHTTP.status(of: response), 400, response)
        XCTAssertTrue(response.contains("the upload ended after 65536 of 1048576 bytes: no byte arrived for 2 seconds"), response)
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"method\":\"PUT\"") }, "the aborted upload was not logged")
        try server.assertStored(images: 1, blobs: 0)
        let ping = try await client.get("/ping")
        XCTAssertEqual(ping.status, 200)
    }

    /// An upload whose client stops sending and half-closes, before the promised length, is
    /// answered at once with how many bytes came, and stores nothing.
    func testUploadCutShortSaysHowManyBytesArrived() async throws {
        let imported = try await TestClient(server).postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
        expect(imported, status: 200)
        let head = "PUT /images/\(uuid)/file?compression=gzip HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        let response = try RawHTTP.exchange(port: server.port, Array(head.utf8) + Fixture.bytes(1200), timeout: 20)
        XCTAssertEqual(RawHTTP.status(of: response), 400, response)
        XCTAssertTrue(response.contains("the upload ended after 1200 of 5000 bytes: the client closed the connection"), response)
        try server.assertStored(images: 1, blobs: 0)
    }

    /// A slowloris client sends a header line every half second: each byte came within every
    /// idle timer, but the head as a whole is late.
    func testDrippedRequestHeadIsClosed() throws {
        let connection = try RawConnection(port: server.port)
        XCTAssertTrue(connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n"))
        var sent = 0
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, connection.send("X-Drip-\(sent): 1\r\n") {
            sent += 1
            usleep(500_000)
        }
        XCTAssertLessThan(Date(), deadline, "a request head dripped for 20 s was still being read")
        XCTAssertTrue(server.waitForLogLine { $0.contains("the request head did not arrive in time") })
    }

    /// A client that reads none of a download is dropped once it stops taking bytes.
    func testReaderThatTakesNothingIsDropped() async throws {
        let file = Fixture.bytes(16 * 1024 * 1024)
        try await TestClient(server).publish(uuid, file: file)
        let connection = try RawConnection(port: server.port, receiveBuffer: 4096, timeout: 20)
        XCTAssertTrue(connection.send("GET /images/\(uuid)/file HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertTrue(server.waitForLogLine { $0.contains("the client took none of the response") },
                      "a client that read nothing of 16 MiB was held open")
        let (received, closed) = connection.receiveAll()
        XCTAssertTrue(closed)
        XCTAssertLessThan(received.count, file.count)
    }

    /// A slow reader that keeps taking bytes gets the whole file, however long past every timeout.
    func testSlowButSteadyReaderGetsTheWholeFile() async throws {
        let file = Fixture.bytes(512 * 1024)
        try await TestClient(server).publish(uuid, file: file)
        let connection = try RawConnection(port: server.port, receiveBuffer: 4096, timeout: 20)
        XCTAssertTrue(connection.send("GET /images/\(uuid)/file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        var received: [UInt8] = []
        let started = Date()
        while received.count < file.count + 1024 {
            let chunk = connection.receive(upTo: 256 * 1024)
            if chunk.isEmpty { break }
            received += chunk
            usleep(50_000)
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 2.5, "the download was not slower than the timeouts")
        let text = String(decoding: received.prefix(4096), as: UTF8.self)
        XCTAssertEqual(RawHTTP.status(of: text), 200, text)
        let head = try XCTUnwrap(text.range(of: "\r\n\r\n"))
        XCTAssertEqual(received.count - text.utf8.distance(from: text.startIndex, to: head.upperBound), file.count)
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
