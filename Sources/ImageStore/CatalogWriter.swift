import Foundation
import IMGAPI

/// Catalog operations available while holding the writer (see `Catalog.exclusive`).
public struct CatalogWriter {
    let db: any SQLSession
    let mode: ServerMode

    public func image(_ uuid: String) throws -> StoredImage? {
        try Self.fetchImage(db, uuid: uuid)
    }

    public func exists(_ uuid: String) throws -> Bool {
        try !db.rows("SELECT 1 FROM image WHERE uuid = ?", uuid).isEmpty
    }

    /// Images whose `origin` is this one (in `channel` only, when given).
    public func dependents(of uuid: String, inChannel channel: String? = nil) throws -> [String] {
        guard let channel else {
            return try db.strings("SELECT uuid FROM image WHERE origin = ? ORDER BY uuid", uuid)
        }
        return try db.strings("""
            SELECT uuid FROM image WHERE origin = ?
              AND EXISTS (SELECT 1 FROM image_channel c WHERE c.uuid = image.uuid AND c.channel = ?) ORDER BY uuid
            """, uuid, channel)
    }

    /// Images whose files include the blob `sha256`.
    public func imagesUsing(blob sha256: String) throws -> [String] {
        try db.strings("SELECT DISTINCT uuid FROM image_file WHERE sha256 = ? ORDER BY uuid", sha256)
    }

    /// Images in no channel at all.
    public func imagesWithoutChannel() throws -> [String] {
        try db.strings("""
            SELECT uuid FROM image WHERE NOT EXISTS (SELECT 1 FROM image_channel c WHERE c.uuid = image.uuid) ORDER BY uuid
            """)
    }

    /// How many image files use the blob.
    public func references(toBlob sha256: String) throws -> Int {
        Int(try db.int64("SELECT COUNT(*) FROM image_file WHERE sha256 = ?", sha256) ?? 0)
    }

    /// Makes every commit so far durable (see `Catalog.exclusive`): call before removing a
    /// file because of what the catalog says.
    public func makeCommitsDurable() throws {
        try db.makeCommitsDurable()
    }

    /// Runs `body` in one transaction: all of it is recorded, or none. Each transaction
    /// moves the catalog's generation on (see `Catalog.generation`) and tells other replicas.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try db.inTransaction {
            result = try body()
            try db.execute("""
                INSERT INTO catalog_meta (key, value) VALUES ('generation', '1')
                ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(catalog_meta.value AS BIGINT) + 1 AS TEXT)
                """)
            try db.announceChange()
        }
        return result!
    }

    /// Inserts or replaces the image and everything indexed from it; returns it as stored.
    @discardableResult
    public func save(_ record: JSONObject) throws -> StoredImage {
        let view = ImageView.render(record, mode: mode)
        let stored = StoredImage(record: record, body: view.prettyPrinted())
        let uuid = stored.uuid
        let publishedMs = record["published_at"]?.stringValue.flatMap(Timestamp.milliseconds(fromISO8601:)) ?? 0
        try db.execute("DELETE FROM image WHERE uuid = ?", uuid)
        try db.execute("""
            INSERT INTO image (uuid, owner, name, version, state, activated, disabled, public, published_ms,
                               type, os, origin, record, body, item)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
                uuid, record["owner"]?.stringValue ?? "", record["name"]?.stringValue ?? "",
                record["version"]?.stringValue ?? "", record["state"]?.stringValue ?? "",
                record["activated"]?.boolValue ?? false, record["disabled"]?.boolValue ?? false,
                record["public"]?.boolValue ?? false, publishedMs,
                record["type"]?.stringValue, record["os"]?.stringValue, record["origin"]?.stringValue,
                record.compact(), stored.body, view.prettyPrinted(level: 1))
        for (key, value) in record["tags"]?.objectValue ?? JSONObject() {
            try db.execute("INSERT INTO image_tag (uuid, key, value) VALUES (?, ?, ?)", uuid, key, Self.searchable(value))
        }
        for tag in Set((record["billing_tags"]?.arrayValue ?? []).compactMap(\.stringValue)) {
            try db.execute("INSERT INTO image_billing_tag (uuid, tag) VALUES (?, ?)", uuid, tag)
        }
        for account in Set((record["acl"]?.arrayValue ?? []).compactMap(\.stringValue)) {
            try db.execute("INSERT INTO image_acl (uuid, account) VALUES (?, ?)", uuid, account)
        }
        for channel in Set((record["channels"]?.arrayValue ?? []).compactMap(\.stringValue)) {
            try db.execute("INSERT INTO image_channel (uuid, channel) VALUES (?, ?)", uuid, channel)
        }
        for (index, file) in stored.files.enumerated() {
            try db.execute("INSERT INTO image_file (uuid, idx, sha256, sha1, size) VALUES (?, ?, ?, ?, ?)",
                           uuid, index, file.sha256, file.sha1, file.size)
        }
        return stored
    }

    public func delete(_ uuid: String) throws {
        try db.execute("DELETE FROM image WHERE uuid = ?", uuid)
        try db.execute("DELETE FROM image_mirror_source WHERE uuid = ?", uuid)
        try db.execute("DELETE FROM image_icon WHERE uuid = ?", uuid)
        try forgetCached(uuid)
    }

    public func setIcon(_ uuid: String, _ icon: ImageIcon) throws {
        try db.execute("""
            INSERT INTO image_icon (uuid, content_type, bytes, mtime) VALUES (?, ?, ?, ?)
            ON CONFLICT (uuid) DO UPDATE SET content_type = excluded.content_type, bytes = excluded.bytes, mtime = excluded.mtime
            """, uuid, icon.contentType, icon.bytes, icon.mtime)
    }

    /// Removes the icon; false when there was none.
    public func removeIcon(_ uuid: String) throws -> Bool {
        try db.execute("DELETE FROM image_icon WHERE uuid = ?", uuid) > 0
    }

    /// Sets a value kept beside the images (see `Catalog.meta`).
    public func setMeta(_ key: String, _ value: String) throws {
        try db.execute("INSERT INTO catalog_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       key, value)
    }

    /// Records that the stored file `sha256` failed verification (`problem`).
    public func quarantine(_ sha256: String, problem: String) throws {
        try db.execute("""
            INSERT INTO blob_quarantine (sha256, problem, found_ms) VALUES (?, ?, ?)
            ON CONFLICT (sha256) DO UPDATE SET problem = excluded.problem, found_ms = excluded.found_ms
            """, sha256, problem, Int64(Date().timeIntervalSince1970 * 1000))
    }

    /// Forgets a quarantined file (a verified copy replaced it, or no image uses it); false when it was not quarantined.
    @discardableResult
    public func releaseQuarantine(_ sha256: String) throws -> Bool {
        try db.execute("DELETE FROM blob_quarantine WHERE sha256 = ?", sha256) > 0
    }

    /// Records that the image was copied from `source` by the mirror.
    public func recordMirrorSource(_ uuid: String, _ source: String) throws {
        try db.execute("""
            INSERT INTO image_mirror_source (uuid, source) VALUES (?, ?) ON CONFLICT (uuid) DO UPDATE SET source = excluded.source
            """, uuid, source)
    }

    /// Records that a pull-through fill brought the image in from `upstream`: the cache may evict it.
    public func recordCached(_ uuid: String, from upstream: String) throws {
        try db.execute("""
            INSERT INTO image_cache (uuid, upstream, cached_ms) VALUES (?, ?, ?)
            ON CONFLICT (uuid) DO UPDATE SET upstream = excluded.upstream, cached_ms = excluded.cached_ms
            """, uuid, upstream, Int64(Date().timeIntervalSince1970 * 1000))
    }

    /// The image is no longer one the pull-through cache may evict.
    public func forgetCached(_ uuid: String) throws {
        try db.execute("DELETE FROM image_cache WHERE uuid = ?", uuid)
    }

    /// The string a `tag.KEY=VALUE` filter compares with: numbers and booleans in their
    /// JavaScript string form; objects, arrays and strings over 100 characters as "".
    static func searchable(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s.count > 100 ? "" : s
        case .number, .bool: return value.compact()
        case .null, .array, .object: return ""
        }
    }

    /// The image, nil when there is none; `UndecodableRecord` when its stored record does not parse.
    static func fetchImage(_ db: any SQLSession, uuid: String) throws -> StoredImage? {
        guard let row = try db.rows("SELECT record, body FROM image WHERE uuid = ?", uuid).first else { return nil }
        guard case .object(let record)? = try? JSONValue.parse(Array(row.string(0).utf8)) else {
            throw UndecodableRecord(uuid: uuid)
        }
        return StoredImage(record: record, body: row.string(1))
    }

    /// Re-renders every stored view when the server's mode differs from the one they were rendered for.
    func rerenderIfModeChanged() throws {
        let stored = try db.string("SELECT value FROM catalog_meta WHERE key = 'render_mode'")
        guard stored != mode.rawValue else { return }
        try transaction {
            for text in try db.strings("SELECT record FROM image") {
                if case .object(let record)? = try? JSONValue.parse(Array(text.utf8)) { try save(record) }
            }
            try setMeta("render_mode", mode.rawValue)
        }
    }
}
