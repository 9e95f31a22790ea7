import Foundation
import GRDB
import IMGAPI
@testable import ImageStore
import XCTest

/// A catalog written by an older imgapid opens with every image intact, the later
/// migrations run over it, and start-up housekeeping keeps exactly what images use.
final class CatalogMigrationTests: XCTestCase {
    var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    let uuid = "0c000000-0000-4000-8000-000000000001"
    let sha256 = String(repeating: "ab", count: 32)

    /// An image as the first schema stored it, its record already naming a channel.
    var oldRecord: JSONObject {
        JSONObject([
            ("v", .number(2)), ("uuid", .string(uuid)), ("owner", .string(ImageUUID.zero)), ("name", .string("old")),
            ("version", .string("1")), ("type", .string("zone-dataset")), ("os", .string("smartos")), ("public", .bool(true)),
            ("state", .string("active")), ("activated", .bool(true)), ("disabled", .bool(false)),
            ("published_at", .string("2020-01-01T00:00:00.000Z")), ("channels", .array([.string("dev")])),
            ("files", .array([ImageFile(sha256: sha256, sha1: String(repeating: "c", count: 40), contentMD5: "x", size: 3,
                                        compression: "gzip", datasetGUID: nil, mtime: 0).json])),
        ])
    }

    func writeFirstSchemaCatalog() throws -> String {
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let pool = try DatabasePool(path: path)
        try CatalogSchema.migrator.migrate(pool, upTo: "v1-images")
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO image (uuid, owner, name, version, state, activated, disabled, public, published_ms,
                                   type, os, origin, record, body, item)
                VALUES (?, ?, 'old', '1', 'active', 1, 0, 1, 1577836800000, 'zone-dataset', 'smartos', NULL, ?, '{}', '{}')
                """, arguments: [uuid, ImageUUID.zero, oldRecord.compact()])
            try db.execute(sql: "INSERT INTO image_file (uuid, idx, sha256) VALUES (?, 0, ?)", arguments: [uuid, sha256])
        }
        return path
    }

    func testOldCatalogMigratesWithItsImages() async throws {
        let path = try writeFirstSchemaCatalog()
        let catalog = try Catalog(path: path, mode: .public)
        let image = try await catalog.image(uuid)
        XCTAssertEqual(image?.record["name"], .string("old"))
        var inDev = ListImagesQuery()
        inDev.channel = "dev"
        let listed = try await catalog.listRecords(inDev, authenticated: false).records
        XCTAssertEqual(listed.compactMap { $0["uuid"]?.stringValue }, [uuid], "the channels migration indexed the record's channel")
        inDev.channel = "release"
        let elsewhere = try await catalog.listRecords(inDev, authenticated: false).records
        XCTAssertEqual(elsewhere.count, 0)
        let bySHA1 = try await catalog.file(withSHA1: String(repeating: "c", count: 40))
        XCTAssertEqual(bySHA1?.sha256, sha256, "the sha1 migration filled in the files the catalog held")
        let mirrored = try await catalog.mirroredImages(from: "http://upstream")
        XCTAssertEqual(mirrored, [], "later tables exist and are empty")
        let census = try await catalog.census()
        XCTAssertEqual(census.storedBytes, 3, "the file-size migration filled in the sizes the records held")
    }

    func testHousekeepingKeepsReferencedBlobsOnly() async throws {
        _ = try writeFirstSchemaCatalog()
        let blobs = try BlobStore(root: directory.path)
        let used = blobs.path(forSHA256: sha256)
        let unused = blobs.path(forSHA256: String(repeating: "cd", count: 32))
        for path in [used, unused] {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        }
        try Data([9]).write(to: directory.appendingPathComponent("uploads/interrupted"))

        let repository = try ImageRepository(storage: directory.path, mode: .public)
        let collected = try await repository.collectGarbage()
        XCTAssertEqual(collected.uploads, 1)
        XCTAssertEqual(collected.blobs, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: used), "the blob an image uses stays")
        XCTAssertFalse(FileManager.default.fileExists(atPath: unused))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("uploads").path), [])
    }
}
