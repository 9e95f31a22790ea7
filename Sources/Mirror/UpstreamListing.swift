import AsyncHTTPClient
import Crypto
import Foundation
import HTTPSignature
import IMGAPI
import IMGAPIClient
import ImageStore
import Synchronization

/// One upstream of the pull-through cache (config key `upstreams`): where, how long its
/// catalog is kept, and which of its images are offered.
public struct PullThroughUpstream: Sendable {
    /// The source URL as configured; a `?channel=` in it is honoured.
    public let url: String
    public let client: IMGAPIClient
    /// How long a fetched catalog is listed before it is fetched again.
    public let ttl: Duration
    /// Only images of this name (`~text`: containing it), as ListImages' `name`.
    public let name: ListImagesQuery.TextMatch?

    /// Connecting gives up after 5 s, so that a request for a file not cached fails
    /// quickly when the upstream is down; a catalog that sends nothing for 60 s is given up.
    static let httpClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(60)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(url: String, ttl: Duration, name: ListImagesQuery.TextMatch?) throws(IMGAPIClientError) {
        self.url = url
        client = try IMGAPIClient(url: url, http: Self.httpClient)
        self.ttl = ttl
        self.name = name
    }

    /// RFC 3986's unreserved characters: everything else in a query value is percent-encoded.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The ListImages query that fetches what this upstream offers.
    var query: [String] {
        guard let name = name?.raw else { return [] }
        return ["name=" + (name.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? name)]
    }
}

/// An upstream's catalog as last fetched, kept for its TTL. When a fetch fails, the last
/// good catalog stays in use (stale-if-error) with the failure noted, and the next try
/// waits for the TTL (at most 60 s) rather than asking a failing upstream on every request.
/// Each good catalog is also kept in a file, so that a restart while the upstream is down
/// still lists it.
final class UpstreamListing: Sendable {
    let upstream: PullThroughUpstream
    /// Where the last good catalog is kept; nil: in memory only.
    private let file: URL?

    /// A fetched catalog.
    struct Snapshot: Sendable {
        var images: [UpstreamImage] = []
        /// When these images were fetched (wall clock, for messages); nil before the first fetch.
        var fetchedAt: Date?
        /// Moves on with each successful fetch.
        var version = 0
        /// Why the last fetch failed, when it did: the images are then stale (or none).
        var failure: String?
    }

    private struct State {
        var snapshot = Snapshot()
        var nextFetch: ContinuousClock.Instant?
        var fetching: Task<Void, Never>?
    }
    private let state = Mutex(State())
    /// The most images an upstream's catalog may hold: they are kept in memory.
    static let maxImages = 100_000

    /// Called with the failure of each fetch that fails.
    private let failed: @Sendable (String) -> Void

    /// `directory`: where the catalog is kept between runs (read now, at start-up).
    init(_ upstream: PullThroughUpstream, keptIn directory: URL?, failed: @escaping @Sendable (String) -> Void) {
        self.upstream = upstream
        self.failed = failed
        file = directory?.appendingPathComponent(Self.fileName(upstream.url))
        if let file, let kept = Self.read(file) { state.withLock { $0.snapshot = kept } }
    }

    /// One file per upstream URL (its channel included), named by the URL's SHA-256.
    static func fileName(_ url: String) -> String {
        SHA256.hash(data: Array(url.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined() + ".json"
    }

    /// The catalog a run kept, dated by its file; nil when there is none that parses.
    private static func read(_ file: URL) -> Snapshot? {
        guard let data = try? Data(contentsOf: file), let items = try? JSONValue.parse(Array(data)).arrayValue,
              let modified = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.modificationDate] as? Date else {
            return nil
        }
        return Snapshot(images: items.compactMap(\.objectValue).map(UpstreamImage.init), fetchedAt: modified, version: 1)
    }

    private func keep(_ images: [UpstreamImage]) {
        guard let file else { return }
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFileWriter.write(JSONValue.array(images.map { .object($0.manifest) }).compact(), to: file)
        } catch {
            failed("its catalog was fetched but could not be kept in \(file.path): \(error)")
        }
    }

    /// The catalog, when it is not due for a fetch: what `current` gives, without a task.
    func fresh() -> Snapshot? {
        state.withLock { state in
            guard state.fetching == nil, let next = state.nextFetch, ContinuousClock.now < next else { return nil }
            return state.snapshot
        }
    }

    /// The catalog to list from. When it is due for a fetch, one fetch starts (shared by
    /// every caller) and is waited for, but at most `patience` when an older catalog can
    /// be listed meanwhile.
    func current(patience: Duration) async -> Snapshot {
        let (fetch, hasOlder) = state.withLock { state -> (Task<Void, Never>?, Bool) in
            let hasOlder = state.snapshot.fetchedAt != nil
            if let fetching = state.fetching { return (fetching, hasOlder) }
            if let next = state.nextFetch, ContinuousClock.now < next { return (nil, hasOlder) }
            // Off the event loops: the fetched catalog is parsed and written to a file.
            let task = Task(executorPreference: CPUExecutor.shared) { await self.fetch() }
            state.fetching = task
            return (task, hasOlder)
        }
        if let fetch {
            if hasOlder {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await fetch.value }
                    group.addTask { try? await Task.sleep(for: patience) }
                    await group.next()
                    group.cancelAll()
                }
            } else {
                await fetch.value
            }
        }
        return state.withLock { $0.snapshot }
    }

    private func fetch() async {
        let result: Result<[UpstreamImage], any Error>
        do {
            result = .success(try await upstream.client.listImages(query: upstream.query, maxImages: Self.maxImages)
                .map(UpstreamImage.init))
        } catch {
            result = .failure(error)
        }
        state.withLock { state in
            state.fetching = nil
            switch result {
            case .success(let images):
                state.snapshot = Snapshot(images: images, fetchedAt: Date(), version: state.snapshot.version + 1)
                state.nextFetch = .now + upstream.ttl
            case .failure(let error):
                state.snapshot.failure = "\(error)"
                state.nextFetch = .now + min(upstream.ttl, .seconds(60))
            }
        }
        switch result {
        case .success(let images): keep(images)
        case .failure(let error): failed("\(error)")
        }
    }
}
