import Foundation
import IMGAPI
import XCTest

/// The PostgreSQL catalog goes away (every connection to it cut, new ones refused) and comes
/// back, through a relay inside the test: the server keeps running, says the catalog is down
/// (503, `/ready`), and serves and publishes again by itself once it is back.
final class PostgresOutageTests: XCTestCase {
    func testServerRidesOutTheCatalogGoingAwayAndComingBack() async throws {
        let database = try XCTUnwrap(URLComponents(string: try TestPostgres.newDatabase()))
        let postgresPort = try XCTUnwrap(database.port)
        let relay = try GatedRelay(to: postgresPort, passing: Int.max)
        defer { relay.stop() }
        var viaRelay = database
        viaRelay.port = relay.port
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"], catalog: viaRelay.string!)
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let first = "0d000000-0000-4000-8000-000000000001"
        try await client.publish(first, name: "before")

        // Gone: the connections drop, new ones are refused.
        relay.targetPort = try Self.closedPort()
        relay.closeAll()
        let refused = try await client.postJSON("/images/0d000000-0000-4000-8000-000000000002?action=import",
                                                Fixture.manifest(uuid: "0d000000-0000-4000-8000-000000000002"))
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertTrue(refused.text.contains("cannot reach the PostgreSQL catalog"), refused.text)
        XCTAssertFalse(refused.text.contains("imgapid-test"), "no password in the answer")
        let ready = try await client.get("/ready")
        XCTAssertEqual(ready.status, 503, ready.text)
        XCTAssertTrue(server.isRunning)

        // Back: the server reconnects by itself, within seconds.
        relay.targetPort = postgresPort
        let deadline = Date().addingTimeInterval(15)
        var readyAgain = 0
        while Date() < deadline {
            readyAgain = try await client.get("/ready").status
            if readyAgain == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(readyAgain, 200, "ready again once the catalog is back")
        let second = "0d000000-0000-4000-8000-000000000003"
        try await client.publish(second, name: "after")
        let listed = try await client.get("/images").json().arrayValue?.compactMap { $0.objectValue?["uuid"]?.stringValue }
        XCTAssertEqual(listed, [first, second])
    }

    /// A port on 127.0.0.1 where nothing listens.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
