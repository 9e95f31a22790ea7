import Foundation
import IMGAPI
import ImageStore
import NIOCore

/// Recent ListImages and GetImage answers, each valid for the catalog generation it was
/// built from: `imgadm avail` and `imgadm import` from many compute nodes ask the same
/// questions until something is published, and a cached answer is only bytes to write.
///
/// Listings are keyed by the parsed query, so junk parameters or a different order share
/// one entry. The whole cache is bounded by bytes and entries (config key
/// `listingCacheBytes`): past either bound, the least recently used answers go first.
final class ResponseCache: @unchecked Sendable {
    /// What decides an answer's bytes.
    enum Key: Hashable {
        /// ListImages.
        case listing(query: ListImagesQuery, authenticated: Bool, showsChannels: Bool, adminFields: Bool)
        /// GetImage of one image.
        case image(uuid: String, showsChannels: Bool, adminFields: Bool)
    }

    /// An answer's body, with what its endpoint needs besides.
    struct Answer: Sendable {
        let body: ByteBuffer
        /// GetImage: the reference's ETag of the body.
        var etag: String? = nil
        /// GetImage: the image, whose owner, ACL and channels decide who may see the body.
        var image: StoredImage? = nil

        /// Bytes held; a parsed record costs about as much as its text.
        var cost: Int { image == nil ? body.readableBytes : 2 * body.readableBytes + 256 }
    }

    private struct Entry {
        let answer: Answer
        var lastUse: UInt64
    }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    /// Answers being rendered: at most one per key, with the generation it is rendered for.
    private var inFlight: [Key: (generation: Int64, task: Task<Answer, any Error>)] = [:]
    private var generation: Int64 = -1
    private var totalBytes = 0
    private var clock: UInt64 = 0
    private var maxBytes: Int
    private let maxEntries: Int

    /// `maxBytes`: the most bytes held at once (config key `listingCacheBytes`).
    init(maxBytes: Int, maxEntries: Int = 65_536) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
    }

    /// The answer for `key` in catalog `generation`: cached, or made by `render`. Requests
    /// that miss together share one rendering, so a publish followed by many `imgadm avail`
    /// renders the listing once, not once per client.
    func answer(for key: Key, generation: Int64,
                render: @escaping @Sendable () async throws -> Answer) async throws -> Answer {
        enum Lookup { case cached(Answer), rendering(Task<Answer, any Error>) }
        let lookup: Lookup = lock.withLock {
            if let answer = lookUp(key, generation) { return .cached(answer) }
            if let pending = inFlight[key], pending.generation == generation { return .rendering(pending.task) }
            // Rendering a large listing takes milliseconds of CPU: off the event loops.
            let task = Task(executorPreference: CPUExecutor.shared) { [self] in
                defer { lock.withLock { if inFlight[key]?.generation == generation { inFlight[key] = nil } } }
                let answer = try await render()
                store(answer, for: key, generation: generation)
                return answer
            }
            inFlight[key] = (generation, task)
            return .rendering(task)
        }
        switch lookup {
        case .cached(let answer): return answer
        case .rendering(let task): return try await task.value
        }
    }

    /// The answer for `key` in catalog `generation` if it is cached; never renders.
    func cached(_ key: Key, generation: Int64) -> Answer? {
        lock.withLock { lookUp(key, generation) }
    }

    /// Called with the lock held.
    private func lookUp(_ key: Key, _ generation: Int64) -> Answer? {
        guard generation == self.generation, var entry = entries[key] else { return nil }
        clock += 1
        entry.lastUse = clock
        entries[key] = entry
        return entry.answer
    }

    private func store(_ answer: Answer, for key: Key, generation: Int64) {
        lock.withLock {
            guard answer.cost <= maxBytes else { return }
            if generation != self.generation {
                // Answers built from an older catalog can never be served again.
                guard generation > self.generation else { return }
                entries.removeAll()
                totalBytes = 0
                self.generation = generation
            }
            if let old = entries.removeValue(forKey: key) { totalBytes -= old.answer.cost }
            if totalBytes + answer.cost > maxBytes || entries.count >= maxEntries {
                evict(toBytes: maxBytes - answer.cost, entries: maxEntries - 1)
            }
            clock += 1
            entries[key] = Entry(answer: answer, lastUse: clock)
            totalBytes += answer.cost
        }
    }

    /// Drops the least recently used answers until at most `bytes` and `count` remain, and
    /// then an eighth more, so that one sort pays for many stores. Called with the lock held.
    private func evict(toBytes bytes: Int, entries count: Int) {
        let byAge = entries.sorted { $0.value.lastUse < $1.value.lastUse }
        let (bytesGoal, countGoal) = (bytes - bytes / 8, count - count / 8)
        for (key, entry) in byAge where totalBytes > bytesGoal || entries.count > countGoal {
            totalBytes -= entry.answer.cost
            entries.removeValue(forKey: key)
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
