import Foundation
import IMGAPI
import ImageStore
import Synchronization

/// The images the pull-through cache offers from its upstreams: each upstream's catalog
/// (`UpstreamListing`) put into one in-memory `Catalog`, so that ListImages' filters, order
/// and markers work on it exactly as on the local one. Where two upstreams have the same
/// uuid, the first in the config wins. Rebuilt when an upstream's catalog changes.
public final class PullThroughCatalog: Sendable {
    let listings: [UpstreamListing]
    private let mode: ServerMode
    /// Where upstream images go here, as a mirror would put them.
    let placement: ChannelPlacement

    /// The upstream images as one catalog, with what each came from.
    public struct View: Sendable {
        /// The upstream images, as the local catalog would hold mirrored copies of them.
        public let catalog: Catalog
        /// Moves on with each rebuild.
        public let generation: Int64
        /// Each upstream image, with the upstream it comes from (an index into `upstreams`).
        let offered: [String: (image: UpstreamImage, upstream: Int)]
        /// For each upstream whose last fetch failed: its URL, why, and since when its listing is from.
        public let stale: [String]

        func with(stale: [String]) -> View {
            View(catalog: catalog, generation: generation, offered: offered, stale: stale)
        }

        /// The upstream image `uuid`, and where to fetch it.
        public func image(_ uuid: String) -> (image: UpstreamImage, upstream: Int)? {
            offered[uuid]
        }
    }

    private struct Built {
        var versions: [Int]
        var view: View
    }
    private let built: Mutex<Built?> = Mutex(nil)
    private let rebuilding = Mutex<Task<View, any Error>?>(nil)

    public var upstreams: [PullThroughUpstream] { listings.map(\.upstream) }

    /// `channels`: the local server's, where upstream images are placed as a mirror would
    /// place them. `directory`: where each upstream's last good catalog is kept between runs.
    public init(upstreams: [PullThroughUpstream], mode: ServerMode, channels: [Channel], directory: URL?,
                fetchFailed: @escaping @Sendable (_ url: String, _ problem: String) -> Void) {
        listings = upstreams.map { upstream in
            UpstreamListing(upstream, keptIn: directory) { fetchFailed(upstream.url, $0) }
        }
        self.mode = mode
        placement = ChannelPlacement(local: channels, given: nil)
    }

    /// The upstream images now: each catalog fetched again when its TTL is over (waiting
    /// at most `patience` for that when an older one can be listed).
    public func view(patience: Duration = .seconds(2)) async throws -> View {
        // Between fetches (nearly always) no task is needed.
        let fresh = listings.compactMap { $0.fresh() }
        let snapshots = fresh.count == listings.count ? fresh : await current(patience: patience)
        let stale = zip(listings, snapshots).compactMap { listing, snapshot -> String? in
            guard let failure = snapshot.failure else { return nil }
            let since = snapshot.fetchedAt.map { "listing from \(Timestamp.iso8601(milliseconds: Int64($0.timeIntervalSince1970 * 1000)))" }
            let problem = failure.contains(listing.upstream.client.baseURL) ? failure : "\(listing.upstream.url): \(failure)"
            return "\(problem); \(since ?? "nothing listed from it yet")"
        }
        let versions = snapshots.map(\.version)
        if let existing = built.withLock({ $0 }), existing.versions == versions { return existing.view.with(stale: stale) }
        let task = rebuilding.withLock { task in
            if let task { return task }
            let made = Task(executorPreference: CPUExecutor.shared) { [self] in
                defer { rebuilding.withLock { $0 = nil } }
                let generation = (built.withLock { $0?.view.generation } ?? 0) + 1
                let view = try await build(snapshots, generation: generation)
                built.withLock { $0 = Built(versions: versions, view: view) }
                return view
            }
            task = made
            return made
        }
        return try await task.value.with(stale: stale)
    }

    /// Every upstream's catalog, fetched again where due (see `UpstreamListing.current`).
    private func current(patience: Duration) async -> [UpstreamListing.Snapshot] {
        await withTaskGroup(of: (Int, UpstreamListing.Snapshot).self) { group in
            for (index, listing) in listings.enumerated() {
                group.addTask { (index, await listing.current(patience: patience)) }
            }
            var snapshots = [UpstreamListing.Snapshot](repeating: .init(), count: listings.count)
            for await (index, snapshot) in group { snapshots[index] = snapshot }
            return snapshots
        }
    }

    private func build(_ snapshots: [UpstreamListing.Snapshot], generation: Int64) async throws -> View {
        var offered: [String: (image: UpstreamImage, upstream: Int)] = [:], records: [JSONObject] = []
        for (index, snapshot) in snapshots.enumerated() {
            for image in snapshot.images where offered[image.uuid] == nil {
                guard let record = record(for: image) else { continue }
                offered[image.uuid] = (image, index)
                records.append(record)
            }
        }
        let catalog = try Catalog(inMemory: mode)
        try await catalog.exclusive { [records] writer in
            try writer.transaction { for record in records { try writer.save(record) } }
        }
        return View(catalog: catalog, generation: generation, offered: offered, stale: [])
    }

    /// The record a mirrored copy of `image` would have here, with the upstream's file
    /// facts; nil for an image that cannot be copied (or placed in a channel here).
    private func record(for image: UpstreamImage) -> JSONObject? {
        guard image.unusableReason == nil, var record = try? RemoteImport.record(for: image, keepOwner: true, mode: mode) else {
            return nil
        }
        let channels: [String]?
        do { channels = try placement.channels(of: image) } catch { return nil }
        // The upstream's `digest` (`sha256:HEX`, ours) is shown again as it is for a stored copy.
        record["files"] = image.manifest["files"].map { files in
            .array((files.arrayValue ?? []).map { file in
                guard var entry = file.objectValue, let digest = entry["digest"]?.stringValue, digest.hasPrefix("sha256:") else {
                    return file
                }
                entry["sha256"] = .string(String(digest.dropFirst(7)))
                return .object(entry)
            })
        }
        record["state"] = .string(ImageState.derive(activated: true, disabled: image.state == ImageState.disabled.rawValue).rawValue)
        if image.manifest["icon"] == .bool(true) { record["icon"] = .bool(true) }
        if let channels { record["channels"] = .array(channels.map(JSONValue.string)) }
        return record
    }
}
