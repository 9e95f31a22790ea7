import GRDB

/// Versioned migrations of the SQLite catalog (`PostgresSchema` is the PostgreSQL one). Never edit a registered migration: add a new one.
enum CatalogSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-images") { db in
            // `record` is the source of truth (compact JSON, internal fields included);
            // `body` and `item` are its API rendering, standalone and as an array element,
            // so reads concatenate stored text instead of re-encoding manifests.
            try db.execute(sql: """
                CREATE TABLE image (
                    uuid TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version TEXT NOT NULL,
                    state TEXT NOT NULL,
                    activated INTEGER NOT NULL,
                    disabled INTEGER NOT NULL,
                    public INTEGER NOT NULL,
                    published_ms INTEGER NOT NULL,
                    type TEXT,
                    os TEXT,
                    origin TEXT,
                    record TEXT NOT NULL,
                    body TEXT NOT NULL,
                    item TEXT NOT NULL
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
                    uuid TEXT NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (uuid, key)
                );
                CREATE INDEX image_tag_key_value ON image_tag(key, value);

                CREATE TABLE image_billing_tag (
                    uuid TEXT NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    PRIMARY KEY (uuid, tag)
                );
                CREATE INDEX image_billing_tag_tag ON image_billing_tag(tag);

                CREATE TABLE image_acl (
                    uuid TEXT NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                    account TEXT NOT NULL,
                    PRIMARY KEY (uuid, account)
                );
                CREATE INDEX image_acl_account ON image_acl(account);

                CREATE TABLE image_file (
                    uuid TEXT NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                    idx INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (uuid, idx)
                );
                CREATE INDEX image_file_sha256 ON image_file(sha256);

                CREATE TABLE catalog_meta (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3-channels") { db in
            try db.execute(sql: """
                CREATE TABLE image_channel (
                    uuid TEXT NOT NULL REFERENCES image(uuid) ON DELETE CASCADE,
                    channel TEXT NOT NULL,
                    PRIMARY KEY (uuid, channel)
                );
                CREATE INDEX image_channel_channel ON image_channel(channel);
                INSERT OR IGNORE INTO image_channel (uuid, channel)
                    SELECT image.uuid, c.value FROM image, json_each(image.record, '$.channels') AS c
                    WHERE json_valid(image.record) AND c.type = 'text';
                """)
        }
        migrator.registerMigration("v4-mirror-sources") { db in
            // Which upstream a mirrored image came from, for `imgapid mirror --prune`. No
            // cascade: `save` replaces image rows, and this row must outlive that.
            try db.execute(sql: """
                CREATE TABLE image_mirror_source (
                    uuid TEXT PRIMARY KEY NOT NULL,
                    source TEXT NOT NULL
                );
                CREATE INDEX image_mirror_source_source ON image_mirror_source(source);
                """)
        }
        migrator.registerMigration("v5-icons") { db in
            // No cascade: `save` replaces image rows; `CatalogWriter.delete` removes icons.
            try db.execute(sql: """
                CREATE TABLE image_icon (
                    uuid TEXT PRIMARY KEY NOT NULL,
                    content_type TEXT NOT NULL,
                    bytes BLOB NOT NULL,
                    mtime INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6-quarantine") { db in
            // Stored files that failed verification, moved out of blobs/ to quarantine/.
            try db.execute(sql: """
                CREATE TABLE blob_quarantine (
                    sha256 TEXT PRIMARY KEY NOT NULL,
                    problem TEXT NOT NULL,
                    found_ms INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v7-file-sha1") { db in
            // Files found by SHA-1 (a mirror adopting a file it already has) without a scan.
            try db.execute(sql: """
                ALTER TABLE image_file ADD COLUMN sha1 TEXT;
                UPDATE image_file SET sha1 = (
                    SELECT json_extract(image.record, '$.files[' || image_file.idx || '].sha1') FROM image
                    WHERE image.uuid = image_file.uuid AND json_valid(image.record));
                CREATE INDEX image_file_sha1 ON image_file(sha1);
                """)
        }
        migrator.registerMigration("v8-pull-through-cache") { db in
            // Images a pull-through fill brought in from an upstream: the only ones the cache
            // may evict. No cascade: `save` replaces image rows; `CatalogWriter.delete` removes it.
            try db.execute(sql: """
                CREATE TABLE image_cache (
                    uuid TEXT PRIMARY KEY NOT NULL,
                    upstream TEXT NOT NULL,
                    cached_ms INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v9-file-size") { db in
            // File sizes beside their digests: the store's byte counts without reading JSON
            // in SQL, which SQLite and PostgreSQL spell differently.
            try db.execute(sql: """
                ALTER TABLE image_file ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
                UPDATE image_file SET size = COALESCE((
                    SELECT json_extract(image.record, '$.files[' || image_file.idx || '].size') FROM image
                    WHERE image.uuid = image_file.uuid AND json_valid(image.record)), 0);
                """)
        }
        return migrator
    }
}
