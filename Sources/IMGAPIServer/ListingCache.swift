import Foundation
import NIOCore

/// Recent ListImages bodies, each valid for the catalog generation it was built from:
/// `imgadm avail` from many compute nodes asks the same question until something is
/// published, and a cached answer is only bytes to write.
final class ListingCache: @unchecked Sendable {
    private struct Entry {
        let generation: Int64
        let body: ByteBuffer
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private let maxEntries = 64
    private let maxBodyBytes = 64 * 1024 * 1024

    func body(for key: String, generation: Int64) -> ByteBuffer? {
        lock.withLock {
            guard let entry = entries[key], entry.generation == generation else { return nil }
            return entry.body
        }
    }

    func store(_ body: ByteBuffer, for key: String, generation: Int64) {
        guard body.readableBytes <= maxBodyBytes else { return }
        lock.withLock {
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(generation: generation, body: body)
        }
    }
}
