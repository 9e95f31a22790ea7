import AsyncHTTPClient
import Foundation
import NIOCore
import XCTest

/// Files are streamed through the server, never held in memory whole.
final class StreamingMemoryTests: XCTestCase {
    /// Uploads and downloads 512 MiB; the server's peak resident memory must stay far below that.
    func testLargeUploadAndDownloadKeepServerMemoryFlat() async throws {
        let server = try ServerProcess(["--auth", "none"])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let uuid = "ffffffff-0000-4000-8000-000000000001"
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)

        let chunk = Fixture.bytes(4 * 1024 * 1024, seed: 5)
        let chunks = 128
        let total = Int64(chunk.count * chunks)
        let buffer = ByteBuffer(bytes: chunk)
        let body = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<chunks { continuation.yield(buffer) }
            continuation.finish()
        }
        let added = try await client.request(.PUT, "/images/\(uuid)/file?compression=none",
                                             streamedBody: .stream(body, length: .known(total)))
        expect(added, status: 200)
        XCTAssertEqual(try added.object()["files"]?.arrayValue?.first?.objectValue?["size"], .number(Double(total)))

        var request = HTTPClientRequest(url: "\(server.baseURL)/images/\(uuid)/file")
        request.method = .GET
        let response = try await TestClient.http.execute(request, timeout: .seconds(300))
        var received: Int64 = 0
        for try await part in response.body { received += Int64(part.readableBytes) }
        XCTAssertEqual(received, total)

        let peak = try XCTUnwrap(server.peakResidentBytes)
        XCTAssertLessThan(peak, 160 * 1024 * 1024, "server peak RSS \(peak / 1_048_576) MiB for a \(total / 1_048_576) MiB file")
    }

    /// imgpublish streams a 512 MiB file to the server: its own peak memory stays flat too.
    func testPublishKeepsImgpublishMemoryFlat() async throws {
        let server = try ServerProcess(["--auth", "none"])
        try server.start()
        defer { server.stop() }
        let directory = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("image.zfs.gz")
        XCTAssertTrue(FileManager.default.createFile(atPath: file.path, contents: nil))
        let handle = try FileHandle(forWritingTo: file)
        let chunk = Data(Fixture.bytes(4 * 1024 * 1024, seed: 6))
        for _ in 0..<128 { try handle.write(contentsOf: chunk) }
        try handle.close()
        let manifest = directory.appendingPathComponent("image.json")
        let uuid = "ffffffff-0000-4000-8000-000000000002"
        try Fixture.manifest(uuid: uuid).write(to: manifest, atomically: true, encoding: .utf8)
        let peakFile = directory.appendingPathComponent("peak")
        let imgpublish = ServerProcess.imgpublish.path
        let result = try ServerProcess.run(["-f", "%M", "-o", peakFile.path, imgpublish, "--manifest", manifest.path,
                                            "--file", file.path, "--url", server.baseURL],
                                           executable: URL(fileURLWithPath: "/usr/bin/time"))
        XCTAssertEqual(result.status, 0, result.output)
        let image = try await TestClient(server).get("/images/\(uuid)").object()
        XCTAssertEqual(image["files"]?.arrayValue?.first?.objectValue?["size"], .number(512 * 1024 * 1024))
        let kilobytes = try XCTUnwrap(Int(try String(contentsOf: peakFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertLessThan(kilobytes, 160 * 1024, "imgpublish peak RSS \(kilobytes / 1024) MiB for a 512 MiB file")
    }
}
