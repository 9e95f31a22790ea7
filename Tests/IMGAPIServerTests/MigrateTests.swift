import Foundation
import IMGAPI
import XCTest

/// `imgapid migrate`: a local repository onto real PostgreSQL and the S3 peer, served from
/// there as it was, and back again; a second run copies only what is missing.
final class MigrateTests: XCTestCase {
    let base = "3a000000-0000-4000-8000-000000000001"
    let child = "3a000000-0000-4000-8000-000000000002"
    let bare = "3a000000-0000-4000-8000-000000000003"
    let icon = Array("\u{89}PNG\r\n\u{1A}\n icon".utf8)

    /// What a client sees of each image: its manifest, its file and its icon.
    func snapshot(_ server: ServerProcess) async throws -> [String: [String]] {
        let client = TestClient(server)
        var seen: [String: [String]] = [:]
        for uuid in [base, child, bare] {
            let manifest = try await client.get("/images/\(uuid)")
            let file = try await client.get("/images/\(uuid)/file")
            let icon = try await client.get("/images/\(uuid)/icon")
            seen[uuid] = [manifest.text, Fixture.sha256(file.body), "\(file.status) \(file.header("Last-Modified") ?? "")",
                          "\(icon.status) \(Fixture.sha256(icon.body))"]
        }
        return seen
    }

    func migrate(_ arguments: [String], store: TestObjectStore) throws -> JSONObject {
        let run = try ServerProcess.run(["migrate", "--json"] + arguments, environment: store.environment)
        XCTAssertEqual(run.status, 0, run.output)
        return try XCTUnwrap(try JSONValue.parse(Array(run.output.utf8)).objectValue, run.output)
    }

    func testLocalStoreMovesOntoPostgresAndS3AndBack() async throws {
        let store = try TestObjectStore()
        let catalog = try TestPostgres.newDatabase()
        let local = try ServerProcess(["--trust-network", "127.0.0.1/32"], catalog: nil)
        try local.start()
        let client = TestClient(local)
        try await client.publish(base, name: "base", file: Fixture.bytes(200_000, seed: 1))
        try await client.publish(child, name: "child", extra: "\"origin\": \"\(base)\"", file: Fixture.bytes(300_000, seed: 2))
        expect(try await client.request(.PUT, "/images/\(child)/icon", headers: [("Content-Type", "image/png")], body: icon), status: 200)
        expect(try await client.postJSON("/images/\(bare)?action=import", Fixture.manifest(uuid: bare)), status: 200)
        let before = try await snapshot(local)
        local.stop()

        let replicaStorage = try ServerProcess.temporaryDirectory()
        let onto = ["--storage", local.storage.path, "--to-storage", replicaStorage.path, "--to-catalog", catalog,
                    "--to-blobs", store.location.description]
        let first = try migrate(onto, store: store)
        XCTAssertEqual(first["copied"], .number(3), JSONValue.object(first).compact())
        XCTAssertEqual(first["present"], .number(0))
        let objects = try await store.client.listObjects(under: "blobs/")
        XCTAssertEqual(objects.count, 2, "both files in the object store")

        // Resumable: an image missing from the destination is all a second run copies.
        let again = try migrate(onto, store: store)
        XCTAssertEqual(again["copied"], .number(0))
        XCTAssertEqual(again["present"], .number(3))

        // A replica on the migrated store with an empty data directory serves it as it was.
        let replica = try ServerProcess(["--config", store.config.path], storage: try ServerProcess.temporaryDirectory(), catalog: catalog)
        try replica.start()
        let onReplica = try await snapshot(replica)
        replica.stop()
        XCTAssertEqual(onReplica, before)

        // `imgapid check` of a replica holding no file itself looks for them in the object store.
        let emptyReplica = try ServerProcess.temporaryDirectory().path
        let shared = ["--catalog", catalog, "--blobs", store.location.description]
        let sound = try ServerProcess.run(["check", "--storage", emptyReplica] + shared, environment: store.environment)
        XCTAssertEqual(sound.status, 0, sound.output)

        // And back: into a new local repository, with no PostgreSQL or S3 behind it.
        let back = try ServerProcess.temporaryDirectory()
        let returned = try migrate(["--storage", replicaStorage.path, "--catalog", catalog, "--blobs", store.location.description,
                                    "--to-storage", back.path], store: store)
        XCTAssertEqual(returned["copied"], .number(3), JSONValue.object(returned).compact())
        let restored = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: back, catalog: nil)
        try restored.start()
        let afterReturn = try await snapshot(restored)
        restored.stop()
        XCTAssertEqual(afterReturn, before)
        XCTAssertTrue(FileManager.default.fileExists(atPath: back.appendingPathComponent("catalog.sqlite").path))

        let lost = Fixture.bytes(200_000, seed: 1)
        try await store.client.deleteObject(TestObjectStore.key(lost))
        let damaged = try ServerProcess.run(["check", "--storage", emptyReplica] + shared, environment: store.environment)
        XCTAssertEqual(damaged.status, 1, damaged.output)
        XCTAssertTrue(damaged.output.contains("\(Fixture.sha256(lost)): the file is missing from the object store"), damaged.output)
    }
}
