import AsyncHTTPClient
import Foundation
import IMGAPI
import IMGAPIClient
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

    /// The ListImages query that fetches what this upstream offers.
    var query: [String] {
        guard let name = name?.raw else { return [] }
        return ["name=" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name)]
    }
}

/// An upstream's catalog as last fetched, kept for its TTL. When a fetch fails, the last
/// good catalog stays in use (stale-if-error) with the failure noted, and the next try
/// waits for the TTL (at most 60 s) rather than asking a failing upstream on every request.
final class UpstreamListing: Sendable {
    let upstream: PullThroughUpstream

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

    init(_ upstream: PullThroughUpstream, failed: @escaping @Sendable (String) -> Void) {
        self.upstream = upstream
        self.failed = failed
    }

    /// The catalog to list from. When it is due for a fetch, one fetch starts (shared by
    /// every caller) and is waited for, but at most `patience` when an older catalog can
    /// be listed meanwhile.
    func current(patience: Duration) async -> Snapshot {
        let (fetch, hasOlder) = state.withLock { state -> (Task<Void, Never>?, Bool) in
            let hasOlder = state.snapshot.fetchedAt != nil
            if let fetching = state.fetching { return (fetching, hasOlder) }
            if let next = state.nextFetch, ContinuousClock.now < next { return (nil, hasOlder) }
            let task = Task { await self.fetch() }
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
        if case .failure(let error) = result { failed("\(error)") }
    }
}
