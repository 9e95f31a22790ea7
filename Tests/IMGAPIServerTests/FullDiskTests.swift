import Foundation
import XCTest

/// A full disk under the storage (a small tmpfs, for real): every write is refused with
/// 503 StorageIsDown saying the disk is full and changes nothing; a publish whose catalog
/// commit fails leaves no file behind; DeleteImage still works, so an operator can free space.
/// All of these answered 500, and the failed publish left its blob on disk.
final class FullDiskTests: XCTestCase {
    let published = "f0000000-0000-4000-8000-000000000001"
    let pending = "f0000000-0000-4000-8000-000000000002"
    /// A CreateImage body.
    let creation = """
        {"v": 2, "owner": "00000000-0000-0000-0000-000000000000", "name": "made", "version": "1",
         "type": "zone-dataset", "os": "smartos"}
        """

    /// Fills the disk under `directory` with `filler` in whole pages until nothing is left.
    func fill(_ filler: URL) throws -> Int {
        let fd = open(filler.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestFailure("cannot create \(filler.path)") }
        defer { close(fd) }
        var size = 0
        for chunk in [1024 * 1024, 65536, 4096] {
            let bytes = [UInt8](repeating: 0xA5, count: chunk)
            while bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == chunk { size += chunk }
            guard ftruncate(fd, off_t(size)) == 0 else { throw TestFailure("ftruncate failed") }
            lseek(fd, off_t(size), SEEK_SET)
        }
        return size
    }

    func testWritesAreRefusedAndDeleteFreesSpace() async throws {
        guard getuid() == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("needs root to mount a tmpfs") }
            throw XCTSkip("needs root to mount a tmpfs")
        }
        let disk = try TmpfsMount(megabytes: 24)
        defer { disk.unmount() }
        let storage = disk.path.appendingPathComponent("storage")
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: storage)
        try server.start()
        defer { server.stop() }
        let reserve = storage.appendingPathComponent("reserve")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: reserve.path)[.size] as? Int, 8 * 1024 * 1024)

        let client = TestClient(server)
        try await client.publish(published, file: Fixture.bytes(1024 * 1024, seed: 31))
        expect(try await client.postJSON("/images/\(pending)?action=import", Fixture.manifest(uuid: pending)), status: 200)
        // The new file's blob directory already exists (as it would for a shared prefix), so
        // that its upload fits exactly and the failure comes at the catalog commit.
        let file = Fixture.bytes(1024 * 1024, seed: 32)
        let blobDirectory = storage.appendingPathComponent("blobs/\(Fixture.sha256(file).prefix(2))")
        try FileManager.default.createDirectory(at: blobDirectory, withIntermediateDirectories: true)
        let blobsBefore = server.files(under: "blobs")

        let filler = disk.path.appendingPathComponent("filler")
        let filled = try fill(filler)

        func expectFull(_ result: HTTPResult, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(result.status, 503, "\(what): \(result.text)", file: file, line: line)
            XCTAssertEqual(result.errorCode, "StorageIsDown", what, file: file, line: line)
            XCTAssertTrue(result.text.contains("no space left"), "\(what): \(result.text)", file: file, line: line)
        }
        expectFull(try await client.postJSON("/images", creation), "CreateImage")
        expectFull(try await client.postJSON("/images/\(pending)?action=update", #"{"description": "new"}"#), "UpdateImage")
        expectFull(try await client.postJSON("/images/\(published)?action=disable", "{}"), "DisableImage")
        expectFull(try await client.request(.PUT, "/images/\(pending)/icon",
                                            headers: [("Content-Type", "image/png")], body: Fixture.bytes(2048)),
                   "AddImageIcon")
        let listed = try await client.get("/images?state=all&name=made")
        XCTAssertEqual(try listed.json(), .array([]))
        let unchanged = try await client.get("/images/\(pending)").object()
        XCTAssertNil(unchanged["description"])
        XCTAssertEqual(unchanged["icon"], nil)
        let stillEnabled = try await client.get("/images/\(published)").object()
        XCTAssertEqual(stillEnabled["disabled"], .bool(false))

        // Room for the upload and not one page more: the file lands, the commit fails.
        guard truncate(filler.path, off_t(filled - file.count)) == 0 else { throw TestFailure("truncate failed") }
        expectFull(try await client.putFile(pending, file, query: "compression=gzip"), "AddImageFile")
        XCTAssertEqual(server.files(under: "blobs"), blobsBefore, "the refused file was left in the store")
        XCTAssertEqual(server.files(under: "uploads"), [])
        let withoutFile = try await client.get("/images/\(pending)").object()
        XCTAssertEqual(withoutFile["files"], .array([]))
        _ = try fill(filler)

        // The operator frees space by deleting an image, on the full disk.
        expect(try await client.request(.DELETE, "/images/\(published)"), status: 204)
        expect(try await client.get("/images/\(published)"), status: 404)
        XCTAssertEqual(server.files(under: "blobs").count, blobsBefore.count - 1)

        // With room again, writes work and the next delete makes the reserve anew.
        try FileManager.default.removeItem(at: filler)
        let created = try await client.postJSON("/images", creation)
        expect(created, status: 200)
        let uuid = try XCTUnwrap(created.object()["uuid"]?.stringValue)
        expect(try await client.request(.DELETE, "/images/\(uuid)"), status: 204)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: reserve.path)[.size] as? Int, 8 * 1024 * 1024)
    }
}
