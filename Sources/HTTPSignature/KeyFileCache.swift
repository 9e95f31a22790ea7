import Foundation

/// Parsed `.keys` files, reused while a file's modification time, size and inode stay the same.
final class KeyFileCache: @unchecked Sendable {
    private struct Stamp: Equatable {
        let modified: Date?
        let size: UInt64?
        let inode: UInt64?
    }

    private let lock = NSLock()
    private var entries: [String: (stamp: Stamp, keys: [SSHPublicKey])] = [:]

    /// The keys in the file at `url`, re-read when it changed; a missing file has none.
    func keys(at url: URL) throws -> [SSHPublicKey] {
        let path = url.path
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch CocoaError.fileReadNoSuchFile {
            lock.withLock { entries[path] = nil }
            return []
        }
        let stamp = Stamp(
            modified: attributes[.modificationDate] as? Date,
            size: (attributes[.size] as? NSNumber)?.uint64Value,
            inode: (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
        )
        if let entry = lock.withLock({ entries[path] }), entry.stamp == stamp {
            return entry.keys
        }
        let keys = AuthKeyStore.parse(try AuthKeyStore.readText(at: url) ?? "")
        lock.withLock { entries[path] = (stamp, keys) }
        return keys
    }
}
