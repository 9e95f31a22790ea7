import Foundation

/// Versioned migrations of the PostgreSQL catalog, run once by whichever replica starts
/// first, under an advisory lock. The tables, columns and indexes are the SQLite
/// catalog's as of its latest migration (`CatalogSchema`), so one set of statements reads
/// and writes both; booleans are integers 0 and 1 there too, and text compares byte by
/// byte (`COLLATE "C"`, whatever the database's locale) as in SQLite, so listings sort and
/// page alike. Never edit a registered migration: add a new one.
enum PostgresSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("v1-catalog", """
            CREATE TABLE image (
                uuid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                owner TEXT COLLATE "C" NOT NULL,
                name TEXT COLLATE "C" NOT NULL,
                version TEXT COLLATE "C" NOT NULL,
                state TEXT COLLATE "C" NOT NULL,
                activated BIGINT NOT NULL,
                disabled BIGINT NOT NULL,
                public BIGINT NOT NULL,
                published_ms BIGINT NOT NULL,
                type TEXT COLLATE "C",
                os TEXT COLLATE "C",
                origin TEXT COLLATE "C",
                record TEXT COLLATE "C" NOT NULL,
                body TEXT COLLATE "C" NOT NULL,
                item TEXT COLLATE "C" NOT NULL
            );
            CREATE INDEX image_state_published ON image(state, published_ms, uuid);
            CREATE INDEX image_published ON image(published_ms, uuid);
            CREATE INDEX image_owner ON image(owner);
            CREATE INDEX image_name ON image(name);
            CREATE INDEX image_version ON image(version);
            CREATE INDEX image_os ON image(os);
            CREATE INDEX image_type ON image(type);
            CREATE INDEX image_origin ON image(origin);
            CREATE TABLE image_tag (
                uuid TEXT COLLATE "C" NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                key TEXT COLLATE "C" NOT NULL,
                value TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (uuid, key)
            );
            CREATE INDEX image_tag_key_value ON image_tag(key, value);
            CREATE TABLE image_billing_tag (
                uuid TEXT COLLATE "C" NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                tag TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (uuid, tag)
            );
            CREATE INDEX image_billing_tag_tag ON image_billing_tag(tag);
            CREATE TABLE image_acl (
                uuid TEXT COLLATE "C" NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                account TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (uuid, account)
            );
            CREATE INDEX image_acl_account ON image_acl(account);
            CREATE TABLE image_channel (
                uuid TEXT COLLATE "C" NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                channel TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (uuid, channel)
            );
            CREATE INDEX image_channel_channel ON image_channel(channel);
            CREATE TABLE image_file (
                uuid TEXT COLLATE "C" NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                idx BIGINT NOT NULL,
                sha256 TEXT COLLATE "C" NOT NULL,
                sha1 TEXT COLLATE "C",
                size BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (uuid, idx)
            );
            CREATE INDEX image_file_sha256 ON image_file(sha256);
            CREATE INDEX image_file_sha1 ON image_file(sha1);
            CREATE TABLE image_mirror_source (
                uuid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                source TEXT COLLATE "C" NOT NULL
            );
            CREATE INDEX image_mirror_source_source ON image_mirror_source(source);
            CREATE TABLE image_icon (
                uuid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                content_type TEXT COLLATE "C" NOT NULL,
                bytes BYTEA NOT NULL,
                mtime BIGINT NOT NULL
            );
            CREATE TABLE blob_quarantine (
                sha256 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                problem TEXT COLLATE "C" NOT NULL,
                found_ms BIGINT NOT NULL
            );
            CREATE TABLE image_cache (
                uuid TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                upstream TEXT COLLATE "C" NOT NULL,
                cached_ms BIGINT NOT NULL
            );
            CREATE TABLE catalog_meta (
                key TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                value TEXT COLLATE "C" NOT NULL
            );
            """),
    ]

    /// Applies the migrations not yet recorded, each in its own transaction, holding
    /// `lock` so that replicas starting together migrate once.
    static func migrate(_ db: any SQLSession, lock: Int64) throws {
        try db.execute("SELECT pg_advisory_lock(?)", lock)
        defer { _ = try? db.execute("SELECT pg_advisory_unlock(?)", lock) }
        try db.execute("CREATE TABLE IF NOT EXISTS catalog_migration (name TEXT PRIMARY KEY NOT NULL, applied_ms BIGINT NOT NULL)")
        let applied = Set(try db.strings("SELECT name FROM catalog_migration"))
        for migration in migrations where !applied.contains(migration.name) {
            try db.inTransaction {
                // One statement at a time: the extended query protocol takes no lists.
                for statement in migration.sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try db.execute(String(statement), [])
                }
                try db.execute("INSERT INTO catalog_migration (name, applied_ms) VALUES (?, ?)",
                               migration.name, Int64(Date().timeIntervalSince1970 * 1000))
            }
        }
    }
}
