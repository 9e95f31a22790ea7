import Foundation
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

/// The image manifests, in SQLite (embedded, the default) or PostgreSQL (shared by
/// replicas). Reads run concurrently; every write goes through `exclusive`, which also
/// serializes blob installs and removals.
public final class Catalog: Sendable {
    let database: any CatalogDatabase
    public let mode: ServerMode
    /// The stored generation as of the last write through this catalog, or the last
    /// change another replica announced (see `generation`).
    private let currentGeneration: Atomic<Int64>

    /// Opens (creating, migrating) the catalog. A nil `mode` keeps the mode the catalog was
    /// last used with (public for a new one): what tools beside the server, such as the mirror, want.
    public convenience init(path: String, mode: ServerMode?) throws {
        try self.init(database: SQLiteCatalogDatabase(path: path), mode: mode)
    }

    /// Opens the catalog for reading only: nothing is written, and a catalog that does not
    /// exist reads as an empty one (`imgapid mirror --dry-run`).
    public init(readingAt path: String) throws {
        let database = try SQLiteCatalogDatabase(readingAt: path)
        self.database = database
        let (mode, generation) = try database.blocking { db in (try Self.recordedMode(db), try Self.storedGeneration(db)) }
        self.mode = mode
        currentGeneration = Atomic(generation)
    }

    /// An empty catalog in memory, gone with the process: a view of another server's images
    /// that the same queries read (the pull-through cache's upstream catalog).
    public init(inMemory mode: ServerMode) throws {
        database = try SQLiteCatalogDatabase()
        self.mode = mode
        currentGeneration = Atomic(0)
    }

    /// Opens (creating, migrating) a catalog on PostgreSQL, shared with other replicas:
    /// their changes move this catalog's generation on within moments.
    public convenience init(postgres location: PostgresLocation, mode: ServerMode?) throws {
        try self.init(database: PostgresCatalogDatabase(location), mode: mode)
    }

    private init(database: any CatalogDatabase, mode: ServerMode?) throws {
        self.database = database
        let (mode, generation) = try database.blocking { db in
            let mode = try mode ?? Self.recordedMode(db)
            try CatalogWriter(db: db, mode: mode).rerenderIfModeChanged()
            return (mode, try Self.storedGeneration(db))
        }
        self.mode = mode
        currentGeneration = Atomic(generation)
        database.watchChanges { [weak self] in await self?.refreshGeneration() }
    }

    /// The mode the catalog was last used with; public for a new one.
    private static func recordedMode(_ db: any SQLSession) throws -> ServerMode {
        try db.string("SELECT value FROM catalog_meta WHERE key = 'render_mode'").flatMap(ServerMode.init(rawValue:)) ?? .public
    }

    /// Where the catalog is, for logs and messages (no secrets).
    public var location: String { database.description }

    public func image(_ uuid: String) async throws -> StoredImage? {
        try await database.read { db in try CatalogWriter.fetchImage(db, uuid: uuid) }
    }

    /// The API views of the images that match, in order, ready to join into a JSON array.
    /// Anonymous callers only ever see active images.
    public func listItems(_ query: ListImagesQuery, authenticated: Bool) async throws -> [String] {
        try await database.read { db in
            guard let select = try ListImagesSQL(query: query, authenticated: authenticated, column: "item", db: db) else { return [] }
            return try db.rowsOfBuiltStatement(select.sql, select.arguments).map { $0.string(0) }
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
        try await database.read { db in
            let column = records ? "published_ms, uuid, record" : "published_ms, uuid, item"
            guard let select = try ListImagesSQL(query: query, authenticated: authenticated, column: column, db: db) else { return [] }
            return try db.rowsOfBuiltStatement(select.sql, select.arguments).map {
                PlacedItem(publishedMs: $0.int64(0), uuid: $0.string(1), text: $0.string(2))
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
        try await database.read { db in try ListImagesSQL.publishedMs(of: uuid, db) }
    }

    /// Those of `uuids` that are images here.
    public func present(_ uuids: [String]) async throws -> Set<String> {
        guard !uuids.isEmpty else { return [] }
        return try await database.read { db in
            var found = Set<String>()
            // Bound parameters are limited (SQLite: 32,766; PostgreSQL: 65,535): ask in slices.
            for start in stride(from: 0, to: uuids.count, by: 500) {
                let slice = Array(uuids[start..<min(start + 500, uuids.count)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                found.formUnion(try db.rowsOfBuiltStatement("SELECT uuid FROM image WHERE uuid IN (\(marks))", slice.map(\.sqlValue)).map { $0.string(0) })
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
        try await database.read { db in
            try db.rows("""
                SELECT c.uuid, c.cached_ms,
                  CAST(COALESCE((SELECT SUM(f.size) FROM image_file f WHERE f.uuid = c.uuid), 0) AS BIGINT)
                FROM image_cache c JOIN image USING (uuid) ORDER BY c.cached_ms, c.uuid
                """).map { CachedImage(uuid: $0.string(0), cachedMs: $0.int64(1), size: $0.int64(2)) }
        }
    }

    /// A number that moves on with every committed write transaction: what cached answers
    /// are checked against. Read from memory: this process's writes go through `exclusive`,
    /// which records the new value, and other replicas' are announced (`watchChanges`).
    public var generation: Int64 { currentGeneration.load(ordering: .acquiring) }

    private static func storedGeneration(_ db: any SQLSession) throws -> Int64 {
        try db.int64("SELECT CAST(value AS BIGINT) FROM catalog_meta WHERE key = 'generation'") ?? 0
    }

    /// Reads the stored generation again: another replica changed the catalog.
    private func refreshGeneration() async {
        guard let stored = try? await database.read(Self.storedGeneration) else { return }
        currentGeneration.store(stored, ordering: .releasing)
    }

    /// Reads one row: whether the catalog can be read now (`/ready`).
    public func probeRead() async throws {
        _ = try await database.read(Self.storedGeneration)
    }

    public func icon(_ uuid: String) async throws -> ImageIcon? {
        try await database.read { db in
            guard let row = try db.rows("SELECT content_type, bytes, mtime FROM image_icon WHERE uuid = ?", uuid).first else { return nil }
            return ImageIcon(contentType: row.string(0), bytes: row.bytes(1), mtime: row.int64(2))
        }
    }

    /// Images this catalog copied from `source` with `imgapid mirror`.
    public func mirroredImages(from source: String) async throws -> [String] {
        try await database.read { db in
            try db.strings("SELECT uuid FROM image_mirror_source WHERE source = ? ORDER BY uuid", source)
        }
    }

    /// Every image copied with `imgapid mirror`, with the upstream it came from.
    public func mirrorSources() async throws -> [String: String] {
        try await database.read { db in
            Dictionary(try db.rows("SELECT uuid, source FROM image_mirror_source").map { ($0.string(0), $0.string(1)) }) { $1 }
        }
    }

    /// A stored file with this sha1, if any image has one: its bytes need not be fetched again.
    public func file(withSHA1 sha1: String) async throws -> ImageFile? {
        try await database.read { db in
            try db.rows("""
                SELECT image.record, image_file.idx FROM image_file JOIN image USING (uuid)
                WHERE image_file.sha1 = ? ORDER BY image_file.uuid LIMIT 10
                """, sha1).lazy.compactMap { row in Self.parseRecord(row.string(0))?.imageFiles.dropFirst(Int(row.int64(1))).first }
                .first { $0.sha1 == sha1 }
        }
    }

    private static func parseRecord(_ text: String) -> JSONObject? {
        try? JSONValue.parse(Array(text.utf8)).objectValue
    }

    /// Copies the whole catalog, as it is at one moment, to a new database file at `path`
    /// (SQLite's online backup: writers go on meanwhile). Blocking.
    public func backup(to path: String) throws {
        guard let sqlite = database as? SQLiteCatalogDatabase else { throw CatalogNotEmbedded(operation: "copied to a file") }
        try sqlite.backup(to: path)
    }

    public func imageCount() async throws -> Int {
        try await database.read { db in Int(try db.int64("SELECT COUNT(*) FROM image") ?? 0) }
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
        try await database.read { db in try Self.quarantinedFileCount(db) }
    }

    private static func quarantinedFileCount(_ db: any SQLSession) throws -> Int {
        Int(try db.int64("SELECT COUNT(*) FROM blob_quarantine") ?? 0)
    }

    public func census() async throws -> Census {
        try await database.read { db in
            let states = try db.rows("SELECT state, COUNT(*) FROM image GROUP BY state")
            let bytes = try db.int64("""
                SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM (SELECT MAX(size) AS size FROM image_file GROUP BY sha256) AS distinct_files
                """) ?? 0
            let quarantined = try Self.quarantinedFileCount(db)
            return Census(imagesByState: Dictionary(uniqueKeysWithValues: states.map { ($0.string(0), Int($0.int64(1))) }),
                          storedBytes: bytes, quarantinedFiles: quarantined)
        }
    }

    /// A value kept beside the images (`catalog_meta`), such as when the last scrub ended.
    public func meta(_ key: String) async throws -> String? {
        try await database.read { db in try db.string("SELECT value FROM catalog_meta WHERE key = ?", key) }
    }

    /// What the database's own consistency check reports; empty when it is sound.
    public func integrityProblems() async throws -> [String] {
        try await database.integrityProblems()
    }

    /// Every image's uuid and stored record, parsed; nil where the record does not parse.
    private func allRecords() async throws -> [(uuid: String, record: JSONObject?)] {
        try await database.read { db in
            try db.rows("SELECT uuid, record FROM image ORDER BY uuid").map { ($0.string(0), Self.parseRecord($0.string(1))) }
        }
    }

    /// Images whose stored manifest does not parse.
    public func undecodableImages() async throws -> [String] {
        try await allRecords().filter { $0.record == nil }.map(\.uuid)
    }

    /// Images whose ZFS stream was accepted without being checked (`validateStreams` off).
    public func imagesWithUnvalidatedStreams() async throws -> [String] {
        try await allRecords().filter { $0.record?.imageFiles.first?.stream?.validated == false }.map(\.uuid)
    }

    /// Images whose origin is not in the catalog.
    public func imagesWithMissingOrigin() async throws -> [(uuid: String, origin: String)] {
        try await database.read { db in
            try db.rows("""
                SELECT uuid, origin FROM image WHERE origin IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM image o WHERE o.uuid = image.origin) ORDER BY uuid
                """).map { ($0.string(0), $0.string(1)) }
        }
    }

    /// Why the stored file `sha256` is quarantined, if it is.
    public func quarantineProblem(_ sha256: String) async throws -> String? {
        try await database.read { db in try db.string("SELECT problem FROM blob_quarantine WHERE sha256 = ?", sha256) }
    }

    /// Every quarantined file, with its problem and the images that use it.
    public func quarantined() async throws -> [(sha256: String, problem: String, images: [String])] {
        try await database.read { db in
            try db.rows("SELECT sha256, problem FROM blob_quarantine ORDER BY sha256").map { row in
                let sha256 = row.string(0)
                let images = try db.strings("SELECT uuid FROM image_file WHERE sha256 = ? ORDER BY uuid", sha256)
                return (sha256, row.string(1), images)
            }
        }
    }

    /// One file of each distinct content the images use, to verify.
    public func storedFiles() async throws -> [ImageFile] {
        var seen = Set<String>()
        return try await allRecords().flatMap { $0.record?.imageFiles ?? [] }.filter { seen.insert($0.sha256).inserted }
    }

    /// SHA-256 of every blob some image still uses.
    public func referencedBlobs() async throws -> Set<String> {
        try await database.read { db in Set(try db.strings("SELECT DISTINCT sha256 FROM image_file")) }
    }

    /// Runs `body` unless another replica sharing the catalog is running the job `name`
    /// (then nil): scrubs, mirror runs and clean-ups run on one replica at a time.
    public func alone<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await database.alone(name, body)
    }

    /// Whether a write could go through now, writing nothing (`/ready`).
    public func probeWrite() async throws {
        try await database.probeWrite()
    }

    /// Runs `body` as the only writer (of every replica sharing the catalog), and returns once
    /// what it committed is durable. Blob renames and unlinks made inside it cannot interleave
    /// with another writer's, so a file is never removed while a new image adopts it; before
    /// removing one, `body` calls `CatalogWriter.makeCommitsDurable`, since the state that
    /// decided it may hold commits not yet on disk. A write that finds the disk full fails
    /// with `IMGAPIError.storeFull`.
    public func exclusive<T: Sendable>(_ body: @escaping @Sendable (CatalogWriter) throws -> T) async throws -> T {
        let mode = self.mode
        do {
            return try await database.write { db in
                defer { if let stored = try? Self.storedGeneration(db) { self.currentGeneration.store(stored, ordering: .releasing) } }
                return try body(CatalogWriter(db: db, mode: mode))
            }
        } catch is CatalogFull {
            throw IMGAPIError.storeFull
        } catch let failure as CatalogSyncFailed {
            throw IMGAPIError.storageIsDown(failure.description)
        }
    }

    /// The syncs that make the embedded catalog's writes durable; nil for PostgreSQL (for tests).
    var commitSync: CommitSync? { (database as? SQLiteCatalogDatabase)?.commits }
}

/// An operation only the embedded (SQLite) catalog offers.
public struct CatalogNotEmbedded: Error, CustomStringConvertible {
    public let operation: String
    public var description: String {
        "a PostgreSQL catalog cannot be \(operation) by imgapid: use PostgreSQL's own tools (pg_dump, pg_basebackup)"
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
