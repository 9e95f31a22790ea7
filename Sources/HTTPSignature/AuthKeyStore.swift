import Foundation

/// Users' SSH public keys kept as `<directory>/<USER>.keys` files, one OpenSSH key per line.
/// A user is an operator, or is bound to one owner uuid, kept in `<directory>/<USER>.owner`:
/// its keys then act for that owner only.
///
/// Blank lines and `#` comments are ignored and an unparsable line is skipped. Files are read on every
/// call (behind a cache keyed by modification time, size and inode), so edits apply without a restart.
/// Writes replace the file atomically; they are serialised within this process only.
public struct AuthKeyStore: Sendable {
    /// Why a store operation was refused.
    public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// The user name does not match `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
        case invalidUser(String)
        /// The user already has this key.
        case duplicateKey(user: String, fingerprint: String)
        /// The user has keys with another role (`owner` nil: operator).
        case roleMismatch(user: String, owner: String?)

        /// A human-readable explanation.
        public var description: String {
            switch self {
            case .invalidUser(let name): "invalid user name \"\(name)\""
            case .duplicateKey(let user, let fingerprint): "user \"\(user)\" already has key \(fingerprint)"
            case .roleMismatch(let user, nil):
                "user \"\(user)\" signs as an operator: remove its keys first (imgapid keys remove \(user)) to bind it to an owner"
            case .roleMismatch(let user, let owner?):
                "user \"\(user)\" is bound to owner \(owner): add its keys with --owner \(owner), or remove them first"
            }
        }
    }

    /// The directory holding the `.keys` files.
    public let directory: URL
    /// Keys given in the server's configuration (reference key `authKeys`), added to the files'.
    public var configured: [String: [SSHPublicKey]] { configuredKeys.withLock { $0 } }
    private let configuredKeys: Locked<[String: [SSHPublicKey]]>
    private let cache = KeyFileCache()
    private static let writeLock = NSLock()
    private static let fileSuffix = ".keys"
    private static let ownerSuffix = ".owner"

    /// Makes a store over `directory`, which need not exist yet.
    public init(directory: URL, configured: [String: [SSHPublicKey]] = [:]) {
        self.directory = directory
        configuredKeys = Locked(configured)
    }

    /// Takes the configured keys of a configuration read anew (SIGHUP).
    public func replaceConfigured(_ keys: [String: [SSHPublicKey]]) {
        configuredKeys.withLock { $0 = keys }
    }

    /// Whether `name` is an acceptable user name (and so a safe file name).
    public static func isValidUser(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// The keys of `user` in file order, then the configured ones; an unknown user has none.
    public func keys(for user: String) throws -> [SSHPublicKey] {
        let url = try fileURL(for: user)
        return try cache.keys(at: url) + (configured[user] ?? [])
    }

    /// The owner uuid `user` is bound to, or nil for an operator (and an unknown user).
    public func owner(of user: String) throws -> String? {
        try Self.readText(at: try ownerURL(for: user)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Appends `key` to `user`'s file, creating the directory and file as needed. With
    /// `owner` (a lower-case uuid), the user acts for that owner only; a user's keys all have
    /// one role.
    public func add(user: String, key: SSHPublicKey, owner: String? = nil) throws {
        let url = try fileURL(for: user)
        let ownerURL = try ownerURL(for: user)
        try Self.writeLock.withLock {
            let text = try Self.readText(at: url) ?? ""
            let existing = Self.parse(text)
            guard !existing.contains(key) else {
                throw Error.duplicateKey(user: user, fingerprint: key.sha256Fingerprint)
            }
            let recorded = try self.owner(of: user)
            if !existing.isEmpty, recorded != owner { throw Error.roleMismatch(user: user, owner: recorded) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            if let owner {
                try AtomicFileWriter.write(owner + "\n", to: ownerURL)
            } else if recorded != nil {
                try FileManager.default.removeItem(at: ownerURL)
            }
            let separator = text.isEmpty || text.hasSuffix("\n") ? "" : "\n"
            try AtomicFileWriter.write(text + separator + key.openSSHLine + "\n", to: url)
        }
    }

    /// Removes `user`'s keys matching `fingerprint` (MD5 or SHA256 form), or all of them when nil.
    ///
    /// Returns how many were removed; when no key is left the file is deleted.
    public func remove(user: String, fingerprint: String?) throws -> Int {
        let url = try fileURL(for: user)
        return try Self.writeLock.withLock {
            guard let text = try Self.readText(at: url) else { return 0 }
            var kept: [Substring] = []
            var removed = 0
            var keysLeft = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if let key = Self.parseLine(line) {
                    if fingerprint.map(key.matches(fingerprint:)) ?? true {
                        removed += 1
                        continue
                    }
                    keysLeft = true
                }
                kept.append(line)
            }
            if removed == 0 { return 0 }
            if keysLeft {
                try AtomicFileWriter.write(kept.joined(separator: "\n"), to: url)
            } else {
                try FileManager.default.removeItem(at: url)
                try? FileManager.default.removeItem(at: try ownerURL(for: user))
            }
            return removed
        }
    }

    /// Every user's keys, sorted by user name, each user's keys in file order, with the
    /// owner the user is bound to (nil: an operator).
    public func list() throws -> [(user: String, key: SSHPublicKey, owner: String?)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch CocoaError.fileReadNoSuchFile {
            return []
        }
        let users = names.filter { $0.hasSuffix(Self.fileSuffix) }
            .map { String($0.dropLast(Self.fileSuffix.count)) }
            .filter(Self.isValidUser)
            .sorted()
        return try users.flatMap { user in
            let owner = try self.owner(of: user)
            return try keys(for: user).map { (user: user, key: $0, owner: owner) }
        }
    }

    private func fileURL(for user: String) throws -> URL {
        guard Self.isValidUser(user) else { throw Error.invalidUser(user) }
        return directory.appendingPathComponent(user + Self.fileSuffix, isDirectory: false)
    }

    private func ownerURL(for user: String) throws -> URL {
        guard Self.isValidUser(user) else { throw Error.invalidUser(user) }
        return directory.appendingPathComponent(user + Self.ownerSuffix, isDirectory: false)
    }

    /// The file's text, or nil when it does not exist. Invalid UTF-8 is replaced, so such lines are skipped later.
    static func readText(at url: URL) throws -> String? {
        do {
            return String(decoding: try Data(contentsOf: url), as: UTF8.self)
        } catch CocoaError.fileReadNoSuchFile {
            return nil
        }
    }

    /// The keys in a `.keys` file's text.
    static func parse(_ text: String) -> [SSHPublicKey] {
        text.split(whereSeparator: \.isNewline).compactMap(parseLine)
    }

    /// The key on one line, or nil for blank, comment and unparsable lines.
    private static func parseLine(_ line: Substring) -> SSHPublicKey? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
        return try? SSHPublicKey(openSSHLine: trimmed)
    }
}

/// A value behind a lock, shared by the copies of the struct that holds it.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.withLock { body(&value) }
    }
}
