import AsyncHTTPClient
import Foundation
import IMGAPI
import NIOHTTP1
import XCTest

/// Serving files that changed behind the server's back, and answers that must close the
/// connection rather than leave a client waiting.
final class StoredFileTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    let uuid = "5f000000-0000-4000-8000-000000000001"
    let file = Fixture.bytes(1024 * 1024)

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server.stop()
    }

    var blob: URL {
        let sha256 = Fixture.sha256(file)
        return server.storage.appendingPathComponent("blobs/sha256/\(sha256.prefix(2))/\(sha256)")
    }

    /// A short blob was sent with the full Content-Length, and the client waited for ever.
    /// Now it is quarantined and answered 503 before any byte; a missing one likewise.
    func testTruncatedBlobIsAnErrorNotAHang() async throws {
        try await client.publish(uuid, file: file)
        let handle = try FileHandle(forWritingTo: blob)
        try handle.truncate(atOffset: 1000)
        try handle.close()
        for method in [HTTPMethod.GET, .HEAD] {
            let result = try await client.request(method, "/images/\(uuid)/file")
            XCTAssertEqual(result.status, 503, "\(method)")
            if method == .GET {
                XCTAssertTrue(result.text.contains(uuid) && result.text.contains("failed verification")
                              && result.text.contains("1000 bytes"), result.text)
            }
        }
        XCTAssertTrue(server.waitForLogLine { $0.contains("stored file quarantined") && $0.contains(uuid) })
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob.path), "the bad file left the blob store")

        let other = "5f000000-0000-4000-8000-000000000002"
        try await client.publish(other, file: Array(file.prefix(500)))
        let otherSHA256 = Fixture.sha256(Array(file.prefix(500)))
        let otherBlob = server.storage.appendingPathComponent("blobs/sha256/\(otherSHA256.prefix(2))/\(otherSHA256)")
        try FileManager.default.removeItem(at: otherBlob)
        let missing = try await client.request(.HEAD, "/images/\(other)/file")
        XCTAssertEqual(missing.status, 503, "HEAD of a missing file")
        XCTAssertTrue(server.isRunning)
    }

    /// One byte flipped on disk, size unchanged: the download is cut short before its last
    /// bytes, so no client takes the corrupt file for a complete one. It was served whole.
    /// The file is then quarantined, and publishing the same bytes again heals it.
    func testRottedBlobIsNeverServedWholeAndARepublishHealsIt() async throws {
        try await client.publish(uuid, file: file)
        try flipByte(at: 300_000)
        let (bytes, closed) = try download()
        XCTAssertTrue(closed)
        XCTAssertLessThan(bytes.count, file.count, "the corrupt file was sent whole")
        XCTAssertTrue(server.waitForLogLine { $0.contains("quarantined") && $0.contains(uuid) && $0.contains("\"level\":\"error\"") })
        XCTAssertTrue(server.waitForLogLine { $0.contains("/images/\(uuid)/file") && $0.contains("\"complete\":false") })
        let range = try RawHTTP.exchange(port: server.port, lines: [
            "GET /images/\(uuid)/file HTTP/1.1", "Host: x", "Range: bytes=0-99", "Connection: close",
        ])
        XCTAssertEqual(RawHTTP.status(of: range), 503, "not even a range of a quarantined file: \(range)")

        let again = "5f000000-0000-4000-8000-000000000003"
        try await client.publish(again, file: file)
        let healed = try await client.get("/images/\(uuid)/file")
        XCTAssertEqual(healed.status, 200)
        XCTAssertEqual(healed.body, file, "the verified upload replaced the bad copy")
    }

    /// `verifyOnSend: false` sends the bytes on disk as they are (the zero-verification choice).
    func testVerificationCanBeTurnedOff() async throws {
        server.stop()
        let config = try ServerProcess.temporaryDirectory().appendingPathComponent("imgapid.json")
        try #"{"verifyOnSend": false}"#.write(to: config, atomically: true, encoding: .utf8)
        server = try ServerProcess(["--config", config.path, "--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
        try await client.publish(uuid, file: file)
        try flipByte(at: 300_000)
        let (bytes, _) = try download()
        XCTAssertGreaterThan(bytes.count, file.count, "head and whole body")
    }

    func flipByte(at offset: UInt64) throws {
        let handle = try FileHandle(forUpdating: blob)
        try handle.seek(toOffset: offset)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
        try handle.close()
    }

    /// A whole-file GET read to the end of the connection: head and body bytes.
    func download() throws -> (bytes: [UInt8], closedByServer: Bool) {
        let connection = try RawConnection(port: server.port, timeout: 30)
        XCTAssertTrue(connection.send("GET /images/\(uuid)/file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        return connection.receiveAll()
    }

    /// The 416 refusal carried the file's Content-Type beside its own.
    func testRangeRefusalHasOneContentType() async throws {
        try await client.publish(uuid, file: file)
        let response = try RawHTTP.exchange(port: server.port, lines: [
            "GET /images/\(uuid)/file HTTP/1.1", "Host: x", "Range: bytes=99999999-", "Connection: close",
        ])
        XCTAssertEqual(RawHTTP.status(of: response), 416, response)
        let types = response.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("content-type:") }
        XCTAssertEqual(types.map { $0.lowercased() }, ["content-type: application/json"], response)
    }

    /// A refused upload's body was read to its end (a gigabyte) before the connection was free.
    func testRefusedUploadIsAnsweredAndClosedWithoutReadingTheBody() async throws {
        let untrusted = try ServerProcess()
        try untrusted.start()
        defer { untrusted.stop() }
        let head = "PUT /images/\(uuid)/file?compression=gzip HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n"
        let (response, closed) = try RawHTTP.exchange(port: untrusted.port, Array(head.utf8) + Fixture.bytes(4096),
                                                      timeout: 20, halfClose: false)
        XCTAssertEqual(RawHTTP.status(of: response), 401, response)
        XCTAssertTrue(response.lowercased().contains("connection: close"), response)
        XCTAssertTrue(closed, "the server kept the connection open to read the rest of the body")
        XCTAssertTrue(untrusted.isRunning)
    }
}
