import Foundation
import IMGAPI
import IMGAPIClient
import ImageStore

/// One run of `imgapid mirror`: for each upstream, list its catalog (paged as imgadm
/// pages), select images, and copy each one missing here with its origin chain, base
/// first, keeping upstream identity, into the local channels `ChannelPlacement` chooses.
/// Images mirrored earlier from the same upstream get its changes to their mutable
/// fields. Failed images are reported and do not stop the rest.
public struct MirrorRun: Sendable {
    public struct Options: Sendable {
        /// Upstream IMGAPI URLs, each optionally with `?channel=`.
        public var sources: [String]
        public var filter: MirrorFilter
        /// Sent upstream as `?channel=` (overrides a channel in the URL), and the local
        /// channel copies go to, on a server with channels.
        public var channel: String?
        /// The local server's channels; empty when it has none.
        public var localChannels: [Channel]
        /// Whether files of ZFS image types are checked as send streams.
        public var validateStreams = true
        /// Images copied at the same time.
        public var concurrency: Int
        public var dryRun: Bool
        /// Delete local images mirrored from a source that the source no longer has.
        public var prune: Bool
        /// Attempts per image for transient failures (network, 5xx), with growing pauses.
        public var attempts: Int
        public var retryPause: Duration

        public init(sources: [String], filter: MirrorFilter = MirrorFilter(), channel: String? = nil, localChannels: [Channel] = [],
                    concurrency: Int = 2, dryRun: Bool = false, prune: Bool = false, attempts: Int = 4,
                    retryPause: Duration = .seconds(1)) {
            self.sources = sources
            self.filter = filter
            self.channel = channel
            self.localChannels = localChannels
            self.concurrency = concurrency
            self.dryRun = dryRun
            self.prune = prune
            self.attempts = attempts
            self.retryPause = retryPause
        }
    }

    let repository: ImageRepository
    let options: Options
    let events: @Sendable (Event) -> Void
    let fileLocks = KeyedLock()

    public init(repository: ImageRepository, options: Options, events: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.repository = repository
        self.options = options
        self.events = events
    }

    var placement: ChannelPlacement { ChannelPlacement(local: options.localChannels, given: options.channel) }

    public func run() async -> Report {
        var report = Report()
        if let problem = ChannelPlacement.problem(local: options.localChannels, given: options.channel) {
            report.failedSources = options.sources.map { ($0, problem) }
            return report
        }
        for source in options.sources {
            do {
                let client = try client(for: source)
                report.outcomes += try await mirror(client)
                if options.prune { report.outcomes += try await prune(client) }
            } catch {
                report.failedSources.append((source, "\(error)"))
                events(.sourceFailed(source: source, error: "\(error)"))
            }
        }
        return report
    }

    func client(for source: String) throws -> IMGAPIClient {
        var url = source
        if let channel = options.channel, var components = URLComponents(string: source) {
            components.queryItems = (components.queryItems ?? []).filter { $0.name != "channel" } + [URLQueryItem(name: "channel", value: channel)]
            url = components.string ?? source
        }
        return try IMGAPIClient(url: url, userAgent: "imgapid-mirror")
    }

    /// The source's identity in the catalog: its URL as given, channel included.
    func sourceKey(_ client: IMGAPIClient) -> String {
        client.baseURL + (client.channel.map { "?channel=\($0)" } ?? "")
    }

    private func mirror(_ client: IMGAPIClient) async throws -> [Outcome] {
        var listed = try await retrying { try await client.listImages(query: ["state=all"]) }.map(UpstreamImage.init)
        // Images named with --uuid that the listing hides (public servers list only active
        // images to anonymous callers) are asked for one by one.
        for uuid in options.filter.uuids where !listed.contains(where: { $0.uuid == uuid }) {
            if let manifest = try await retrying({ try await client.image(uuid) }) { listed.append(UpstreamImage(manifest)) }
        }
        // Images still being created upstream are left for a later run, unless named.
        let selected = options.filter.select(listed.filter { $0.isActivated || options.filter.uuids.contains($0.uuid) })
        let importer = RemoteImport(repository: repository, validateStreams: options.validateStreams)
        let mirroredHere = Set(try await repository.catalog.mirroredImages(from: sourceKey(client)))
        let cachedHere = Set(try await repository.catalog.cachedImages().map(\.uuid))
        var present: [(upstream: UpstreamImage, local: StoredImage)] = []
        var chains: [[UpstreamImage]] = []
        var planned = Set<String>()
        var placements: [String: [String]] = [:]
        var failures: [Outcome] = []
        for image in selected {
            if let local = try await repository.catalog.image(image.uuid) {
                present.append((image, local))
                continue
            }
            do {
                let whole = try await retrying {
                    try await importer.missingChain(of: image, from: client, requireActiveOrigins: false)
                }
                try place(whole, into: &placements)
                let chain = whole.filter { !planned.contains($0.uuid) }
                planned.formUnion(chain.map(\.uuid))
                chains.append(chain)
            } catch {
                failures.append(outcome(image, client, .failed, error: "\(error)"))
            }
        }
        let toCopy = chains.joined()
        events(.listed(source: client.baseURL, selected: selected.count, toCopy: toCopy.count,
                       bytes: toCopy.compactMap(\.size).reduce(0, +)))
        var outcomes = failures
        failures.forEach { events(.finished($0)) }
        for (upstream, local) in present {
            // Fetched by the pull-through cache: from now on mirrored, so never evicted.
            if cachedHere.contains(upstream.uuid), !options.dryRun {
                try await repository.adoptMirrored(upstream.uuid, from: sourceKey(client))
            }
            let result = mirroredHere.contains(upstream.uuid) ? await refresh(local, from: upstream, client, importer)
                                                               : outcome(upstream, client, .present)
            events(.finished(result))
            outcomes.append(result)
        }
        if options.dryRun {
            let planned = toCopy.map { outcome($0, client, .wouldCopy, bytes: $0.size ?? 0) }
            planned.forEach { events(.finished($0)) }
            return outcomes + planned
        }
        outcomes += await copy(Array(toCopy), from: client, importer: importer, placements: placements)
        return outcomes
    }

    /// Copies `images` (origins before their children, as the chains list them),
    /// `concurrency` at a time, in waves: an image starts only after its origin (when this
    /// run copies it too, maybe from another chain) is stored, and fails without a try when
    /// that origin could not be copied.
    private func copy(_ images: [UpstreamImage], from client: IMGAPIClient, importer: RemoteImport,
                      placements: [String: [String]]) async -> [Outcome] {
        var waves: [[UpstreamImage]] = []
        var waveOf: [String: Int] = [:]
        for image in images {
            let wave = image.origin.flatMap { waveOf[$0] }.map { $0 + 1 } ?? 0
            waveOf[image.uuid] = wave
            if wave == waves.count { waves.append([]) }
            waves[wave].append(image)
        }
        var outcomes: [Outcome] = []
        var failed = Set<String>()
        for wave in waves {
            let results = await withTaskGroup(of: Outcome.self) { group in
                var pending = wave.makeIterator()
                var results: [Outcome] = []
                func startNext() {
                    guard let image = pending.next() else { return }
                    let failedOrigin = image.origin.flatMap { failed.contains($0) ? $0 : nil }
                    let channels = placements[image.uuid]
                    group.addTask {
                        await copyImage(image, from: client, importer: importer, channels: channels, failedOrigin: failedOrigin)
                    }
                }
                for _ in 0..<max(1, options.concurrency) { startNext() }
                while let finished = await group.next() {
                    results.append(finished)
                    startNext()
                }
                return results
            }
            failed.formUnion(results.filter { $0.result == .failed }.map(\.uuid))
            outcomes += results
        }
        return outcomes
    }

    private func copyImage(_ image: UpstreamImage, from client: IMGAPIClient, importer: RemoteImport, channels: [String]?,
                           failedOrigin: String?) async -> Outcome {
        let result: Outcome
        if let failedOrigin {
            result = outcome(image, client, .failed, error: "its origin \(failedOrigin) could not be copied")
        } else {
            do {
                // One copy per file content at a time: the second finds the first's file stored.
                _ = try await fileLocks.withLock(image.sha1 ?? image.uuid) {
                    try await retrying {
                        try await importer.copy(image, from: client, keepOwner: true, channels: channels,
                                                mirroredFrom: sourceKey(client), resumable: true) { bytes in
                            events(.received(uuid: image.uuid, bytes: bytes))
                        }
                    }
                }
                result = outcome(image, client, .copied, bytes: image.size ?? 0)
            } catch let error as IMGAPIError where error.code == "ImageUuidAlreadyExists" {
                result = outcome(image, client, .present)
            } catch {
                result = outcome(image, client, .failed, error: (error as? IMGAPIError)?.message ?? "\(error)")
            }
        }
        events(.finished(result))
        return result
    }

    /// Local images mirrored from this source that it no longer has (confirmed one by one
    /// with GetImage, so an image merely hidden from the listing stays), newest first so
    /// children go before their origins.
    private func prune(_ client: IMGAPIClient) async throws -> [Outcome] {
        var gone: [StoredImage] = []
        for uuid in try await repository.catalog.mirroredImages(from: sourceKey(client)) {
            guard try await retrying({ try await client.image(uuid) }) == nil,
                  let local = try await repository.catalog.image(uuid) else { continue }
            gone.append(local)
        }
        gone.sort { Self.published($0) > Self.published($1) }
        var outcomes: [Outcome] = []
        for image in gone {
            let record = UpstreamImage(image.record)
            var result = outcome(record, client, options.dryRun ? .wouldPrune : .pruned)
            if !options.dryRun {
                do { try await repository.delete(image.uuid) } catch {
                    result = outcome(record, client, .failed, error: "not pruned: \((error as? IMGAPIError)?.message ?? "\(error)")")
                }
            }
            events(.finished(result))
            outcomes.append(result)
        }
        return outcomes
    }

    static func published(_ image: StoredImage) -> Int64 {
        image.record["published_at"]?.stringValue.flatMap(Timestamp.milliseconds(fromISO8601:)) ?? 0
    }

    func outcome(_ image: UpstreamImage, _ client: IMGAPIClient, _ result: Outcome.Result, bytes: Int64 = 0,
                         error: String? = nil) -> Outcome {
        Outcome(uuid: image.uuid, name: image.manifest["name"]?.stringValue ?? "", version: image.manifest["version"]?.stringValue ?? "",
                source: sourceKey(client), result: result, bytes: bytes, error: error)
    }

    /// Runs `body` up to `options.attempts` times while it fails transiently (network, 5xx),
    /// pausing 1, 2, 4… × `retryPause` in between.
    func retrying<T>(_ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch {
                guard attempt < options.attempts, RemoteImport.isTransient(error) else { throw error }
                try await Task.sleep(for: options.retryPause * (1 << (attempt - 1)))
                attempt += 1
            }
        }
    }
}
