import AsyncHTTPClient
import IMGAPI
import IMGAPIClient
import ImageStore

/// `imgapid import-bundle --to URL`: the images of a bundle into a running server through
/// its API, as `imgadm publish` would send them (AdminImportImage, AddImageFile,
/// AddImageIcon, ActivateImage). Every file and icon the missing images need
/// is read and checked against the index and the manifests first, so a damaged bundle sends
/// nothing; then each image is sent, origins first, and the server checks each file again
/// as it arrives. The server's import rules apply: outside `dc` mode it sets the owner to
/// the zero uuid, and channels are its own. Images the server has, activated, are passed
/// by; one an interrupted run left unactivated is finished.
public struct BundleUpload: Sendable {
    public let client: IMGAPIClient

    public init(client: IMGAPIClient) {
        self.client = client
    }

    /// `progress` counts each file twice: read to check it, then sent.
    public func run(from path: String, progress: BundleProgress? = nil) async throws -> [BundleImport.Outcome] {
        let reader = try await BundleReader.open(path)
        let index = try await reader.index { uuid in try await client.image(uuid) != nil }
        var outcomes: [BundleImport.Outcome] = []
        var missing: [(image: BundleIndex.Image, there: JSONObject?)] = []
        for image in index.images {
            let there = try await client.image(image.uuid)
            if let state = there?["state"]?.stringValue, state == "active" || state == "disabled" {
                outcomes.append(.init(uuid: image.uuid, label: image.label, result: .present, bytes: 0))
            } else {
                missing.append((image, there))
            }
        }
        if let first = missing.first {
            do { try await client.checkWriteAccess(first.image.uuid) } catch {
                throw BundleError("\(client.baseURL) does not accept writes from this host: \(error); sign with --user and --key, or import with --storage")
            }
        }
        let total = 2 * missing.map(\.image.file.size).reduce(0, +)
        var done: Int64 = 0
        var checked = Set<String>()
        var icons: [String: ImageIcon] = [:]
        for (image, _) in missing {
            do {
                icons[image.uuid] = try await reader.icon(of: image)
                if checked.insert(image.file.sha256).inserted { try await reader.checkFile(of: image) }
                done += image.file.size
                progress?(done, total)
            } catch {
                throw BundleError("image \(image.label): \(error); nothing from the bundle was imported")
            }
        }
        for (image, there) in missing {
            do {
                let before = done
                try await send(image, there: there, icon: icons[image.uuid], from: reader) { bytes in progress?(before + bytes, total) }
                done += image.file.size
            } catch {
                throw BundleError("image \(image.label) could not be sent: \(error); the images before it were imported, run the import again to go on")
            }
            outcomes.append(.init(uuid: image.uuid, label: image.label, result: .imported, bytes: image.file.size))
        }
        let order = Dictionary(index.images.enumerated().map { ($1.uuid, $0) }) { first, _ in first }
        return outcomes.sorted { order[$0.uuid] ?? 0 < order[$1.uuid] ?? 0 }
    }

    /// Sends one image; `there` is what the server has of it from an earlier, interrupted run.
    private func send(_ image: BundleIndex.Image, there: JSONObject?, icon: ImageIcon?, from reader: BundleReader,
                      progress: @escaping RemoteImport.Progress) async throws {
        let upstream = image.upstream
        if there == nil {
            var manifest = image.manifest
            for ignored in ["state", "files", "channels", "icon"] { manifest[ignored] = nil }
            _ = try await client.importImage(manifest)
        }
        if there?["files"]?.arrayValue?.isEmpty ?? true {
            _ = try await reader.withFile(of: image) { chunks in
                try await client.addFile(image.uuid, compression: upstream.compression ?? "none", sha1: upstream.sha1,
                                         datasetGUID: upstream.datasetGUID, body: .stream(ProgressReportingBody(base: chunks, progress: progress),
                                                                      length: .known(image.file.size)))
            }
        }
        if let icon {
            try await client.setIcon(image.uuid, contentType: icon.contentType, bytes: icon.bytes)
        }
        // The manifest's `disabled`, kept by the import, makes a disabled image of it.
        _ = try await client.activate(image.uuid)
    }
}
