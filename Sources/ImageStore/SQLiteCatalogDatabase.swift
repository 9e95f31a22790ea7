import Foundation
import GRDB

/// The embedded catalog: one SQLite file (through GRDB), read concurrently, written by
/// GRDB's single writer; the storage lock keeps other processes from writing it. Writes
/// return once durable, their syncs grouped by `CommitSync`.
final class SQLiteCatalogDatabase: CatalogDatabase {
    private let pool: any DatabaseWriter
    /// Nil for a catalog that is not written to disk (in memory, or opened to read).
    let commits: CommitSync?
    let description: String

    /// Opens (creating, migrating) the catalog file at `path`.
    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: configuration)
        // Commits do not sync the WAL (GRDB's WAL default, NORMAL, said here since durability
        // rests on it): `write` waits for a `CommitSync` sync instead, shared by concurrent writes.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        commits = CommitSync(walPath: path + "-wal")
        try CatalogSchema.migrator.migrate(pool)
        try commits?.syncNow()
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
        commits = nil
        description = path
    }

    /// An empty catalog in memory, gone with the process.
    init() throws {
        pool = try DatabaseQueue()
        try CatalogSchema.migrator.migrate(pool)
        commits = nil
        description = "memory"
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await pool.read { db in try body(Session(db: db, commits: nil)) }
    }

    /// Runs `body` on the writer and returns once what it committed is on disk; the writer
    /// goes on with the next write meanwhile. A write that fails after committing part of
    /// its changes waits for them too before its error is thrown.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        let commits = self.commits
        let (result, commit) = try await pool.writeWithoutTransaction { db in
            let changes = db.totalChangesCount
            let result = Result { try body(Session(db: db, commits: commits)) }
            return (result, db.totalChangesCount == changes ? nil : commits?.noteCommit())
        }
        if let commit { try await commits?.waitUntilDurable(commit) }
        return try result.get()
    }

    /// The same as `write`, on the calling thread; what it committed is synced before it returns.
    func blocking<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try pool.writeWithoutTransaction { db in
            let changes = db.totalChangesCount
            let result = Result { try body(Session(db: db, commits: commits)) }
            if db.totalChangesCount != changes { try commits?.syncNow() }
            return try result.get()
        }
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
        let commits: CommitSync?
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

        func makeCommitsDurable() throws {
            try commits?.syncNow()
        }

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
