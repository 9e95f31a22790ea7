import Foundation
import IMGAPI
@testable import ImageStore
import XCTest

/// The catalog's operations, the same on both engines: a SQLite file and a real PostgreSQL
/// server (`scripts/postgres`, in a database made for each test). The end-to-end tests run
/// against PostgreSQL too (`IMGAPID_TEST_CATALOG=postgres` in `scripts/test`).
final class CatalogEngineTests: XCTestCase {
    /// The engines to run a scenario on: SQLite always, PostgreSQL where the server is up
    /// (always under CI, where a missing server fails the test).
    func engines() throws -> [(name: String, open: () throws -> Catalog)] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).sqlite")
        addTeardownBlock { try? FileManager.default.removeItem(at: file) }
        var engines: [(String, () throws -> Catalog)] = [("sqlite", { try Catalog(path: file.path, mode: .public) })]
        if let location = try Self.newPostgresDatabase() {
            engines.append(("postgres", { try Catalog(postgres: location, mode: .public) }))
        }
        return engines
    }

    /// A new database on the test server (nil without one, outside CI).
    static func newPostgresDatabase() throws -> PostgresLocation? {
        guard let url = ProcessInfo.processInfo.environment["IMGAPID_TEST_POSTGRES_URL"] else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("IMGAPID_TEST_POSTGRES_URL is not set (scripts/postgres)") }
            return nil
        }
        let name = "catalog_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", "CREATE DATABASE \(name)"]
        try psql.run()
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        var location = try PostgresLocation(url)
        location.database = name
        return location
    }

    static func image(_ number: Int, name: String, type: String = "zone-dataset", tags: JSONObject = JSONObject(),
               channels: [String] = [], acl: [String] = [], isPublic: Bool = true, fileSize: Int64 = 10) -> JSONObject {
        let sha = String(format: "%064x", number)
        return JSONObject([
            ("v", .number(2)), ("uuid", .string(String(format: "0c000000-0000-4000-8000-%012d", number))),
            ("owner", .string("00000000-0000-4000-8000-00000000000a")), ("name", .string(name)), ("version", .string("1.\(number)")),
            ("type", .string(type)), ("os", .string("smartos")), ("public", .bool(isPublic)), ("state", .string("active")),
            ("activated", .bool(true)), ("disabled", .bool(false)),
            ("published_at", .string(String(format: "2024-01-01T00:00:%02d.000Z", number))),
            ("tags", .object(tags)), ("channels", .array(channels.map(JSONValue.string))), ("acl", .array(acl.map(JSONValue.string))),
            ("files", .array([ImageFile(sha256: sha, sha1: String(format: "%040x", number), contentMD5: "x", size: fileSize,
                                        compression: "gzip", datasetGUID: nil, mtime: 0).json])),
        ])
    }

    func uuids(_ catalog: Catalog, _ pairs: [(String, String)], channel: String? = nil, authenticated: Bool = false) async throws -> [Int] {
        var query = try ListImagesQuery(query: pairs)
        query.channel = channel
        let records = try await catalog.listRecords(query, authenticated: authenticated).records
        return records.compactMap { $0["uuid"]?.stringValue?.suffix(12) }.compactMap { Int($0) }
    }

    func testQueriesAnswerTheSameOnBothEngines() async throws {
        for (engine, open) in try engines() {
            let catalog = try open()
            let images = [
                Self.image(1, name: "base-64", tags: JSONObject([("role", .string("db")), ("n", .number(3))]), channels: ["dev"]),
                Self.image(2, name: "base-64-lts", type: "zvol", channels: ["dev", "release"], fileSize: 20),
                Self.image(3, name: "minimal", tags: JSONObject([("role", .string("web"))]), acl: ["00000000-0000-4000-8000-0000000000bb"],
                      isPublic: false, fileSize: 30),
            ]
            let before = catalog.generation
            for record in images {
                _ = try await catalog.exclusive { writer in try writer.transaction { try writer.save(record) } }
            }
            XCTAssertEqual(catalog.generation, before + 3, "\(engine): each transaction moves the generation on")

            var result = try await uuids(catalog, [("name", "~base")])
            XCTAssertEqual(result, [1, 2], "\(engine): substring match")
            result = try await uuids(catalog, [("name", "base-64")])
            XCTAssertEqual(result, [1], "\(engine): exact match")
            result = try await uuids(catalog, [("type", "!zvol")])
            XCTAssertEqual(result, [1, 3], "\(engine): type excluded")
            result = try await uuids(catalog, [("tag.role", "web")])
            XCTAssertEqual(result, [3], "\(engine): tag")
            result = try await uuids(catalog, [("tag.n", "3")])
            XCTAssertEqual(result, [1], "\(engine): a number tag compares as its string")
            result = try await uuids(catalog, [], channel: "release")
            XCTAssertEqual(result, [2], "\(engine): channel")
            result = try await uuids(catalog, [("public", "false")])
            XCTAssertEqual(result, [3], "\(engine): public=false")
            result = try await uuids(catalog, [("account", "00000000-0000-4000-8000-0000000000bb")], authenticated: true)
            XCTAssertEqual(result, [1, 2, 3], "\(engine): shared through the ACL")
            result = try await uuids(catalog, [("account", "00000000-0000-4000-8000-0000000000cc")], authenticated: true)
            XCTAssertEqual(result, [1, 2], "\(engine): not shared")
            result = try await uuids(catalog, [("marker", String(format: "0c000000-0000-4000-8000-%012d", 2)), ("limit", "5")])
            XCTAssertEqual(result, [2, 3], "\(engine): a page starts at its marker")
            result = try await uuids(catalog, [("sort", "published_at.desc"), ("limit", "2")])
            XCTAssertEqual(result, [3, 2], "\(engine): descending, limited")

            let census = try await catalog.census()
            XCTAssertEqual(census.storedBytes, 60, "\(engine): bytes of distinct files")
            XCTAssertEqual(census.imagesByState, ["active": 3])
            let bySHA1 = try await catalog.file(withSHA1: String(format: "%040x", 2))
            XCTAssertEqual(bySHA1?.size, 20, "\(engine): a file found by its sha1")
            let present = try await catalog.present([String(format: "0c000000-0000-4000-8000-%012d", 3), "nope"])
            XCTAssertEqual(present.count, 1)

            let uuid1 = String(format: "0c000000-0000-4000-8000-%012d", 1)
            try await catalog.exclusive { writer in
                try writer.transaction {
                    try writer.setIcon(uuid1, ImageIcon(contentType: "image/png", bytes: [0, 1, 255, 0], mtime: 7))
                    try writer.setIcon(uuid1, ImageIcon(contentType: "image/png", bytes: [0, 2, 255, 0], mtime: 8))
                    try writer.quarantine(String(format: "%064x", 1), problem: "damaged")
                    try writer.recordCached(uuid1, from: "https://upstream")
                    try writer.setMeta("last_scrub_ms", "5")
                }
            }
            let icon = try await catalog.icon(uuid1)
            XCTAssertEqual(icon?.bytes, [0, 2, 255, 0], "\(engine): bytes (with NUL) kept, the icon replaced")
            let quarantined = try await catalog.quarantined()
            XCTAssertEqual(quarantined.map(\.images), [[uuid1]])
            let cached = try await catalog.cachedImages()
            XCTAssertEqual(cached.map(\.size), [10], "\(engine): cached image sizes")
            let meta = try await catalog.meta("last_scrub_ms")
            XCTAssertEqual(meta, "5")

            let removed = try await catalog.exclusive { writer in
                try writer.transaction {
                    try writer.delete(uuid1)
                    return try writer.removeIcon(uuid1)
                }
            }
            XCTAssertFalse(removed, "\(engine): deleting the image removed its icon")
            let referenced = try await catalog.referencedBlobs()
            XCTAssertEqual(referenced, [String(format: "%064x", 2), String(format: "%064x", 3)], "\(engine): file rows go with the image")
            let problems = try await catalog.integrityProblems()
            XCTAssertEqual(problems, [])
        }
    }

    /// An acknowledged write must survive a power loss: SQLite commits without syncing, and a
    /// write returns only after a sync of the WAL that began after its commit.
    func testSQLiteWritesReturnOnceSynced() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).sqlite")
        addTeardownBlock { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file.path + suffix) } }
        let catalog = try Catalog(path: file.path, mode: .public)
        XCTAssertEqual(try catalog.database.blocking { try $0.string("PRAGMA journal_mode") }, "wal")
        let sync = try XCTUnwrap(catalog.commitSync, "the SQLite catalog syncs its commits")
        XCTAssertEqual(sync.path, file.path + "-wal")
        let before = sync.progress
        try await catalog.exclusive { writer in try writer.transaction { try writer.save(Self.image(1, name: "one")) } }
        let after = sync.progress
        XCTAssertEqual(after.committed, before.committed + 1)
        XCTAssertEqual(after.durable, after.committed, "the write returned before its commit was synced")
        XCTAssertGreaterThan(after.syncs, before.syncs)
        XCTAssertTrue(FileManager.default.fileExists(atPath: sync.path))

        // A write that changed nothing has nothing to wait for.
        _ = try await catalog.exclusive { writer in try writer.exists("nothing") }
        XCTAssertEqual(sync.progress.committed, after.committed)

        // Inside a write, before removing a file: the commits so far are made durable at once.
        try await catalog.exclusive { writer in
            try writer.transaction { try writer.delete(String(format: "0c000000-0000-4000-8000-%012d", 1)) }
            let syncs = sync.progress.syncs
            try writer.makeCommitsDurable()
            XCTAssertEqual(sync.progress.syncs, syncs + 1)
        }
    }

    /// Concurrent writes each return only once their commit is durable.
    func testConcurrentSQLiteWritesReturnOnceSynced() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).sqlite")
        addTeardownBlock { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: file.path + suffix) } }
        let catalog = try Catalog(path: file.path, mode: .public)
        let sync = try XCTUnwrap(catalog.commitSync)
        let writes = 100
        let unsynced = try await withThrowingTaskGroup(of: Bool.self) { group in
            for number in 1...writes {
                group.addTask {
                    let commit = try await catalog.exclusive { writer in
                        try writer.transaction { try writer.save(Self.image(number, name: "concurrent")) }
                        return sync.progress.committed + 1  // the number this write gets as it leaves the writer
                    }
                    return sync.progress.durable < commit
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        XCTAssertEqual(unsynced, 0, "writes returned before their commit was synced")
        XCTAssertEqual(sync.progress.durable, sync.progress.committed)
        let count = try await catalog.imageCount()
        XCTAssertEqual(count, writes)
    }

    /// Writers waiting at once share one sync: it covers every write committed before it began.
    func testCommitsWaitingTogetherShareOneSync() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wal-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: file) }
        try Data("frames".utf8).write(to: file)
        let sync = CommitSync(walPath: file.path)
        let numbers = (1...100).map { _ in sync.noteCommit() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in numbers { group.addTask { try await sync.waitUntilDurable(number) } }
            try await group.waitForAll()
        }
        XCTAssertEqual(sync.progress.syncs, 1)
        XCTAssertEqual(sync.progress.durable, 100)
        let later = sync.noteCommit()
        try await sync.waitUntilDurable(later)
        XCTAssertEqual(sync.progress.syncs, 2, "a commit after a sync began needs a sync of its own")
        try await sync.waitUntilDurable(later)
        XCTAssertEqual(sync.progress.syncs, 2, "a durable commit needs no further sync")
    }

    /// A failed transaction records nothing, and leaves the generation where it was.
    func testFailedTransactionChangesNothing() async throws {
        for (engine, open) in try engines() {
            let catalog = try open()
            let before = catalog.generation
            do {
                let doomed = Self.image(1, name: "doomed")
                try await catalog.exclusive { writer in
                    try writer.transaction {
                        try writer.save(doomed)
                        throw CocoaError(.userCancelled)
                    }
                }
                XCTFail("\(engine): the transaction threw")
            } catch is CocoaError {}
            let count = try await catalog.imageCount()
            XCTAssertEqual(count, 0, "\(engine): rolled back")
            XCTAssertEqual(catalog.generation, before, "\(engine)")
        }
    }

    /// Replicas: several processes' catalogs on one database migrate it once, and a write
    /// through one moves every other's generation on within a second.
    func testReplicasSeeEachOthersChanges() async throws {
        guard let location = try Self.newPostgresDatabase() else { throw XCTSkip("no PostgreSQL server") }
        let opened = try await withThrowingTaskGroup(of: Catalog.self) { group in
            for _ in 0..<3 { group.addTask { try Catalog(postgres: location, mode: .public) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let (writer, reader) = (opened[0], opened[1])
        let before = reader.generation
        let record = Self.image(7, name: "from-another-replica")
        try await writer.exclusive { db in try db.transaction { try db.save(record) } }
        let deadline = Date().addingTimeInterval(1.5)
        while reader.generation == before && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(reader.generation, writer.generation, "the other replica's generation followed within a second")
        let seen = try await reader.image(String(format: "0c000000-0000-4000-8000-%012d", 7))
        XCTAssertEqual(seen?.record["name"], .string("from-another-replica"))
    }

    /// Background work runs on one replica at a time: a job another replica holds is
    /// skipped, and its lock goes with the replica.
    func testBackgroundJobsRunOnOneReplicaAtATime() async throws {
        guard let location = try Self.newPostgresDatabase() else { throw XCTSkip("no PostgreSQL server") }
        let first = try Catalog(postgres: location, mode: .public)
        let second = try Catalog(postgres: location, mode: .public)
        let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await first.alone("scrub") {
                enteredContinuation.yield()
                for await _ in release { break }
                return "first"
            }
        }
        for await _ in entered { break }
        let meanwhile = try await second.alone("scrub") { "second" }
        XCTAssertNil(meanwhile, "the job another replica runs is skipped")
        let other = try await second.alone("mirror x") { "other job" }
        XCTAssertEqual(other, "other job", "other jobs are not held up")
        releaseContinuation.yield()
        let held = try await holder.value
        XCTAssertEqual(held, "first")
        let after = try await second.alone("scrub") { "second" }
        XCTAssertEqual(after, "second", "the lock went when the job ended")
    }
}

