import Foundation
import IMGAPI
import NIOCore
import ObjectStorage
import XCTest

/// Replicas: two `imgapid serve` processes, each with a data directory of its own, sharing
/// one catalog in a real PostgreSQL (`scripts/postgres`) and one object store (the S3 peer,
/// `scripts/s3-peer`). What is published through one is listed, shown and downloaded
/// through the other; one killed mid-publish leaves the other serving and writing.
final class ReplicaTests: XCTestCase {
    var replicas: [ServerProcess] = []
    var objects: S3Client!

    override func setUp() async throws {
        let store = try TestObjectStore()
        objects = store.client
        let catalog = try TestPostgres.newDatabase()
        for _ in 0..<2 {
            let replica = try ServerProcess(["--config", store.config.path], catalog: catalog)
            try replica.start()
            replicas.append(replica)
        }
    }

    override func tearDown() async throws {
        for replica in replicas { replica.stop() }
    }

    func testPublishedOnOneReplicaIsServedByTheOther() async throws {
        let (first, second) = (TestClient(replicas[0]), TestClient(replicas[1]))
        let uuid = "5e000000-0000-4000-8000-000000000001"
        let file = Fixture.bytes(3 * 1024 * 1024, seed: 41)
        try await first.publish(uuid, name: "shared", file: file)
        let stored = try await objects.headObject(TestObjectStore.key(file))
        XCTAssertEqual(stored?.size, Int64(file.count), "the file is in the object store")
        XCTAssertEqual(replicas[1].files(under: "blobs"), [], "the other replica holds no copy yet")

        // The other replica's listing follows within a second (its cached answer is dropped).
        let deadline = Date().addingTimeInterval(2)
        var listed: [String] = []
        while Date() < deadline {
            listed = try await second.get("/images?name=shared").json().arrayValue?.compactMap { $0.objectValue?["uuid"]?.stringValue } ?? []
            if listed == [uuid] { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(listed, [uuid])
        let shown = try await second.get("/images/\(uuid)").object()
        XCTAssertEqual(shown["state"], .string("active"))
        // Not held by the second replica: passed through from the object store, ranges too.
        let ranged = try await second.get("/images/\(uuid)/file", headers: [("Range", "bytes=10-19")])
        XCTAssertEqual(ranged.status, 206)
        XCTAssertTrue(ranged.body == Array(file[10..<20]))
        let downloaded = try await second.get("/images/\(uuid)/file")
        XCTAssertEqual(downloaded.status, 200)
        XCTAssertTrue(downloaded.body == file, "the bytes published through the first replica")
        XCTAssertEqual(downloaded.header("Content-MD5"), Fixture.md5Base64(file))
        // Meanwhile copied, verified, into the replica's cache.
        let filled = Date().addingTimeInterval(30)
        while replicas[1].files(under: "blobs").isEmpty && Date() < filled { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertEqual(replicas[1].files(under: "blobs").count, 1, "fetched, verified, into the replica's cache")
        let cached = try await second.get("/images/\(uuid)/file")
        XCTAssertTrue(cached.body == file)

        // Deleting through the second replica removes the shared copy; the first no longer lists it.
        expect(try await second.request(.DELETE, "/images/\(uuid)"), status: 204)
        let gone = try await objects.headObject(TestObjectStore.key(file))
        XCTAssertNil(gone, "the object no image uses is removed")
        expect(try await first.get("/images/\(uuid)"), status: 404)
    }

    func testKillingAReplicaMidPublishLeavesTheOtherServingAndWriting() async throws {
        let (first, second) = (TestClient(replicas[0]), TestClient(replicas[1]))
        let uuid = "5e000000-0000-4000-8000-000000000002"
        expect(try await first.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        // 4 MiB of a declared 32 MiB, then the first replica dies waiting for the rest.
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let upload = Task {
            try await first.request(.PUT, "/images/\(uuid)/file?compression=gzip", headers: [],
                                    streamedBody: .stream(stream, length: .known(Int64(32 * 1024 * 1024))))
        }
        for _ in 0..<4 { continuation.yield(ByteBuffer(bytes: Fixture.bytes(1024 * 1024, seed: 7))) }
        let deadline = Date().addingTimeInterval(30)
        while replicas[0].files(under: "uploads").isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertFalse(replicas[0].files(under: "uploads").isEmpty, "the upload was under way")
        replicas[0].kill()
        continuation.finish()
        _ = try? await upload.value

        let image = try await second.get("/images/\(uuid)").object()
        XCTAssertEqual(image["state"], .string("unactivated"), "the publish failed: the image never got its file")
        XCTAssertEqual(image["files"], .array([]))
        // The dead replica held no lock the living one waits for: it publishes at once.
        let other = "5e000000-0000-4000-8000-000000000003"
        let file = Fixture.bytes(100_000, seed: 8)
        try await second.publish(other, name: "after", file: file)
        let downloaded = try await second.get("/images/\(other)/file")
        XCTAssertTrue(downloaded.body == file)
    }

    /// An object that is not the file published (damaged in the object store) never makes a
    /// complete download, and never enters a replica's cache.
    func testDamagedSharedCopyIsNeverServedWhole() async throws {
        let (first, second) = (TestClient(replicas[0]), TestClient(replicas[1]))
        let uuid = "5e000000-0000-4000-8000-000000000004"
        let file = Fixture.bytes(500_000, seed: 9)
        try await first.publish(uuid, name: "damaged", file: file)
        var damaged = file
        damaged[1000] ^= 0xFF
        try await objects.putObject(TestObjectStore.key(file), ByteBuffer(bytes: damaged))

        let download = try? await second.get("/images/\(uuid)/file")
        XCTAssertFalse(download?.body == file || download?.body == damaged, "no complete transfer of the damaged bytes")
        XCTAssertTrue(replicas[1].waitForLogLine { $0.contains("shared file damaged") }, replicas[1].logLines.joined(separator: "\n"))
        let again = try? await second.get("/images/\(uuid)/file")
        XCTAssertFalse(again?.body == damaged)
        XCTAssertEqual(replicas[1].files(under: "blobs"), [], "the damaged copy did not enter the cache")
        // The replica that holds the verified copy still serves it.
        let original = try await first.get("/images/\(uuid)/file")
        XCTAssertTrue(original.body == file)
    }
}
