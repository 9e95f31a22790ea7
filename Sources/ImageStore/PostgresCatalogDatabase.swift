import Foundation
import IMGAPI
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared catalog: PostgreSQL through postgres-nio, for replicas. Sessions are
/// blocking (the catalog's statements are written once for SQLite's synchronous API), so
/// they run on threads of their own, never on the event loops or Swift's cooperative pool:
/// readers on a small pool, the writer on one thread. The writer also holds an advisory
/// lock, so writes (and the blob installs and removals inside them) never interleave
/// across replicas; a replica that dies loses the lock with its connection.
final class PostgresCatalogDatabase: CatalogDatabase {
    private let location: PostgresLocation
    private let configuration: PostgresConnection.Configuration
    private let readerThreads: NIOThreadPool
    private let writerThread: NIOThreadPool
    private let idle = Mutex<[PostgresConnection]>([])
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    private let logger = Logger(label: "imgapid.catalog")
    private let nextConnectionID = Atomic<Int>(1)

    /// Connections kept open between uses (readers and the writer).
    static let readerCount = 4
    /// Advisory lock keys: the writer's, and the migrations'.
    static let writerLock: Int64 = 0x696D_6761_7069_0001
    static let migrationLock: Int64 = 0x696D_6761_7069_0002
    /// The channel each committed change is announced on.
    static let changeChannel = "imgapid_catalog"
    /// How long one statement may take before the connection is given up (the server
    /// stops it sooner, at `statement_timeout`).
    static let statementTimeout: TimeAmount = .seconds(90)

    var description: String { location.description }

    /// Connects, and migrates the schema (once, across replicas). Blocking: start-up only.
    init(_ location: PostgresLocation) throws {
        self.location = location
        configuration = try Self.configuration(location)
        readerThreads = NIOThreadPool(numberOfThreads: Self.readerCount)
        writerThread = NIOThreadPool(numberOfThreads: 1)
        readerThreads.start()
        writerThread.start()
        do {
            try withConnection { db in try PostgresSchema.migrate(db, lock: Self.migrationLock) }
        } catch {
            shutDown()
            throw error
        }
    }

    deinit { shutDown() }

    private func shutDown() {
        watcher.withLock { $0?.cancel() }
        for connection in idle.withLock({ pool in defer { pool = [] }; return pool }) { Self.discard(connection) }
        readerThreads.shutdownGracefully { _ in }
        writerThread.shutdownGracefully { _ in }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await readerThreads.runIfActive { try self.withConnection(body) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) throws -> T) async throws -> T {
        try await writerThread.runIfActive { try self.blocking(body) }
    }

    func blocking<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try withConnection { db in
            try db.execute("SELECT pg_advisory_lock(?)", Self.writerLock)
            defer { _ = try? db.execute("SELECT pg_advisory_unlock(?)", Self.writerLock) }
            return try body(db)
        }
    }

    /// Asks for the writer's lock without waiting, and lets it go.
    func probeWrite() async throws {
        try await read { db in
            guard try db.int64("SELECT CAST(pg_try_advisory_lock(?) AS INTEGER)", Self.writerLock) == 1 else { return }
            try db.execute("SELECT pg_advisory_unlock(?)", Self.writerLock)
        }
    }

    /// Holds an advisory lock named for the job on a connection of its own while `body`
    /// runs; a replica that dies mid-job loses it with the connection, so another takes over.
    func alone<T: Sendable>(_ name: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        let connection: PostgresConnection
        do {
            connection = try await Self.connecting(configuration, id: 0, logger: logger).get()
        } catch {
            throw PostgresUnavailable(location: location, reason: Self.reason(error)).imgapiError
        }
        defer { Self.discard(connection) }
        let key = Self.jobLock(name)
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
        var acquired = false
        for try await (locked) in rows.decode(Bool.self) { acquired = locked }
        guard acquired else { return nil }
        // Closing the connection (deferred above) lets the lock go.
        return try await body()
    }

    /// A job's advisory lock key: FNV-1a of its name, beside the fixed keys.
    static func jobLock(_ name: String) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in ("imgapid job " + name).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int64(bitPattern: hash)
    }

    /// PostgreSQL checks its own pages; there is nothing for imgapid to add.
    func integrityProblems() async throws -> [String] { [] }

    /// Listens for other replicas' announcements, and reads again every second besides, so
    /// a change lost while the listening connection was down still arrives within a second.
    func watchChanges(_ changed: @escaping @Sendable () async -> Void) {
        let configuration = configuration, logger = logger
        let task = Task {
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await changed()
                }
            }
            defer { ticker.cancel() }
            var interrupted = false
            while !Task.isCancelled {
                do {
                    let connection = try await Self.connecting(configuration, id: 0, logger: logger).get()
                    defer { Self.discard(connection) }
                    try await connection.listen(on: Self.changeChannel) { notifications in
                        if interrupted { logger.notice("catalog change notifications resumed") }
                        interrupted = false
                        await changed()
                        for try await _ in notifications { await changed() }
                    }
                } catch {
                    if Task.isCancelled { break }
                    // Once per outage: the changes still arrive by the read once a second.
                    if !interrupted {
                        logger.warning("catalog change notifications interrupted; reconnecting every second",
                                       metadata: ["error": "\(Self.reason(error))"])
                    }
                    interrupted = true
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        watcher.withLock { $0 = task }
    }

    /// Runs `body` on an idle connection (or a new one) on the calling thread.
    private func withConnection<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        let connection = try idle.withLock { pool -> PostgresConnection? in
            // Connections that closed while idle (the server restarted, the network broke) are dropped.
            while let last = pool.popLast() {
                if !last.isClosed { return last }
                Self.discard(last)
            }
            return nil
        } ?? connect()
        defer {
            if connection.isClosed {
                Self.discard(connection) // the next use connects anew
            } else {
                let kept = idle.withLock { pool -> Bool in
                    guard pool.count < Self.readerCount + 1 else { return false }
                    pool.append(connection)
                    return true
                }
                if !kept { Self.discard(connection) }
            }
        }
        return try body(Session(connection: connection, location: location, logger: logger))
    }

    /// Closes the connection, keeping it until it is closed (postgres-nio requires that).
    /// A new connection, or a failure within `connectTimeout`: a server (or something in
    /// between) that takes the connection and never answers must not hold a thread for ever.
    /// A connection that completes after its time is closed.
    static func connecting(_ configuration: PostgresConnection.Configuration, id: Int,
                           logger: Logger) -> EventLoopFuture<PostgresConnection> {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        return bounded(PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger),
                       within: connectTimeout, timedOut: { ConnectTimedOut(seconds: connectTimeout.nanoseconds / 1_000_000_000) },
                       late: { discard($0) })
    }

    /// `future`'s outcome, or `timedOut()` once `limit` has passed (then `onTimeout` runs, and
    /// `late` with a success that comes after): a peer that never answers, or a future that
    /// is never completed, must not hold a thread for ever.
    static func bounded<T: Sendable>(_ future: EventLoopFuture<T>, within limit: TimeAmount,
                                     timedOut: @escaping @Sendable () -> any Error, onTimeout: @escaping @Sendable () -> Void = {},
                                     late: @escaping @Sendable (T) -> Void = { _ in }) -> EventLoopFuture<T> {
        let promise = future.eventLoop.makePromise(of: T.self)
        let settled = FirstOnly()
        let timer = future.eventLoop.scheduleTask(in: limit) {
            guard settled.claim() else { return }
            promise.fail(timedOut())
            onTimeout()
        }
        future.whenComplete { result in
            timer.cancel()
            if settled.claim() {
                promise.completeWith(result)
            } else if case .success(let value) = result {
                late(value)
            }
        }
        return promise.futureResult
    }

    static let connectTimeout: TimeAmount = .seconds(5)

    /// True for the first caller of `claim` only.
    final class FirstOnly: Sendable {
        private let taken = Atomic(false)
        func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
    }

    struct StatementTimedOut: Error, CustomStringConvertible {
        let seconds: Int64
        var description: String { "no answer to a statement within \(seconds) seconds" }
    }

    struct ConnectTimedOut: Error, CustomStringConvertible {
        let seconds: Int64
        var description: String { "no answer within \(seconds) seconds of connecting" }
    }

    private static func discard(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// A connection that failed: for `retryAfter`, others fail at once with its error
    /// instead of each waiting out a server that does not answer.
    private let lastFailure = Mutex<(at: ContinuousClock.Instant, error: IMGAPIError)?>(nil)
    static let retryAfter = Duration.seconds(1)

    private func connect() throws -> PostgresConnection {
        if let recent = lastFailure.withLock({ $0 }), ContinuousClock.now - recent.at < Self.retryAfter { throw recent.error }
        do {
            return try connectNow()
        } catch let error as IMGAPIError {
            lastFailure.withLock { $0 = (.now, error) }
            throw error
        }
    }

    private func connectNow() throws -> PostgresConnection {
        do {
            let connection = try Self.connecting(configuration, id: nextConnectionID.add(1, ordering: .relaxed).oldValue,
                                                 logger: logger).wait()
            do {
                _ = try Session(connection: connection, location: location, logger: logger).execute("SET statement_timeout = '60s'", [])
            } catch {
                Self.discard(connection)
                throw error
            }
            return connection
        } catch let error as IMGAPIError {
            throw error
        } catch {
            throw PostgresUnavailable(location: location, reason: Self.reason(error)).imgapiError
        }
    }

    private static func configuration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        var client = TLSConfiguration.makeClientConfiguration()
        switch location.tls {
        case .disable: tls = .disable
        case .prefer:
            client.certificateVerification = .none
            tls = .prefer(try NIOSSLContext(configuration: client))
        case .require:
            client.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: client))
        case .verifyFull:
            tls = .require(try NIOSSLContext(configuration: client))
        }
        return PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                password: location.password, database: location.database, tls: tls)
    }

    /// The server's own message where there is one (postgres-nio's descriptions hide it).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        return error.underlying.map { "\($0)" } ?? "\(error.code)"
    }

    struct Session: SQLSession {
        let connection: PostgresConnection
        let location: PostgresLocation
        let logger: Logger
        var dialect: SQLDialect { .postgres }

        func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
            try run(sql, arguments).metadata.rows ?? 0
        }

        func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            try run(sql, arguments).rows.map { row in SQLRow(values: row.map(Self.value)) }
        }

        func rowsOfBuiltStatement(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
            try rows(sql, arguments)
        }

        func inTransaction(_ body: () throws -> Void) throws {
            try execute("BEGIN", [])
            do {
                try body()
                try execute("COMMIT", [])
            } catch {
                _ = try? execute("ROLLBACK", [])
                throw error
            }
        }

        func announceChange() throws {
            try execute("NOTIFY \(PostgresCatalogDatabase.changeChannel)", [])
        }

        /// PostgreSQL's commits are durable when they return.
        func makeCommitsDurable() throws {}

        /// Runs one statement, its `?` marks numbered as PostgreSQL wants them. A statement
        /// still unanswered after `statementTimeout` closes the connection (a network that
        /// went silent), failing the statement.
        private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
            var bindings = PostgresBindings(capacity: arguments.count)
            for argument in arguments {
                switch argument {
                case .null: bindings.appendNull()
                case .integer(let number): bindings.append(number)
                // PostgreSQL's text cannot hold NUL; no manifest field needs one.
                case .text(let text): bindings.append(text.contains("\0") ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text)
                case .bytes(let bytes): bindings.append(ByteBuffer(bytes: bytes))
                }
            }
            let query = PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings)
            let connection = connection, limit = PostgresCatalogDatabase.statementTimeout
            do {
                return try PostgresCatalogDatabase.bounded(
                    connection.query(query, logger: logger), within: limit,
                    timedOut: { StatementTimedOut(seconds: limit.nanoseconds / 1_000_000_000) },
                    onTimeout: { PostgresCatalogDatabase.discard(connection) }).wait()
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "53100" {
                throw CatalogFull()
            } catch where connection.isClosed {
                // The server, or the way to it, went away: answered 503, and the next use connects anew.
                throw PostgresUnavailable(location: location, reason: PostgresCatalogDatabase.reason(error)).imgapiError
            } catch {
                throw PostgresStatementFailed(reason: PostgresCatalogDatabase.reason(error))
            }
        }

        /// `?` becomes `$1`, `$2`, … outside quoted text.
        static func numbered(_ sql: String) -> String {
            var result = "", number = 0, quoted = false
            result.reserveCapacity(sql.utf8.count + 16)
            for character in sql {
                if character == "'" { quoted.toggle() }
                if character == "?" && !quoted {
                    number += 1
                    result += "$\(number)"
                } else {
                    result.append(character)
                }
            }
            return result
        }

        private static func value(_ cell: PostgresCell) -> SQLValue {
            guard cell.bytes != nil else { return .null }
            switch cell.dataType {
            case .int2, .int4, .int8: return (try? cell.decode(Int64.self)).map(SQLValue.integer) ?? .null
            case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
            case .bytea: return (try? cell.decode(ByteBuffer.self)).map { .bytes(Array($0.readableBytesView)) } ?? .null
            default: return (try? cell.decode(String.self)).map(SQLValue.text) ?? .null
            }
        }
    }
}

/// The PostgreSQL catalog cannot be reached.
struct PostgresUnavailable: CustomStringConvertible {
    let location: PostgresLocation
    let reason: String
    var description: String {
        "cannot reach the PostgreSQL catalog at \(location): \(reason); check that the server runs and that the URL, user and password (PGPASSWORD) are right"
    }
    /// 503: the catalog is down, not the request wrong.
    var imgapiError: IMGAPIError { .storageIsDown(description) }
}

/// A statement the PostgreSQL catalog refused or did not answer.
public struct PostgresStatementFailed: Error, CustomStringConvertible {
    let reason: String
    public var description: String { "the PostgreSQL catalog failed a statement: \(reason)" }
}
