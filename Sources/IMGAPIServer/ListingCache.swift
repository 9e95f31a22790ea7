import Foundation
import IMGAPI
import NIOCore

/// Recent ListImages bodies, each valid for the catalog generation it was built from:
/// `imgadm avail` from many compute nodes asks the same question until something is
/// published, and a cached answer is only bytes to write.
///
/// Keyed by the parsed query, so junk parameters or a different order share one entry,
/// and bounded by total bytes: the least recently used answers go first.
final class ListingCache: @unchecked Sendable {
    /// What decides a listing's bytes.
    struct Key: Hashable {
        var query: ListImagesQuery
        var authenticated: Bool
        var showsChannels: Bool
        /// `inclAdminFields=true`: the admin view.
        var adminFields: Bool
    }

    private struct Entry {
        let body: ByteBuffer
        var lastUse: UInt64
    }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    /// Answers being rendered: at most one per key, with the generation it is rendered for.
    private var inFlight: [Key: (generation: Int64, task: Task<ByteBuffer, any Error>)] = [:]
    private var generation: Int64 = -1
    private var totalBytes = 0
    private var clock: UInt64 = 0
    private var maxBytes: Int
    /// Also bounds the eviction scan when answers are tiny.
    private let maxEntries = 1024

    /// `maxBytes`: the most body bytes held at once (config key `listingCacheBytes`).
    init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// The answer for `key` in catalog `generation`: cached, or made by `render`. Requests
    /// that miss together share one rendering, so a publish followed by many `imgadm avail`
    /// renders the listing once, not once per client.
    func body(for key: Key, generation: Int64,
              render: @escaping @Sendable () async throws -> ByteBuffer) async throws -> ByteBuffer {
        enum Lookup { case cached(ByteBuffer), rendering(Task<ByteBuffer, any Error>) }
        let lookup: Lookup = lock.withLock {
            if generation == self.generation, var entry = entries[key] {
                clock += 1
                entry.lastUse = clock
                entries[key] = entry
                return .cached(entry.body)
            }
            if let pending = inFlight[key], pending.generation == generation { return .rendering(pending.task) }
            let task = Task {
                defer { lock.withLock { if inFlight[key]?.generation == generation { inFlight[key] = nil } } }
                let body = try await render()
                store(body, for: key, generation: generation)
                return body
            }
            inFlight[key] = (generation, task)
            return .rendering(task)
        }
        switch lookup {
        case .cached(let body): return body
        case .rendering(let task): return try await task.value
        }
    }

    private func store(_ body: ByteBuffer, for key: Key, generation: Int64) {
        lock.withLock {
            guard body.readableBytes <= maxBytes else { return }
            if generation != self.generation {
                // Answers built from an older catalog can never be served again.
                guard generation > self.generation else { return }
                entries.removeAll()
                totalBytes = 0
                self.generation = generation
            }
            if let old = entries.removeValue(forKey: key) { totalBytes -= old.body.readableBytes }
            while totalBytes + body.readableBytes > maxBytes || entries.count >= maxEntries,
                  let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                totalBytes -= oldest.value.body.readableBytes
                entries.removeValue(forKey: oldest.key)
            }
            clock += 1
            entries[key] = Entry(body: body, lastUse: clock)
            totalBytes += body.readableBytes
        }
    }

    /// A new byte limit (SIGHUP); answers over it are dropped when the next one is stored.
    func setMaxBytes(_ bytes: Int) {
        lock.withLock { maxBytes = bytes }
    }

    /// Forgets every cached answer (`POST /state?action=dropcaches`).
    func removeAll() {
        lock.withLock {
            entries.removeAll()
            totalBytes = 0
        }
    }
}
