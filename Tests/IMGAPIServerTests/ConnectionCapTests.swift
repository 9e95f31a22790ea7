import Foundation
import XCTest

/// Connections beyond `maxConnections`, or beyond `maxConnectionsPerAddress` from one
/// address, are answered 503 and closed while the server still has descriptors to spare.
/// There was no cap: 1,100 idle connections made downloads fail with "too many open files".
final class ConnectionCapTests: XCTestCase {
    var server: ServerProcess!

    override func setUp() async throws {
        let config = try ServerProcess.temporaryDirectory().appendingPathComponent("imgapid.json")
        try #"{"maxConnections": 4, "maxConnectionsPerAddress": 2}"#.write(to: config, atomically: true, encoding: .utf8)
        server = try ServerProcess(["--config", config.path])
        try server.start()
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// A keep-alive connection from `source` that has had one ping answered (so it is counted).
    func openConnection(from source: String) throws -> RawConnection {
        let connection = try RawConnection(port: server.port, source: source)
        XCTAssertTrue(connection.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"))
        guard connection.receive(until: "pong") else { throw TestFailure("no ping answer for \(source)") }
        return connection
    }

    /// The answer to a ping on a new connection from `source`, read until the server closes.
    func ping(from source: String) throws -> (response: String, closed: Bool) {
        let connection = try RawConnection(port: server.port, source: source)
        XCTAssertTrue(connection.send("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        let (bytes, closed) = connection.receiveAll()
        return (String(decoding: bytes, as: UTF8.self), closed)
    }

    func testOneAddressIsCappedOthersAreNot() throws {
        let held = try (0..<2).map { _ in try openConnection(from: "127.0.0.1") }
        let (refused, closed) = try ping(from: "127.0.0.1")
        XCTAssertEqual(RawHTTP.status(of: refused), 503, refused)
        XCTAssertTrue(refused.contains("maxConnectionsPerAddress"), refused)
        XCTAssertTrue(refused.contains("\"code\": \"ServiceUnavailable\""), refused)
        XCTAssertTrue(refused.lowercased().contains("connection: close"), refused)
        XCTAssertTrue(closed)
        XCTAssertEqual(RawHTTP.status(of: try ping(from: "127.0.0.2").response), 200)
        withExtendedLifetime(held) {}
    }

    func testServerIsCappedAndAdmitsAgainWhenAConnectionCloses() throws {
        var held = try ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"].map { try openConnection(from: $0) }
        let (refused, _) = try ping(from: "127.0.0.3")
        XCTAssertEqual(RawHTTP.status(of: refused), 503, refused)
        XCTAssertTrue(refused.contains("maxConnections)"), refused)
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"status\":503") && $0.contains("maxConnections") })
        held.removeLast()
        // The server counts the closed connection out when it sees the close.
        var status: Int?
        for _ in 0..<300 where status != 200 {
            status = RawHTTP.status(of: try ping(from: "127.0.0.3").response)
            if status != 200 { usleep(100_000) }
        }
        XCTAssertEqual(status, 200, "a freed connection slot was not given to a new client")
    }

    /// 400 connections flood a server that may open 256 descriptors: the ones over the cap
    /// get 503 or are closed at once, and a client admitted before the flood still downloads
    /// (its file needs a descriptor too). It failed with "too many open files".
    func testFloodLeavesAdmittedClientsWorking() async throws {
        server.stop()
        let config = try ServerProcess.temporaryDirectory().appendingPathComponent("imgapid.json")
        try #"{"maxConnectionsPerAddress": 1000}"#.write(to: config, atomically: true, encoding: .utf8)
        let small = try ServerProcess(["--config", config.path, "--trust-network", "127.0.0.1/32"])
        small.launcher = ["/usr/bin/prlimit", "--nofile=256:256", "--"]
        try small.start()
        defer { small.stop() }
        XCTAssertTrue(small.logLines.contains { $0.contains("\"max_connections\":64") }, small.logLines.joined())
        let uuid = "73000000-0000-4000-8000-000000000001"
        let file = Fixture.bytes(1024 * 1024)
        try await TestClient(small).publish(uuid, file: file)

        let admitted = try RawConnection(port: small.port)
        XCTAssertTrue(admitted.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertTrue(admitted.receive(until: "pong"))
        let flood = try (0..<400).map { _ in try RawConnection(port: small.port, timeout: 20) }
        var answers: [Int: Int] = [:]
        for connection in flood {
            _ = connection.send("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let status = RawHTTP.status(of: String(decoding: connection.receiveAll().bytes, as: UTF8.self)) ?? 0
            answers[status, default: 0] += 1
        }
        XCTAssertLessThanOrEqual(answers[200, default: 0], 64, "\(answers)")
        XCTAssertGreaterThan(answers[503, default: 0], 0, "\(answers)")
        XCTAssertEqual(answers.keys.filter { ![0, 200, 503].contains($0) }, [], "\(answers)")

        XCTAssertTrue(admitted.send("GET /images/\(uuid)/file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        let (download, _) = admitted.receiveAll()
        XCTAssertEqual(RawHTTP.status(of: String(decoding: download.prefix(20), as: UTF8.self)), 200)
        XCTAssertGreaterThan(download.count, file.count)
        XCTAssertFalse(small.logLines.contains { $0.contains("Too many open files") || $0.contains("EMFILE") })
        XCTAssertTrue(small.isRunning)
    }
}
