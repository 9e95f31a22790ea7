import Foundation
import GRDB

/// The embedded catalog: one SQLite file (through GRDB), read concurrently, written by
/// GRDB's single writer; the storage lock keeps other processes from writing it.
final class SQLiteCatalogDatabase: CatalogDatabase {
    private let pool: any DatabaseWriter
    let description: String

    /// Opens (creating, migrating) the catalog file at `path`.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        // An acknowledged write must survive a power loss, not only a process crash: each
        // commit syncs the WAL. Set on the one writing connection after GRDB has opened
        // it, since GRDB sets NORMAL (no sync at commit) when it turns WAL on.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try CatalogSchema.migrator.migrate(pool)
        description = path
    }

    /// Opens the catalog file for reading only; one that does not exist reads as empty.
    init(readingAt path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            pool = try DatabasePool(path: path, configuration: configuration)
        } else {
            pool = try DatabaseQueue()
            try CatalogSchema.migrator.migrate(pool)
        }
        description = path
    }

    /// An empty catalog in memory, gone with the process.
    init() throws {
        pool = try DatabaseQueue()
        try CatalogSchema.migrator.migrate(pool)
        description = "memory"
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.read { db in try body(Session(db: db)) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in try body(Session(db: db)) }
    }

    func blocking<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in try body(Session(db: db)) }
    }

    /// Takes SQLite's write lock and lets it go.
    func probeWrite() async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "ROLLBACK")
        }
    }

    /// What SQLite's `integrity_check` reports.
    func integrityProblems() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" } }
    }

    /// Only the process holding the storage lock uses the catalog for background work.
    func alone<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await body()
    }

    /// Only the process holding the storage lock writes: there is no other writer to watch.
    func watchChanges(_ changed: @escaping @Sendable () async -> Void) {}

    /// Copies the database, as it is at one moment, to a new file (SQLite's online backup). Blocking.
    func backup(to path: String) throws {
        let copy = try DatabaseQueue(path: path)
        try pool.backup(to: copy)
        try copy.close()
    }

    struct Session: SQLSession {
        let db: Database
        var dialect: SQLDialect { .sqlite }

        func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
            try mappingFull { try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments)) }
            return db.changesCount
        }

        func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            try mappingFull { try Self.rows(db.cachedStatement(sql: sql), arguments) }
        }

        func rowsOfBuiltStatement(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            try mappingFull { try Self.rows(db.makeStatement(sql: sql), arguments) }
        }

        private static func rows(_ statement: Statement, _ arguments: [SQLValue]) throws -> [SQLRow] {
            try Row.fetchAll(statement, arguments: Self.arguments(arguments)).map { row in
                SQLRow(values: row.databaseValues.map(Self.value))
            }
        }

        func inTransaction(_ body: () throws -> Void) throws {
            try mappingFull {
                try db.inTransaction {
                    try body()
                    return .commit
                }
            }
        }

        func announceChange() throws {}

        private func mappingFull<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL { throw CatalogFull() }
        }

        private static func arguments(_ values: [SQLValue]) -> StatementArguments {
            StatementArguments(values.map { value -> DatabaseValue in
                switch value {
                case .null: return .null
                case .integer(let number): return number.databaseValue
                case .text(let text): return text.databaseValue
                case .bytes(let bytes): return Data(bytes).databaseValue
                }
            })
        }

        private static func value(_ value: DatabaseValue) -> SQLValue {
            switch value.storage {
            case .null: return .null
            case .int64(let number): return .integer(number)
            case .double(let number): return .integer(Int64(exactly: number.rounded()) ?? 0)
            case .string(let text): return .text(text)
            case .blob(let data): return .bytes(Array(data))
            }
        }
    }
}
