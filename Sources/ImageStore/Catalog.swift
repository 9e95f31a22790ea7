import Foundation
import GRDB
import IMGAPI
import Synchronization

/// An image as the catalog holds it: the full record and its rendered API view.
public struct StoredImage: Sendable {
    public var record: JSONObject
    /// The API view, pretty printed as the reference prints it.
    public var body: String

    public var uuid: String { record["uuid"]?.stringValue ?? "" }
    public var isActivated: Bool { record["activated"]?.boolValue ?? false }
    public var files: [ImageFile] { record.imageFiles }
}

/// The image manifests, in SQLite. Reads run concurrently; every write goes
/// through `exclusive`, which also serializes blob installs and removals.
public final class Catalog: Sendable {
    private let pool: any DatabaseWriter
    public let mode: ServerMode
    /// The stored generation as of the last write through this catalog (see `generation`).
    private let currentGeneration: Atomic<Int64>

    /// Opens (creating, migrating) the catalog. A nil `mode` keeps the mode the catalog was
    /// last used with (public for a new one): what tools beside the server, such as the mirror, want.
    public init(path: String, mode: ServerMode?) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            // An acknowledged write must survive a power loss, not only a process crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        try CatalogSchema.migrator.migrate(pool)
        let mode = try mode ?? Self.recordedMode(pool)
        self.mode = mode
        try pool.writeWithoutTransaction { db in try CatalogWriter(db: db, mode: mode).rerenderIfModeChanged() }
        currentGeneration = Atomic(try pool.read(Self.storedGeneration))
    }

    /// Opens the catalog for reading only: nothing is written, and a catalog that does not
    /// exist reads as an empty one (`imgapid mirror --dry-run`).
    public init(readingAt path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            pool = try DatabasePool(path: path, configuration: configuration)
        } else {
            pool = try DatabaseQueue()
            try CatalogSchema.migrator.migrate(pool)
        }
        mode = try Self.recordedMode(pool)
        currentGeneration = Atomic(try pool.read(Self.storedGeneration))
    }

    /// An empty catalog in memory, gone with the process: a view of another server's images
    /// that the same queries read (the pull-through cache's upstream catalog).
    public init(inMemory mode: ServerMode) throws {
        pool = try DatabaseQueue()
        try CatalogSchema.migrator.migrate(pool)
        self.mode = mode
        currentGeneration = Atomic(0)
    }

    /// The mode the catalog was last used with; public for a new one.
    private static func recordedMode(_ pool: any DatabaseWriter) throws -> ServerMode {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM catalog_meta WHERE key = 'render_mode'").flatMap(ServerMode.init(rawValue:))
        } ?? .public
    }

    public func image(_ uuid: String) async throws -> StoredImage? {
        try await pool.read { db in try CatalogWriter.fetchImage(db, uuid: uuid) }
    }

    /// The API views of the images that match, in order, ready to join into a JSON array.
    /// Anonymous callers only ever see active images.
    public func listItems(_ query: ListImagesQuery, authenticated: Bool) async throws -> [String] {
        try await pool.read { db in
            guard let select = try ListImagesSQL(query: query, authenticated: authenticated, column: "item", db: db) else { return [] }
            return try String.fetchAll(db, sql: select.sql, arguments: StatementArguments(select.arguments))
        }
    }

    /// The full records of the images that match (for views that are not stored, such as
    /// admin fields), and the uuids of those whose stored record does not parse.
    public func listRecords(_ query: ListImagesQuery, authenticated: Bool) async throws -> (records: [JSONObject], undecodable: [String]) {
        Self.parseRecords(try await listPlaced(query, authenticated: authenticated, records: true))
    }

    /// A listed image with its place in the order, for merging listings of two catalogs.
    public struct PlacedItem: Sendable {
        public var publishedMs: Int64
        public var uuid: String
        /// The API view ready to join into a JSON array, or the record's JSON text.
        public var text: String
    }

    /// The images that match, in order, with their places: API views, or with `records`
    /// the records' JSON text.
    public func listPlaced(_ query: ListImagesQuery, authenticated: Bool, records: Bool) async throws -> [PlacedItem] {
        try await pool.read { db in
            let column = records ? "published_ms, uuid, record" : "published_ms, uuid, item"
            guard let select = try ListImagesSQL(query: query, authenticated: authenticated, column: column, db: db) else { return [] }
            return try Row.fetchAll(db, sql: select.sql, arguments: StatementArguments(select.arguments)).map {
                PlacedItem(publishedMs: $0[0], uuid: $0[1], text: $0[2])
            }
        }
    }

    /// Records parsed from `listPlaced(records: true)`, and the uuids of those that do not parse.
    public static func parseRecords(_ items: [PlacedItem]) -> (records: [JSONObject], undecodable: [String]) {
        var records: [JSONObject] = [], undecodable: [String] = []
        for item in items {
            if let record = try? JSONValue.parse(Array(item.text.utf8)).objectValue {
                records.append(record)
            } else {
                undecodable.append(item.uuid)
            }
        }
        return (records, undecodable)
    }

    /// When the image was published, in milliseconds (its place in listings); nil if it is not here.
    public func publishedMs(of uuid: String) async throws -> Int64? {
        try await pool.read { db in try ListImagesSQL.publishedMs(of: uuid, db) }
    }

    /// Those of `uuids` that are images here.
    public func present(_ uuids: [String]) async throws -> Set<String> {
        guard !uuids.isEmpty else { return [] }
        return try await pool.read { db in
            var found = Set<String>()
            // SQLite takes at most 32,766 parameters: ask in slices.
            for start in stride(from: 0, to: uuids.count, by: 500) {
                let slice = Array(uuids[start..<min(start + 500, uuids.count)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                found.formUnion(try String.fetchAll(db, sql: "SELECT uuid FROM image WHERE uuid IN (\(marks))",
                                                    arguments: StatementArguments(slice)))
            }
            return found
        }
    }

    /// An image a pull-through fill brought in (see `CatalogWriter.recordCached`).
    public struct CachedImage: Sendable {
        public var uuid: String
        public var cachedMs: Int64
        /// Bytes of its files.
        public var size: Int64
    }

    /// Every image the pull-through cache brought in, oldest first.
    public func cachedImages() async throws -> [CachedImage] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.uuid, c.cached_ms, COALESCE((SELECT SUM(json_extract(f.value, '$.size'))
                  FROM json_each(image.record, '$.files') AS f), 0) AS size
                FROM image_cache c JOIN image USING (uuid) WHERE json_valid(image.record) ORDER BY c.cached_ms, c.uuid
                """).map { CachedImage(uuid: $0[0], cachedMs: $0[1], size: $0[2]) }
        }
    }

    /// A number that moves on with every committed write transaction: what cached answers
    /// are checked against. Read from memory: only the process holding the storage lock
    /// writes, and it does so through `exclusive`, which records the new value.
    public var generation: Int64 { currentGeneration.load(ordering: .acquiring) }

    private static func storedGeneration(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM catalog_meta WHERE key = 'generation'") ?? 0
    }

    /// Reads one row: whether the catalog can be read now (`/ready`).
    public func probeRead() async throws {
        _ = try await pool.read(Self.storedGeneration)
    }

    public func icon(_ uuid: String) async throws -> ImageIcon? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT content_type, bytes, mtime FROM image_icon WHERE uuid = ?",
                                             arguments: [uuid]) else { return nil }
            let bytes: Data = row["bytes"]
            return ImageIcon(contentType: row["content_type"], bytes: Array(bytes), mtime: row["mtime"])
        }
    }

    /// Images this catalog copied from `source` with `imgapid mirror`.
    public func mirroredImages(from source: String) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT uuid FROM image_mirror_source WHERE source = ? ORDER BY uuid", arguments: [source])
        }
    }

    /// A stored file with this sha1, if any image has one: its bytes need not be fetched again.
    public func file(withSHA1 sha1: String) async throws -> ImageFile? {
        try await pool.read { db in
            let entries = try String.fetchAll(db, sql: """
                SELECT json_extract(image.record, '$.files[' || image_file.idx || ']') FROM image_file JOIN image USING (uuid)
                WHERE image_file.sha1 = ? AND json_valid(image.record) LIMIT 1
                """, arguments: [sha1])
            return entries.lazy.compactMap { try? JSONValue.parse(Array($0.utf8)) }.compactMap(ImageFile.init).first
        }
    }

    /// Copies the whole catalog, as it is at one moment, to a new database file at `path`
    /// (SQLite's online backup: writers go on meanwhile). Blocking.
    public func backup(to path: String) throws {
        let copy = try DatabaseQueue(path: path)
        try pool.backup(to: copy)
        try copy.close()
    }

    public func imageCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image") ?? 0 }
    }

    /// What the catalog holds, in numbers (for metrics).
    public struct Census: Sendable {
        /// Images by `state`.
        public var imagesByState: [String: Int]
        /// Bytes of the distinct files the images use.
        public var storedBytes: Int64
        public var quarantinedFiles: Int
    }

    /// How many stored files are quarantined: one small count, for probes that come often (`/ready`).
    public func quarantinedFileCount() async throws -> Int {
        try await pool.read { db in try Self.quarantinedFileCount(db) }
    }

    private static func quarantinedFileCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM blob_quarantine") ?? 0
    }

    public func census() async throws -> Census {
        try await pool.read { db in
            let states = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM image GROUP BY state")
            let bytes = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(size), 0) FROM (
                  SELECT MAX(json_extract(f.value, '$.size')) AS size FROM image, json_each(image.record, '$.files') AS f
                  WHERE json_valid(image.record) GROUP BY json_extract(f.value, '$.sha256'))
                """) ?? 0
            let quarantined = try Self.quarantinedFileCount(db)
            return Census(imagesByState: Dictionary(uniqueKeysWithValues: states.map { ($0["state"], $0["n"]) }),
                          storedBytes: bytes, quarantinedFiles: quarantined)
        }
    }

    /// A value kept beside the images (`catalog_meta`), such as when the last scrub ended.
    public func meta(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM catalog_meta WHERE key = ?", arguments: [key]) }
    }

    /// What SQLite's `integrity_check` reports; empty when the database is sound.
    public func integrityProblems() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" } }
    }

    /// Images whose stored manifest does not parse.
    public func undecodableImages() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT uuid FROM image WHERE NOT json_valid(record) ORDER BY uuid") }
    }

    /// Images whose ZFS stream was accepted without being checked (`validateStreams` off).
    public func imagesWithUnvalidatedStreams() async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT uuid FROM image WHERE json_valid(record)
                  AND json_extract(record, '$.files[0].stream_validated') = 0 ORDER BY uuid
                """)
        }
    }

    /// Images whose origin is not in the catalog.
    public func imagesWithMissingOrigin() async throws -> [(uuid: String, origin: String)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT uuid, origin FROM image WHERE origin IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM image o WHERE o.uuid = image.origin) ORDER BY uuid
                """).map { ($0["uuid"], $0["origin"]) }
        }
    }

    /// Why the stored file `sha256` is quarantined, if it is.
    public func quarantineProblem(_ sha256: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT problem FROM blob_quarantine WHERE sha256 = ?", arguments: [sha256])
        }
    }

    /// Every quarantined file, with its problem and the images that use it.
    public func quarantined() async throws -> [(sha256: String, problem: String, images: [String])] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT sha256, problem FROM blob_quarantine ORDER BY sha256").map { row in
                let sha256: String = row["sha256"]
                let images = try String.fetchAll(db, sql: "SELECT uuid FROM image_file WHERE sha256 = ? ORDER BY uuid",
                                                 arguments: [sha256])
                return (sha256, row["problem"], images)
            }
        }
    }

    /// One file of each distinct content the images use, to verify.
    public func storedFiles() async throws -> [ImageFile] {
        try await pool.read { db in
            let entries = try String.fetchAll(db, sql: """
                SELECT f.value FROM image, json_each(image.record, '$.files') AS f WHERE json_valid(image.record)
                """)
            var seen = Set<String>()
            return entries.compactMap { try? JSONValue.parse(Array($0.utf8)) }.compactMap(ImageFile.init)
                .filter { seen.insert($0.sha256).inserted }
        }
    }

    /// SHA-256 of every blob some image still uses.
    public func referencedBlobs() async throws -> Set<String> {
        try await pool.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM image_file")) }
    }

    /// Takes SQLite's write lock and lets it go, writing nothing: whether a write could go
    /// through now (`/ready`).
    public func probeWrite() async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "ROLLBACK")
        }
    }

    /// Runs `body` as the only writer. Blob renames and unlinks made inside it cannot
    /// interleave with another writer's, so a file is never removed while a new image adopts it.
    /// A write that finds the disk full fails with `IMGAPIError.storeFull`.
    public func exclusive<T: Sendable>(_ body: @escaping @Sendable (CatalogWriter) throws -> T) async throws -> T {
        let mode = self.mode
        do {
            return try await pool.writeWithoutTransaction { db in
                defer { if let stored = try? Self.storedGeneration(db) { currentGeneration.store(stored, ordering: .releasing) } }
                return try body(CatalogWriter(db: db, mode: mode))
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw IMGAPIError.storeFull
        }
    }
}

/// An image whose stored record does not parse (a damaged catalog): its requests answer
/// 500 and are logged; `imgapid check` lists it.
public struct UndecodableRecord: Error, CustomStringConvertible {
    public let uuid: String
    public var description: String {
        "the stored manifest of image \(uuid) cannot be read: the catalog is damaged; run `imgapid check`, then restore the image from a backup or publish it again"
    }
}
