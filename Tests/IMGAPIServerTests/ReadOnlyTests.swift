import Foundation
import IMGAPI
import XCTest

/// Read-only mode from the config file, switched by SIGHUP and by `POST /state`, and what
/// else SIGHUP reloads: trusted networks at once, a bad file refused, other keys named as
/// waiting for a restart.
final class ReadOnlyTests: XCTestCase {
    func testReadOnlyBySighupAndByStateAndTheReloadOfTrustedNetworks() async throws {
        let storage = try ServerProcess.temporaryDirectory()
        let config = storage.appendingPathComponent("imgapid.json")
        func write(_ text: String) throws { try text.write(to: config, atomically: true, encoding: .utf8) }
        try write(#"{"trustedNetworks": ["127.0.0.1/32"]}"#)
        let server = try ServerProcess(["--config", config.path], storage: storage)
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        try await client.publish("5ead0000-0000-4000-8000-000000000001")
        func reloaded(_ count: Int, _ message: String = "config reloaded") -> Bool {
            server.waitForLogLine { _ in server.logLines.filter { $0.contains(message) }.count >= count }
        }

        // The config file turns it on; SIGHUP takes it at once.
        try write(#"{"trustedNetworks": ["127.0.0.1/32"], "readOnly": true}"#)
        server.signal(SIGHUP)
        XCTAssertTrue(reloaded(1), server.logLines.joined(separator: "\n"))
        XCTAssertTrue(server.logLines.contains { $0.contains("config reloaded") && $0.contains("readOnly") })
        let refused = try await client.postJSON("/images/5ead0000-0000-4000-8000-000000000002?action=import",
                                                Fixture.manifest(uuid: "5ead0000-0000-4000-8000-000000000002"))
        XCTAssertEqual(refused.status, 503)
        XCTAssertTrue(refused.text.contains("read-only"), refused.text)
        let read = try await client.get("/images/5ead0000-0000-4000-8000-000000000001")
        XCTAssertEqual(read.status, 200, "reads go on")
        let state = try await client.get("/state")
        XCTAssertEqual(try state.object()["readOnly"], .bool(true))

        // A file that does not parse is refused, and read-only stays.
        try write("{ not json")
        server.signal(SIGHUP)
        XCTAssertTrue(reloaded(1, "config not reloaded"), server.logLines.joined(separator: "\n"))
        let still = try await client.request(.DELETE, "/images/5ead0000-0000-4000-8000-000000000001")
        XCTAssertEqual(still.status, 503, still.text)

        // POST /state switches it off and on; it is an operator's call.
        let off = try await client.postJSON("/state?action=read-write", "")
        XCTAssertEqual(off.status, 200, off.text)
        XCTAssertEqual(try off.object()["readOnly"], .bool(false))
        try await client.publish("5ead0000-0000-4000-8000-000000000002")
        let on = try await client.postJSON("/state?action=read-only", "")
        XCTAssertEqual(on.status, 200)
        let deleted = try await client.request(.DELETE, "/images/5ead0000-0000-4000-8000-000000000002")
        XCTAssertEqual(deleted.status, 503)
        let dropped = try await client.postJSON("/state?action=dropcaches", "")
        XCTAssertEqual(dropped.status, 202, "the reference's action")
        let unknown = try await client.postJSON("/state?action=explode", "")
        XCTAssertEqual(unknown.status, 409)
        let outsider = try RawConnection(port: server.port, source: "127.0.0.2")
        XCTAssertTrue(outsider.send("POST /state?action=read-write HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
        XCTAssertEqual(RawHTTP.status(of: String(decoding: outsider.receiveAll().bytes, as: UTF8.self)), 401,
                       "not from outside the trusted networks")

        // SIGHUP: read-only off, no trusted network any more and a smaller JSON limit (at
        // once), and a new server name (at the next start).
        let admin = try server.signedClient()
        try write(#"{"trustedNetworks": [], "maxJSONBodySize": 1024, "serverName": "renamed"}"#)
        server.signal(SIGHUP)
        XCTAssertTrue(reloaded(2), server.logLines.joined(separator: "\n"))
        let line = try XCTUnwrap(server.logLines.last { $0.contains("config reloaded") })
        XCTAssertTrue(line.contains("trustedNetworks") && line.contains("maxJSONBodySize") && line.contains("readOnly"), line)
        XCTAssertTrue(line.contains("\"needs_restart\":[\"serverName\"]"), line)
        let unsigned = try await client.request(.DELETE, "/images/5ead0000-0000-4000-8000-000000000002")
        XCTAssertEqual(unsigned.status, 401, "trusted networks reloaded: \(unsigned.text)")
        let large = try await admin.postJSON("/images/5ead0000-0000-4000-8000-000000000003?action=import",
                                             Fixture.manifest(uuid: "5ead0000-0000-4000-8000-000000000003", name: "big",
                                                              version: "1", os: "smartos", type: "zone-dataset",
                                                              extra: #""description": "\#(String(repeating: "x", count: 2000))""#))
        XCTAssertEqual(large.status, 413, "the smaller JSON limit holds: \(large.text)")
        let ping = try await client.get("/ping")
        XCTAssertNotEqual(ping.headers["Server"].first, "renamed", "serverName waits for a restart")
        XCTAssertEqual(ping.status, 200)
    }
}
