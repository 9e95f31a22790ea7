import Foundation
import XCTest

/// The PostgreSQL server `scripts/postgres` started for the tests (`IMGAPID_TEST_POSTGRES_URL`,
/// `PGPASSWORD`), reached with Debian's `psql`. With `IMGAPID_TEST_CATALOG=postgres`, every
/// `ServerProcess` keeps its catalog there, in a database of its own: `scripts/test` runs the
/// catalog's tests that way too.
enum TestPostgres {
    static var url: String? { ProcessInfo.processInfo.environment["IMGAPID_TEST_POSTGRES_URL"] }

    /// Whether servers started by the tests keep their catalogs in PostgreSQL.
    static var catalogsOnPostgres: Bool { ProcessInfo.processInfo.environment["IMGAPID_TEST_CATALOG"] == "postgres" }

    /// The server's URL, or a skip (a failure under CI, where `scripts/test` always starts it).
    static func requiredURL() throws -> String {
        if let url { return url }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            throw TestFailure("IMGAPID_TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL with scripts/postgres")
        }
        throw XCTSkip("no PostgreSQL server: run `eval \"$(scripts/postgres)\"` first")
    }

    /// A new, empty database; returns its URL.
    static func newDatabase() throws -> String {
        let base = try requiredURL()
        let name = "imgapid_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        _ = try query("CREATE DATABASE \(name)", at: base)
        var components = URLComponents(string: base)!
        components.path = "/" + name
        return components.string!
    }

    /// Runs `sql` with `psql`; returns its unaligned, header-less output.
    @discardableResult
    static func query(_ sql: String, at url: String) throws -> String {
        let (status, output) = try ChildProcess.run("/usr/bin/psql", ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                                                    environment: ProcessInfo.processInfo.environment, timeout: 60)
        guard status == 0 else { throw TestFailure("psql failed (\(status)): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
