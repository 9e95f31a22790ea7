import Foundation
import IMGAPI
import ImageStore
import Synchronization

/// Fills the store from the upstreams on demand (config `upstreams`): the first request
/// for the file of an image that is only upstream starts one download (single flight: every
/// request meanwhile follows the same `GrowingFile`), which `RemoteImport` verifies and
/// stores with the manifest, icon and missing origin chain, so that the image is then a
/// mirrored one. Images brought in this way are evicted least recently used when their
/// files pass `maxBytes`; locally published and mirrored images never are.
public final class PullThroughCache: Sendable {
    public let catalog: PullThroughCatalog
    private let remote: RemoteImport
    /// Bytes of cached files kept at most; 0: no limit.
    private let maxBytes: Int64
    private let events: Events

    /// What the server logs and counts.
    public struct Events: Sendable {
        /// Bytes arrived from an upstream.
        public var fetched: @Sendable (_ bytes: Int64) -> Void
        /// A fill stored its image.
        public var filled: @Sendable (_ uuid: String, _ upstream: String) -> Void
        /// A fill failed.
        public var failed: @Sendable (_ uuid: String, _ upstream: String, _ error: any Error) -> Void
        /// An image was evicted.
        public var evicted: @Sendable (_ uuid: String, _ bytes: Int64) -> Void

        public init(fetched: @escaping @Sendable (Int64) -> Void, filled: @escaping @Sendable (String, String) -> Void,
                    failed: @escaping @Sendable (String, String, any Error) -> Void,
                    evicted: @escaping @Sendable (String, Int64) -> Void) {
            self.fetched = fetched
            self.filled = filled
            self.failed = failed
            self.evicted = evicted
        }
    }

    /// Where the file of a requested image is.
    public enum Fill: Sendable {
        /// In the store: serve it from there.
        case stored
        /// Arriving: follow it.
        case filling(GrowingFile.Reader)
    }

    private struct State {
        /// Fills being prepared or downloading, by image uuid: the file arriving, or nil when
        /// the image is stored.
        var fills: [String: Task<GrowingFile?, any Error>] = [:]
        /// Cached images and when each was last used (ms since 1970). At most one entry per
        /// upstream image ever cached by this process (one an operator deleted stays).
        var lastUse: [String: Int64] = [:]
        var evicting = false
    }
    private let state = Mutex(State())

    public init(catalog: PullThroughCatalog, remote: RemoteImport, maxBytes: Int64, events: Events) {
        self.catalog = catalog
        self.remote = remote
        self.maxBytes = maxBytes
        self.events = events
    }

    /// Reads which images earlier fills brought in (at start-up).
    public func load() async throws {
        let cached = try await remote.repository.catalog.cachedImages()
        state.withLock { state in
            for image in cached { state.lastUse[image.uuid] = image.cachedMs }
        }
    }

    /// Whether the image is one the cache brought in; if so, it counts as used now.
    public func use(_ uuid: String) -> Bool {
        state.withLock { state in
            guard state.lastUse[uuid] != nil else { return false }
            state.lastUse[uuid] = Self.now
            return true
        }
    }

    /// The file of upstream image `uuid` (from `view`): one fill per image, whoever asks.
    public func fill(_ uuid: String, from view: PullThroughCatalog.View) async throws -> Fill {
        guard let (image, index) = view.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
        guard let file = try await fill(image, from: catalog.upstreams[index]) else { return .stored }
        if let reader = file.join() { return .filling(reader) }
        // It ended before this request could follow it: stored, or failed.
        try await file.outcome()
        return .stored
    }

    /// The icon of upstream image `uuid` (from `view`), fetched from its upstream.
    public func icon(_ uuid: String, from view: PullThroughCatalog.View) async throws -> ImageIcon {
        guard let (image, index) = view.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
        return try await remote.icon(of: image, from: catalog.upstreams[index].client)
    }

    /// Most images filled at once (origins count): past it, a request for another image not
    /// here is refused (503) rather than opening one more download.
    public static let maxFills = 32

    private func fill(_ image: UpstreamImage, from upstream: PullThroughUpstream) async throws -> GrowingFile? {
        let task = state.withLock { state -> Task<GrowingFile?, any Error>? in
            if let running = state.fills[image.uuid] { return running }
            guard state.fills.count < Self.maxFills else { return nil }
            let task = Task { try await self.start(image, from: upstream) }
            state.fills[image.uuid] = task
            return task
        }
        guard let task else {
            throw IMGAPIError.serviceUnavailable(
                "\(Self.maxFills) images are being fetched from the upstreams already: ask for image \(image.uuid) again in a minute")
        }
        return try await task.value
    }

    private func start(_ image: UpstreamImage, from upstream: PullThroughUpstream) async throws -> GrowingFile? {
        do {
            let file = try await prepare(image, from: upstream)
            if file == nil { forget(image.uuid) }
            return file
        } catch {
            forget(image.uuid)
            events.failed(image.uuid, upstream.url, error)
            throw error
        }
    }

    /// Brings in the missing origins first (each a fill of its own), then starts the
    /// download of the image's file, unless the image or the same bytes are here already.
    private func prepare(_ image: UpstreamImage, from upstream: PullThroughUpstream) async throws -> GrowingFile? {
        let repository = remote.repository
        if try await repository.catalog.image(image.uuid) != nil { return nil }
        if let reason = image.unusableReason { throw IMGAPIError.remoteSource(reason) }
        let chain = try await remote.missingChain(of: image, from: upstream.client, requireActiveOrigins: false)
        for origin in chain.dropLast() {
            try await fill(origin, from: upstream)?.outcome()
        }
        let sha1 = (image.sha1 ?? "").lowercased(), size = image.size ?? 0
        if let stored = try await repository.catalog.file(withSHA1: sha1), stored.size == size {
            // The same bytes are here (another image has them): no download.
            try await copy(image, from: upstream, written: nil)
            return nil
        }
        try repository.blobs.preparePartial(sha1)
        let file = try await GrowingFile(path: repository.blobs.partialPath(sha1), size: size)
        Task(executorPreference: CPUExecutor.shared) { [self] in
            let outcome: Result<Void, any Error>
            do {
                try await copy(image, from: upstream) { file.advance(to: $0) }
                outcome = .success(())
            } catch {
                outcome = .failure(error)
                events.failed(image.uuid, upstream.url, error)
            }
            file.finish(outcome)
            forget(image.uuid)
            if case .success = outcome { await evict() }
        }
        return file
    }

    private func copy(_ image: UpstreamImage, from upstream: PullThroughUpstream,
                      written: RemoteImport.Progress?) async throws {
        let counted = Mutex<Int64>(0)
        let channels = try catalog.placement.channels(of: image)
        try await remote.copy(image, from: upstream.client, keepOwner: true, channels: channels, cachedFrom: upstream.url,
                              resumable: true, progress: { [events] total in
            let delta = counted.withLock { seen in
                defer { seen = total }
                return total - seen
            }
            if delta > 0 { events.fetched(delta) }
        }, written: written)
        state.withLock { $0.lastUse[image.uuid] = Self.now }
        events.filled(image.uuid, upstream.url)
    }

    private func forget(_ uuid: String) {
        state.withLock { _ = $0.fills.removeValue(forKey: uuid) }
    }

    /// Removes cached images, least recently used first, until their files fit in
    /// `maxBytes`: never one being filled, one another image still needs as its origin
    /// (DeleteImage refuses those), or the one used last.
    func evict() async {
        guard maxBytes > 0, state.withLock({ state in
            guard !state.evicting else { return false }
            state.evicting = true
            return true
        }) else { return }
        defer { state.withLock { $0.evicting = false } }
        let repository = remote.repository
        guard var cached = try? await repository.catalog.cachedImages() else { return }
        var total = cached.reduce(0) { $0 + $1.size }
        // Leaves go first; their origins may go on a later pass.
        while total > maxBytes {
            let (lastUse, filling) = state.withLock { ($0.lastUse, Set($0.fills.keys)) }
            let order = cached.sorted { (lastUse[$0.uuid] ?? $0.cachedMs, $0.uuid) < (lastUse[$1.uuid] ?? $1.cachedMs, $1.uuid) }
            var removed = false
            for candidate in order.dropLast() where total > maxBytes && !filling.contains(candidate.uuid) {
                guard (try? await repository.delete(candidate.uuid)) != nil else { continue }
                state.withLock { _ = $0.lastUse.removeValue(forKey: candidate.uuid) }
                cached.removeAll { $0.uuid == candidate.uuid }
                total -= candidate.size
                removed = true
                events.evicted(candidate.uuid, candidate.size)
            }
            guard removed else { return }
        }
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
