import Foundation

/// Where a PostgreSQL catalog is: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`.
/// The password comes from the URL (in the configuration file) or from `PGPASSWORD`, and
/// is never shown: `description` leaves it out.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    /// libpq's `sslmode` values that make sense here.
    public enum TLSMode: String, Sendable {
        /// No TLS.
        case disable
        /// TLS when the server offers it, its certificate not checked (libpq's default).
        case prefer
        /// TLS always, its certificate not checked.
        case require
        /// TLS always, its certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    /// Parses the URL; `environment` supplies `PGPASSWORD` when the URL has no password.
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
            throw PostgresLocationError(text: text, problem: "it is not a URL of the form postgres://USER@HOST[:PORT]/DATABASE")
        }
        guard let user = url.user, !user.isEmpty else {
            throw PostgresLocationError(text: text, problem: "it names no user (postgres://USER@HOST/DATABASE)")
        }
        self.host = host
        port = url.port ?? 5432
        self.user = user
        password = url.password ?? environment["PGPASSWORD"]
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? user : path
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? TLSMode.prefer.rawValue
        guard let tls = TLSMode(rawValue: mode) else {
            throw PostgresLocationError(text: text, problem: "sslmode \(mode) is not one of disable, prefer, require, verify-full")
        }
        self.tls = tls
    }

    /// Where the catalog is, for logs and messages: the URL without its password or options.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// The URL without its password (which stays in `PGPASSWORD` or the config file).
    public var url: String { description + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)") }
}

/// A catalog URL that cannot be used, and why.
public struct PostgresLocationError: Error, CustomStringConvertible {
    let text: String
    let problem: String
    public var description: String {
        // The text may hold a password: show only what precedes it.
        let shown = text.split(separator: "@").count > 1 ? "the PostgreSQL catalog URL" : "catalog \(text)"
        return "cannot use \(shown): \(problem)"
    }
}
