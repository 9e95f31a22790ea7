import IMGAPI
import ImageStore
import ZFSStream

/// `imgapid import-bundle`: the images of a bundle (`docs/bundle-format.md`) into the
/// local repository, keeping their uuids, owners, channels and states. Every file and icon
/// it needs is read from the bundle into `uploads/` and checked against the index and the
/// manifests (size, SHA-256, SHA-1, and as a ZFS stream with its lineage) before any image
/// lands; a bundle with one bad byte adds nothing. Then the images land one by one, origins
/// first, each in one catalog transaction. Images already here are passed by, so a second
/// import changes nothing, and an import that was interrupted picks up where it stopped.
public struct BundleImport: Sendable {
    public struct Outcome: Sendable {
        public enum Result: String, Sendable {
            case imported, present
        }

        public var uuid: String
        public var label: String
        public var result: Result
        /// Bytes read from the bundle for the image's file (0 when the same file was here, or
        /// came with an image before it).
        public var bytes: Int64
    }

    public let repository: ImageRepository
    public let validateStreams: Bool
    public let placement: ChannelPlacement

    public init(repository: ImageRepository, validateStreams: Bool, placement: ChannelPlacement) {
        self.repository = repository
        self.validateStreams = validateStreams
        self.placement = placement
    }

    /// One image checked and ready to land.
    private struct Prepared {
        var image: BundleIndex.Image
        var record: JSONObject
        var file: ImageRepository.ImportedFile
        var stream: ImageFile.StreamCheck?
        var icon: ImageIcon?
        var bytes: Int64
    }

    public func run(from path: String, progress: BundleProgress? = nil) async throws -> [Outcome] {
        let reader = try await BundleReader.open(path)
        let index = try await reader.index { uuid in try await repository.catalog.image(uuid) != nil }
        var outcomes: [Outcome] = []
        var missing: [BundleIndex.Image] = []
        for image in index.images {
            if try await repository.catalog.image(image.uuid) != nil {
                outcomes.append(Outcome(uuid: image.uuid, label: image.label, result: .present, bytes: 0))
            } else {
                missing.append(image)
            }
        }
        var staged: [String: StagedBlob] = [:]
        var prepared: [Prepared] = []
        let total = Dictionary(missing.map { ($0.file.sha256, $0.file.size) }) { first, _ in first }.values.reduce(0, +)
        do {
            var guids: [String: String] = [:]
            for image in missing {
                do {
                    let done = staged.values.map(\.digests.size).reduce(0, +)
                    prepared.append(try await prepare(image, from: reader, staged: &staged, guids: &guids) { bytes in
                        progress?(done + bytes, total)
                    })
                } catch {
                    throw BundleError("image \(image.label): \(error); nothing from the bundle was imported")
                }
            }
        } catch {
            for blob in staged.values { await repository.blobs.discard(blob) }
            throw error
        }
        var landed = Set<String>()
        for (position, item) in prepared.enumerated() {
            var file = item.file
            // A file two images share is installed by the first; the second finds it stored.
            if case .staged(let blob, _) = file, landed.contains(blob.digests.sha256) {
                guard let stored = try await repository.catalog.file(withSHA1: blob.digests.sha1) else {
                    throw BundleError("image \(item.image.label): the file it shares with an image imported before it went away")
                }
                file = .existing(stored)
            }
            do {
                _ = try await repository.addImported(item.record, file: file, compression: item.image.upstream.compression ?? "none",
                                                     datasetGUID: item.image.upstream.datasetGUID, stream: item.stream, icon: item.icon)
            } catch {
                let unused = prepared[(position + 1)...].compactMap { later -> StagedBlob? in
                    guard case .staged(let blob, _) = later.file, !landed.contains(blob.digests.sha256),
                          blob.digests.sha256 != item.image.file.sha256 else { return nil }
                    return blob
                }
                for blob in unused { await repository.blobs.discard(blob) }
                throw BundleError("image \(item.image.label) could not be added: \(error); the images before it were imported, run the import again to go on")
            }
            if case .staged(let blob, _) = item.file { landed.insert(blob.digests.sha256) }
            outcomes.append(Outcome(uuid: item.image.uuid, label: item.image.label, result: .imported, bytes: item.bytes))
        }
        let order = Dictionary(index.images.enumerated().map { ($1.uuid, $0) }) { first, _ in first }
        return outcomes.sorted { order[$0.uuid] ?? 0 < order[$1.uuid] ?? 0 }
    }

    /// Reads and checks what `image` needs from the bundle: its icon, and its file unless
    /// the same file is stored here already.
    private func prepare(_ image: BundleIndex.Image, from reader: BundleReader, staged: inout [String: StagedBlob],
                         guids: inout [String: String], progress: @escaping RemoteImport.Progress) async throws -> Prepared {
        let upstream = image.upstream
        var record = try RemoteImport(repository: repository, validateStreams: validateStreams).record(for: upstream, keepOwner: true)
        if let channels = try placement.channels(of: upstream) { record["channels"] = .array(channels.map(JSONValue.string)) }
        let icon = try await reader.icon(of: image)
        let entry = image.file
        if let sha1 = upstream.sha1, let stored = try await repository.catalog.file(withSHA1: sha1), stored.size == entry.size,
           stored.sha256 == entry.sha256, try await repository.catalog.quarantineProblem(stored.sha256) == nil {
            if let guid = stored.snapshotGUID { guids[image.uuid] = guid }
            return Prepared(image: image, record: record, file: .existing(stored), stream: nil, icon: icon, bytes: 0)
        }
        let blob: StagedBlob
        var bytes: Int64 = 0
        if let already = staged[entry.sha256] {
            blob = already
        } else {
            bytes = entry.size
            blob = try await reader.withFile(of: image) { chunks in
                try await repository.blobs.receive(ProgressReportingBody(base: chunks, progress: progress), maxSize: entry.size,
                                                   expectedSize: entry.size)
            }
            staged[entry.sha256] = blob
            try BundleReader.check(blob.digests, of: image)
        }
        let stream = try await streamCheck(blob, of: image, guids: &guids)
        return Prepared(image: image, record: record, file: .staged(blob, expected: .init(sha1: upstream.sha1, sha256: entry.sha256, size: entry.size)),
                        stream: stream, icon: icon, bytes: bytes)
    }

    /// For an image type that holds a ZFS send stream, the check of its file and of its
    /// lineage to its origin, earlier in the bundle or here.
    private func streamCheck(_ blob: StagedBlob, of image: BundleIndex.Image, guids: inout [String: String]) async throws -> ImageFile.StreamCheck? {
        let upstream = image.upstream
        guard ImageFileValidator.streamTypes.contains(upstream.manifest["type"]?.stringValue ?? "") else { return nil }
        guard validateStreams else { return ImageFile.StreamCheck(validated: false, toGUID: nil) }
        let facts = try await ImageFileValidator.check(fileAt: blob.path, compression: ImageCompression(rawValue: upstream.compression ?? "none") ?? .none)
        var originGUID: String?
        if let origin = upstream.origin {
            originGUID = guids[origin]
            if originGUID == nil { originGUID = try await repository.catalog.snapshotGUID(of: origin) }
        }
        try facts.checkLineage(image: image.uuid, origin: upstream.origin, originGUID: originGUID, datasetGUID: upstream.datasetGUID)
        guids[image.uuid] = facts.toGUID
        return ImageFile.StreamCheck(validated: true, toGUID: facts.toGUID)
    }
}
