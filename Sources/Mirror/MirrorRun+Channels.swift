import IMGAPI
import IMGAPIClient
import ImageStore

/// Where a run's copies go on a server with channels, and how images mirrored before are
/// brought up to date.
extension MirrorRun {
    /// Records the local channels of each image of `chain` (base first): its own, and those
    /// of every image after it, which must be importable from each of its channels.
    func place(_ chain: [UpstreamImage], into placements: inout [String: [String]]) throws {
        var needed: [String] = []
        for image in chain.reversed() {
            // An origin without a channel of its own here still goes where its children go.
            let own = needed.isEmpty ? try placement.channels(of: image) : (try? placement.channels(of: image)) ?? []
            guard let own else { return }
            let channels = ChannelPlacement.unique(own + needed + (placements[image.uuid] ?? []))
            placements[image.uuid] = channels
            needed = channels
        }
    }

    /// Brings an image mirrored earlier up to date with upstream: its mutable fields, state,
    /// icon and channels, without fetching its file again.
    func refresh(_ local: StoredImage, from image: UpstreamImage, _ client: IMGAPIClient,
                         _ importer: RemoteImport) async -> Outcome {
        do {
            let upstream = try importer.record(for: image, keepOwner: true)
            let channels = (try? placement.channels(of: image)) ?? nil
            let wantsIcon = image.manifest["icon"] == .bool(true)
            let iconChanges = wantsIcon != (local.record["icon"] == .bool(true))
            if options.dryRun {
                let changed = iconChanges || ImageRepository.refreshed(local.record, from: upstream, channels: channels) != local.record
                return outcome(image, client, changed ? .wouldUpdate : .present)
            }
            var icon = ImageRepository.IconRefresh.keep
            if iconChanges {
                icon = wantsIcon ? .set(try await retrying { try await importer.icon(of: image, from: client) }) : .remove
            }
            let changed = try await repository.refresh(image.uuid, from: upstream, channels: channels, icon: icon)
            return outcome(image, client, changed ? .updated : .present)
        } catch {
            return outcome(image, client, .failed, error: "not refreshed: \((error as? IMGAPIError)?.message ?? "\(error)")")
        }
    }
}
