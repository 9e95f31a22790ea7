import AsyncHTTPClient
import Foundation
import IMGAPI
import NIOCore
import XCTest

/// Crashes and stops: an acknowledged publish survives, an interrupted one leaves nothing.
final class DurabilityTests: XCTestCase {
    var server: ServerProcess!

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// Restarts the server on the same storage directory.
    func restart() throws {
        server = try server.restarted()
    }

    func testAcknowledgedPublishSurvivesKill() async throws {
        let client = TestClient(server)
        let uuid = "eeeeeeee-0000-4000-8000-000000000001"
        let file = Fixture.bytes(200_000, seed: 11)
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        expect(try await client.putFile(uuid, file, query: "compression=gzip"), status: 200)
        expect(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        server.kill()

        try restart()
        let after = TestClient(server)
        let image = try await after.get("/images/\(uuid)").object()
        XCTAssertEqual(image["state"], .string("active"))
        let download = try await after.get("/images/\(uuid)/file")
        XCTAssertEqual(download.body, file)
        XCTAssertEqual(download.header("Content-MD5"), Fixture.md5Base64(file))
    }

    func testUploadInterruptedByCrashLeavesNothing() async throws {
        let client = TestClient(server)
        let uuid = "eeeeeeee-0000-4000-8000-000000000002"
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)

        // Stream 8 MiB of a declared 64 MiB, then kill the server while it waits for the rest.
        let chunk = ByteBuffer(bytes: Fixture.bytes(1024 * 1024))
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let upload = Task {
            try await client.request(.PUT, "/images/\(uuid)/file?compression=gzip",
                                     headers: [("Content-Type", "application/json")],
                                     streamedBody: .stream(stream, length: .known(Int64(64 * 1024 * 1024))))
        }
        for _ in 0..<8 { continuation.yield(chunk) }
        try await waitUntil { self.server.files(under: "uploads").count == 1 }
        server.kill()
        continuation.finish()
        _ = try? await upload.value

        try restart()
        XCTAssertEqual(server.files(under: "uploads"), [], "partial upload removed at start")
        XCTAssertEqual(server.files(under: "blobs"), [])
        let image = try await TestClient(server).get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"], .array([]))
        XCTAssertEqual(image["state"], .string("unactivated"))
        XCTAssertTrue(server.logLines.contains { $0.contains("removed leftovers") }, server.logLines.joined(separator: "\n"))
    }

    func testClientDisconnectMidUploadLeavesNothingAndServerKeepsServing() async throws {
        let client = TestClient(server)
        let uuid = "eeeeeeee-0000-4000-8000-000000000003"
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let upload = Task {
            try await client.request(.PUT, "/images/\(uuid)/file?compression=gzip",
                                     streamedBody: .stream(stream, length: .known(Int64(16 * 1024 * 1024))))
        }
        continuation.yield(ByteBuffer(bytes: Fixture.bytes(1024 * 1024)))
        try await waitUntil { self.server.files(under: "uploads").count == 1 }
        upload.cancel()
        continuation.finish()
        _ = try? await upload.value
        try await waitUntil { self.server.files(under: "uploads").isEmpty }
        XCTAssertEqual(server.files(under: "blobs"), [])
        XCTAssertTrue(server.isRunning)
        let image = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"], .array([]))
    }

    func testLeftoversFromACrashAreCollectedAtStart() async throws {
        server.stop()
        let orphan = String(repeating: "ab", count: 32)
        let blobDirectory = server.storage.appendingPathComponent("blobs/sha256/ab")
        try FileManager.default.createDirectory(at: blobDirectory, withIntermediateDirectories: true)
        try Data("orphan".utf8).write(to: blobDirectory.appendingPathComponent(orphan))
        try Data("partial".utf8).write(to: server.storage.appendingPathComponent("uploads/partial-upload"))
        try restart()
        XCTAssertEqual(server.files(under: "blobs"), [])
        XCTAssertEqual(server.files(under: "uploads"), [])
    }

    /// The disk fills up during an upload: a clear 503, no blob, no upload left behind,
    /// and the server goes on serving (a small tmpfs stands in for a full disk).
    func testFullDiskRefusesTheUploadAndLeavesNothing() async throws {
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("needs root to mount a tmpfs") }
            throw XCTSkip("needs root to mount a tmpfs")
        }
        server.stop()
        let disk = try TmpfsMount(megabytes: 3)
        defer { disk.unmount() }
        let full = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: disk.path.appendingPathComponent("storage"))
        try full.start()
        defer { full.stop() }
        let client = TestClient(full)
        let uuid = "eeeeeeee-0000-4000-8000-000000000009"
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let refused = try await client.putFile(uuid, Fixture.bytes(6 * 1024 * 1024, seed: 13), query: "compression=gzip")
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertEqual(refused.errorCode, "StorageIsDown")
        XCTAssertEqual(full.files(under: "uploads"), [])
        XCTAssertEqual(full.files(under: "blobs"), [])
        let image = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"], .array([]))
        // Room again: the same image takes a file that fits.
        expect(try await client.putFile(uuid, Fixture.bytes(100_000, seed: 14), query: "compression=gzip"), status: 200)
    }

    /// SIGTERM and SIGINT while a client is half way through an upload and then stalls: the
    /// server stops at once, tells the client, and records nothing of it.
    func testStopDiscardsAnUploadInFlight() async throws {
        for signal in [SIGTERM, SIGINT] {
            let client = TestClient(server)
            let uuid = "eeeeeeee-0000-4000-8000-00000000000\(signal == SIGTERM ? 6 : 7)"
            expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
            let upload = Task {
                try await client.request(.PUT, "/images/\(uuid)/file?compression=gzip",
                                         streamedBody: .stream(stream, length: .known(Int64(32 * 1024 * 1024))))
            }
            for _ in 0..<4 { continuation.yield(ByteBuffer(bytes: Fixture.bytes(1024 * 1024))) }
            try await waitUntil { self.server.files(under: "uploads").count == 1 }

            server.signal(signal)
            try await waitUntil { !self.server.isRunning }
            XCTAssertEqual(server.terminationStatus, 0)
            continuation.finish()
            let answer = try? await upload.value
            XCTAssertNotEqual(answer?.status, 200, "the upload cannot have succeeded")
            XCTAssertEqual(server.files(under: "uploads"), [], "discarded before the process ended")

            try restart()
            XCTAssertFalse(server.logLines.contains { $0.contains("removed leftovers") }, "nothing was left to collect")
            XCTAssertEqual(server.files(under: "blobs"), [])
            let image = try await TestClient(server).get("/images/\(uuid)").object()
            XCTAssertEqual(image["files"], .array([]))
        }
    }

    func testSigtermStopsCleanly() throws {
        server.stop()
        XCTAssertEqual(server.terminationStatus, 0)
    }

    /// Polls `condition` for up to 10 seconds.
    func waitUntil(_ condition: @escaping () -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
        for _ in 0..<200 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("condition not reached in 10 s", file: file, line: line)
    }
}
