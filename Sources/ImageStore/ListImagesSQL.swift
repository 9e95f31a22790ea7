import IMGAPI

/// The SQL for one ListImages query, every filter on an indexed column or side table.
struct ListImagesSQL {
    private(set) var sql = ""
    private(set) var arguments: [SQLValue] = []
    private var conditions: [String] = []
    private let dialect: SQLDialect

    /// `column` is `item` (rendered view) or `record, uuid`.
    /// nil when the query can match nothing (an anonymous caller asking for inactive images).
    init?(query: ListImagesQuery, authenticated: Bool, column: String, db: any SQLSession) throws {
        dialect = db.dialect
        var state = query.state
        if !authenticated {
            switch state {
            case .active, .all: state = .active
            case .disabled, .unactivated, .creating, .failed: return nil
            }
        }
        switch state {
        case .active, .disabled, .creating, .failed: add("state = ?", state.rawValue)
        case .unactivated: add("activated = 0")
        case .all: break
        }
        if let owner = query.owner { add("owner = ?", owner) }
        if let name = query.name { addMatch("name", name) }
        if let version = query.version { addMatch("version", version) }
        if let os = query.os { add("os = ?", os) }
        switch query.type {
        case .only(let type)?: add("type = ?", type)
        case .excluding(let type)?: add("type IS DISTINCT FROM ?", type)
        case nil: break
        }
        if let isPublic = query.isPublic { add("public = ?", isPublic) }
        for tag in query.tags {
            add("EXISTS (SELECT 1 FROM image_tag t WHERE t.uuid = image.uuid AND t.key = ? AND t.value = ?)",
                tag.key, tag.value)
        }
        for tag in query.billingTags {
            add("EXISTS (SELECT 1 FROM image_billing_tag b WHERE b.uuid = image.uuid AND b.tag = ?)", tag)
        }
        if let channel = query.channel {
            add("EXISTS (SELECT 1 FROM image_channel c WHERE c.uuid = image.uuid AND c.channel = ?)", channel)
        }
        if let account = query.account {
            // Owners see all their images; others see activated public ones and those shared with them.
            add("""
                (owner = ? OR (activated = 1 AND public = 1) OR (activated = 1 AND public = 0 AND EXISTS
                  (SELECT 1 FROM image_acl a WHERE a.uuid = image.uuid AND a.account = ?)))
                """, account, account)
        }
        switch query.marker {
        case .image(let uuid)?:
            guard let ms = try Self.publishedMs(of: uuid, db) else { throw IMGAPIError.imageNotFound(uuid) }
            addPosition(ms, uuid, descending: query.descending)
        case .position(let ms, let uuid)?:
            addPosition(ms, uuid, descending: query.descending)
        case .date(let ms)?:
            add(query.descending ? "published_ms <= ?" : "published_ms >= ?", ms)
        case nil: break
        }
        let order = query.descending ? "DESC" : "ASC"
        sql = "SELECT \(column) FROM image"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY published_ms \(order), uuid \(order)"
        if let limit = query.limit {
            sql += " LIMIT ?"
            arguments.append(limit.sqlValue)
        }
    }

    static func publishedMs(of uuid: String, _ db: any SQLSession) throws -> Int64? {
        try db.int64("SELECT published_ms FROM image WHERE uuid = ?", uuid)
    }

    /// Inclusive, and exact among images published in the same millisecond: a page starts
    /// at the marker itself, which imgadm drops, never at its first namesake.
    private mutating func addPosition(_ ms: Int64, _ uuid: String, descending: Bool) {
        add(descending ? "(published_ms, uuid) <= (?, ?)" : "(published_ms, uuid) >= (?, ?)", ms, uuid)
    }

    private mutating func add(_ condition: String, _ values: any SQLArgument...) {
        conditions.append(condition)
        arguments.append(contentsOf: values.map(\.sqlValue))
    }

    private mutating func addMatch(_ column: String, _ match: ListImagesQuery.TextMatch) {
        switch match {
        case .exact(let text): add("\(column) = ?", text)
        case .substring(let text): add(dialect.contains(column), text)
        }
    }
}
