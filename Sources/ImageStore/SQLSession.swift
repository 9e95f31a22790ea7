import Foundation

/// One value a catalog statement binds or reads. Booleans are stored as integers 0 and 1
/// in both engines, so the same SQL compares them the same way.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case bytes([UInt8])
}

/// A Swift value a catalog statement can bind.
public protocol SQLArgument {
    var sqlValue: SQLValue { get }
}

extension String: SQLArgument { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLArgument { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLArgument { public var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLArgument { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Array: SQLArgument where Element == UInt8 { public var sqlValue: SQLValue { .bytes(self) } }
extension Optional: SQLArgument where Wrapped: SQLArgument { public var sqlValue: SQLValue { self?.sqlValue ?? .null } }

/// One result row, its columns in the order the statement selects them.
public struct SQLRow: Sendable {
    public var values: [SQLValue]

    public func string(_ column: Int) -> String { optionalString(column) ?? "" }

    public func optionalString(_ column: Int) -> String? {
        switch values[column] {
        case .text(let text): return text
        case .integer(let number): return String(number)
        case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null: return nil
        }
    }

    public func int64(_ column: Int) -> Int64 {
        switch values[column] {
        case .integer(let number): return number
        case .text(let text): return Int64(text) ?? 0
        case .bytes, .null: return 0
        }
    }

    public func bytes(_ column: Int) -> [UInt8] {
        switch values[column] {
        case .bytes(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        case .integer, .null: return []
        }
    }
}

/// Which SQL engine a session talks to: the few places their SQL differs ask it.
public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// A condition true when `column` contains the bound text (case-sensitive).
    func contains(_ column: String) -> String {
        switch self {
        case .sqlite: return "instr(\(column), ?) > 0"
        case .postgres: return "strpos(\(column), ?) > 0"
        }
    }
}

/// A connection to the catalog's database, used from one thread at a time. Statements
/// are written once, in the SQL both engines share, with `?` for each bound value.
public protocol SQLSession {
    var dialect: SQLDialect { get }
    /// Runs one statement; returns how many rows it changed. Statements with fixed text
    /// (`execute`, `rows`) are prepared once per connection and kept.
    @discardableResult
    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// The rows of a statement built for one query (a listing's filters, a run of `?`
    /// marks): not kept prepared, since such texts vary without bound.
    func rowsOfBuiltStatement(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Runs `body` in one transaction: all of it is recorded, or none.
    func inTransaction(_ body: () throws -> Void) throws
    /// Tells the catalog's other readers (other replicas) that a transaction changed it;
    /// delivered when the transaction commits.
    func announceChange() throws
    /// Makes every commit so far durable now; call before an effect that cannot be undone
    /// (a file removed) follows from the catalog's state, which may hold commits of other
    /// writes not yet on disk (see `CommitSync`).
    func makeCommitsDurable() throws
}

extension SQLSession {
    @discardableResult
    func execute(_ sql: String, _ arguments: (any SQLArgument)...) throws -> Int {
        try execute(sql, arguments.map(\.sqlValue))
    }

    func rows(_ sql: String, _ arguments: (any SQLArgument)...) throws -> [SQLRow] {
        try rows(sql, arguments.map(\.sqlValue))
    }

    /// The first column of every row, as text.
    func strings(_ sql: String, _ arguments: (any SQLArgument)...) throws -> [String] {
        try rows(sql, arguments.map(\.sqlValue)).map { $0.string(0) }
    }

    /// The first column of the first row, as text; nil when there is no row or it is NULL.
    func string(_ sql: String, _ arguments: (any SQLArgument)...) throws -> String? {
        try rows(sql, arguments.map(\.sqlValue)).first?.optionalString(0)
    }

    /// The first column of the first row, as a number; nil when there is no row or it is NULL.
    func int64(_ sql: String, _ arguments: (any SQLArgument)...) throws -> Int64? {
        guard let row = try rows(sql, arguments.map(\.sqlValue)).first, row.values[0] != .null else { return nil }
        return row.int64(0)
    }
}

/// Where the catalog's rows live (SQLite or PostgreSQL): sessions for reading, and the
/// one writer session at a time.
public protocol CatalogDatabase: Sendable {
    /// Runs `body` with a session that reads; many may run at once.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` as the only writer: of this process, and of every process sharing the database.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T
    /// Runs `body` as the only writer on the calling thread, blocking it (start-up only).
    func blocking<T>(_ body: (any SQLSession) throws -> T) throws -> T
    /// Whether a write could go through now, writing nothing (`/ready`).
    func probeWrite() async throws
    /// What the engine's own consistency check reports; empty when the database is sound.
    func integrityProblems() async throws -> [String]
    /// Runs `body` unless another process sharing the database is running the job `name`
    /// (then nil): background work that must not run twice at once.
    func alone<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T?
    /// Calls `changed` whenever another process commits a change (nothing, where no other process writes).
    func watchChanges(_ changed: @escaping @Sendable () async -> Void)
    /// How to name this database in logs and messages, without secrets.
    var description: String { get }
}

/// A write that failed because the catalog's disk is full.
public struct CatalogFull: Error {}
