import Foundation
import IMGAPI
import XCTest

/// Import from another IMGAPI server (spec §1.15, §1.16) between two real imgapid instances.
final class RemoteImportTests: XCTestCase {
    var upstream: ServerProcess!
    var local: ServerProcess!
    var up: TestClient!
    var client: TestClient!
    let base = "4e000000-0000-4000-8000-000000000001"
    let child = "4e000000-0000-4000-8000-000000000002"
    let grandchild = "4e000000-0000-4000-8000-000000000003"

    override func setUp() async throws {
        upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        local = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try local.start()
        up = TestClient(upstream)
        client = TestClient(local)
    }

    override func tearDown() async throws {
        upstream.stop()
        local.stop()
    }

    var source: String { "source=\(upstream.baseURL)" }

    /// Publishes base ← child ← grandchild upstream, each with its own file.
    func publishChain() async throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        var origin: String?
        for (index, uuid) in [base, child, grandchild].enumerated() {
            let file = Fixture.bytes(300_000 + index, seed: UInt64(40 + index))
            let extra = "\"published_at\": \"2021-0\(index + 1)-01T00:00:00Z\"" + (origin.map { ", \"origin\": \"\($0)\"" } ?? "")
            try await up.publish(uuid, name: "chain-\(index)", extra: extra, file: file)
            files[uuid] = file
            origin = uuid
        }
        return files
    }

    /// Polls `GET /jobs/:uuid` until the job is no longer running.
    func finishedJob(_ job: String) async throws -> JSONObject {
        for _ in 0..<400 {
            let result = try await client.get("/jobs/\(job)")
            XCTAssertEqual(result.status, 200, result.text)
            let object = try result.object()
            if object["state"] != .string("running") { return object }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("job \(job) still running after 20 s")
    }

    func testImportManifestThenFileFromSource() async throws {
        let files = try await publishChain()
        let imported = try await client.postJSON("/images/\(base)?action=import&\(source)", "{}")
        expect(imported, status: 200)
        let manifest = try imported.object()
        XCTAssertEqual(manifest["state"], .string("unactivated"))
        XCTAssertEqual(manifest["published_at"], .string("2021-01-01T00:00:00Z"))
        XCTAssertEqual(manifest["name"], .string("chain-0"))
        expect(try await client.postJSON("/images/\(base)?action=import&\(source)", "{}"), status: 409)

        let added = try await client.request(.PUT, "/images/\(base)/file?\(source)")
        expect(added, status: 200)
        let file = try XCTUnwrap(try added.object()["files"]?.arrayValue?.first?.objectValue)
        XCTAssertEqual(file["sha1"], .string(Fixture.sha1(files[base]!)))
        XCTAssertEqual(file["compression"], .string("gzip"))
        expect(try await client.postJSON("/images/\(base)?action=activate", "{}"), status: 200)
        let download = try await client.get("/images/\(base)/file")
        XCTAssertEqual(download.body, files[base]!)
    }

    func testImportRemoteCopiesTheOriginChainBaseFirst() async throws {
        let files = try await publishChain()
        let started = try await client.postJSON("/images/\(grandchild)?action=import-remote&\(source)", "{}")
        expect(started, status: 200)
        let answer = try started.object()
        XCTAssertEqual(answer["image_uuid"], .string(grandchild))
        let job = try XCTUnwrap(answer["job_uuid"]?.stringValue)

        let finished = try await finishedJob(job)
        XCTAssertEqual(finished["state"], .string("succeeded"), finished.prettyPrinted())
        let progress = try XCTUnwrap(finished["progress"]?.objectValue)
        XCTAssertEqual(progress["images_total"], .number(3))
        XCTAssertEqual(progress["images_done"], .number(3))
        XCTAssertEqual(progress["bytes"], .number(Double(files.values.map(\.count).reduce(0, +))))

        for uuid in [base, child, grandchild] {
            let theirs = try await up.get("/images/\(uuid)").object()
            let ours = try await client.get("/images/\(uuid)").object()
            XCTAssertEqual(ours, theirs, "identical manifest for \(uuid)")
            let download = try await client.get("/images/\(uuid)/file")
            XCTAssertEqual(download.body, files[uuid]!)
        }
        // Once the chain is here, the next import walks no further than the local origin.
        let again = try await client.postJSON("/images/\(grandchild)?action=import-remote&\(source)", "{}")
        XCTAssertEqual(again.errorCode, "ImageUuidAlreadyExists")
    }

    func testImportRemoteRefusals() async throws {
        _ = try await publishChain()
        let missing = try await client.postJSON("/images/\(base)?action=import-remote", "{}")
        XCTAssertEqual(missing.status, 422)
        XCTAssertEqual(missing.errorCode, "ValidationFailed")
        let garbage = try await client.postJSON("/images/\(base)?action=import-remote&source=ftp://x", "{}")
        XCTAssertEqual(garbage.errorCode, "InvalidParameter")
        let unknown = try await client.postJSON("/images/4e000000-0000-4000-8000-0000000000ff?action=import-remote&\(source)", "{}")
        XCTAssertEqual(unknown.status, 503)
        XCTAssertEqual(unknown.errorCode, "RemoteSourceError")
        let operatorOnly = try await client.postJSON(
            "/images/\(base)?action=import-remote&\(source)&account=4e000000-0000-4000-8000-0000000000aa", "{}")
        XCTAssertEqual(operatorOnly.status, 403)
        // An origin that is disabled upstream cannot carry an import-remote.
        expect(try await up.postJSON("/images/\(child)?action=disable", "{}"), status: 200)
        let inactive = try await client.postJSON("/images/\(grandchild)?action=import-remote&\(source)", "{}")
        XCTAssertEqual(inactive.status, 422)
        XCTAssertEqual(inactive.errorCode, "OriginIsNotActive")
        expect(try await client.get("/jobs/4e000000-0000-4000-8000-0000000000ee"), status: 404)

        let closed = try ServerProcess([])
        try closed.start()
        let deadURL = closed.baseURL
        closed.stop()
        let unreachable = try await client.postJSON("/images/\(base)?action=import&source=\(deadURL)", "{}")
        XCTAssertEqual(unreachable.status, 503)
        XCTAssertEqual(unreachable.errorCode, "RemoteSourceError")
        try local.assertStored(images: 0, blobs: 0)
    }

    /// An upstream serving bytes that do not match its manifest: nothing is stored.
    func testCorruptUpstreamFileIsNotStored() async throws {
        let file = Fixture.bytes(500_000, seed: 9)
        try await up.publish(base, file: file)
        let blob = try XCTUnwrap(upstream.files(under: "blobs").first)
        let handle = try FileHandle(forUpdating: upstream.storage.appendingPathComponent("blobs/\(blob)"))
        try handle.seek(toOffset: 1000)
        handle.write(Data([0xFF, 0x00, 0xFF]))
        try handle.close()

        let job = try await client.postJSON("/images/\(base)?action=import-remote&\(source)", "{}").object()["job_uuid"]?.stringValue
        let finished = try await finishedJob(try XCTUnwrap(job))
        XCTAssertEqual(finished["state"], .string("failed"))
        XCTAssertNotNil(finished["error"]?.objectValue?["message"]?.stringValue)
        expect(try await client.get("/images/\(base)"), status: 404)
        try local.assertStored(images: 0, blobs: 0)

        expect(try await client.postJSON("/images/\(base)?action=import&\(source)", "{}"), status: 200)
        let added = try await client.request(.PUT, "/images/\(base)/file?\(source)")
        XCTAssertTrue([400, 503].contains(added.status), added.text)
        try local.assertStored(images: 1, blobs: 0)
    }

    /// The upstream dies while the file streams: the job fails and no trace remains.
    func testUpstreamDyingMidTransferLeavesNothing() async throws {
        let file = Fixture.bytes(96 * 1024 * 1024, seed: 12)
        try await up.publish(base, file: file)
        let job = try await client.postJSON("/images/\(base)?action=import-remote&\(source)", "{}").object()["job_uuid"]?.stringValue
        for _ in 0..<6000 where local.files(under: "uploads").isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertEqual(local.files(under: "uploads").count, 1, "transfer under way")
        upstream.kill()
        let finished = try await finishedJob(try XCTUnwrap(job))
        XCTAssertEqual(finished["state"], .string("failed"), finished.prettyPrinted())
        XCTAssertEqual(finished["error"]?.objectValue?["code"], .string("RemoteSourceError"))
        expect(try await client.get("/images/\(base)"), status: 404)
        try local.assertStored(images: 0, blobs: 0)
        XCTAssertTrue(local.isRunning)
    }
}
