import IMGAPI
import ImageStore
import ZFSStream

/// `imgapid import-bundle`: the images of a bundle (`docs/bundle-format.md`) into the
/// local repository, keeping their uuids, owners, channels and states. Every file and icon
/// it needs is read from the bundle into `partial/` (keyed by SHA-1, as mirrors keep their
/// downloads) and checked against the index and the manifests (size, SHA-256, SHA-1, and as
/// a ZFS stream with its lineage) before any image lands; a bundle with one bad byte adds
/// nothing, and what it staged is removed. Then the images land one by one, origins first,
/// each in one catalog transaction. Images already here are passed by, so a second import
/// changes nothing; an import that was interrupted finds the bytes it kept, hashes them again
/// and reads only the rest from the bundle.
public struct BundleImport: Sendable {
    public struct Outcome: Sendable {
        public enum Result: String, Sendable {
            case imported, present
        }

        public var uuid: String
        public var label: String
        public var result: Result
        /// Bytes read from the bundle for the image's file (0 when the same file was here,
        /// came with an image before it, or was kept whole by an interrupted import).
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
        var file: File
        var stream: ImageFile.StreamCheck?
        var icon: ImageIcon?
        var bytes: Int64
    }

    private enum File {
        /// The same file, already stored.
        case existing(ImageFile)
        /// Read from the bundle and kept under `partial/` with this key (its SHA-1).
        case kept(key: String, digests: FileDigests.Result)
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
        var kept: [String: FileDigests.Result] = [:]
        var prepared: [Prepared] = []
        let total = Dictionary(missing.map { ($0.file.sha256, $0.file.size) }) { first, _ in first }.values.reduce(0, +)
        do {
            var guids: [String: String] = [:]
            for image in missing {
                do {
                    let done = kept.values.map(\.size).reduce(0, +)
                    prepared.append(try await prepare(image, from: reader, kept: &kept, guids: &guids) { bytes in
                        progress?(done + bytes, total)
                    })
                } catch {
                    throw BundleError("image \(image.label): \(error); nothing from the bundle was imported")
                }
            }
        } catch {
            for key in kept.keys { repository.blobs.discardPartial(key) }
            throw error
        }
        for item in prepared {
            let file: ImageRepository.ImportedFile
            switch item.file {
            case .existing(let stored): file = .existing(stored)
            case .kept(let key, let digests):
                if let stored = try await repository.catalog.file(withSHA1: key), stored.sha256 == digests.sha256 {
                    file = .existing(stored)  // a file two images share, installed with the first
                } else {
                    let expected = ImageRepository.FileExpectation(sha1: key, sha256: digests.sha256, size: digests.size)
                    file = .staged(try repository.blobs.stagePartial(key, digests: digests), expected: expected)
                }
            }
            do {
                _ = try await repository.addImported(item.record, file: file, compression: item.image.upstream.compression ?? "none",
                                                     datasetGUID: item.image.upstream.datasetGUID, stream: item.stream, icon: item.icon)
            } catch {
                throw BundleError("image \(item.image.label) could not be added: \(error); the images before it were imported, run the import again to go on")
            }
            outcomes.append(Outcome(uuid: item.image.uuid, label: item.image.label, result: .imported, bytes: item.bytes))
        }
        let order = Dictionary(index.images.enumerated().map { ($1.uuid, $0) }) { first, _ in first }
        return outcomes.sorted { order[$0.uuid] ?? 0 < order[$1.uuid] ?? 0 }
    }

    /// Reads and checks what `image` needs from the bundle: its icon, and its file unless
    /// the same file is stored here already. A file kept by an earlier, interrupted import is
    /// hashed again and only its missing bytes are read.
    private func prepare(_ image: BundleIndex.Image, from reader: BundleReader, kept: inout [String: FileDigests.Result],
                         guids: inout [String: String], progress: @escaping RemoteImport.Progress) async throws -> Prepared {
        let upstream = image.upstream
        var record = try RemoteImport(repository: repository, validateStreams: validateStreams).record(for: upstream, keepOwner: true)
        if let channels = try placement.channels(of: upstream) { record["channels"] = .array(channels.map(JSONValue.string)) }
        let icon = try await reader.icon(of: image)
        let entry = image.file
        let key = upstream.sha1 ?? ""
        if let stored = try await repository.catalog.file(withSHA1: key), stored.size == entry.size,
           stored.sha256 == entry.sha256, try await repository.catalog.quarantineProblem(stored.sha256) == nil {
            if let guid = stored.snapshotGUID { guids[image.uuid] = guid }
            return Prepared(image: image, record: record, file: .existing(stored), stream: nil, icon: icon, bytes: 0)
        }
        var bytes: Int64 = 0
        if kept[key] == nil {
            let start = repository.blobs.keptBytes(key, upTo: entry.size)
            bytes = entry.size - start
            kept[key] = try await reader.withFile(of: image, from: start) { chunks in
                try await repository.blobs.keepPartial(key, from: start, ProgressReportingBody(base: chunks, progress: progress),
                                                       maxSize: entry.size)
            }
        }
        let digests = kept[key]!
        try BundleReader.check(digests, of: image)
        let stream = try await streamCheck(repository.blobs.partialPath(key), of: image, guids: &guids)
        return Prepared(image: image, record: record, file: .kept(key: key, digests: digests), stream: stream, icon: icon, bytes: bytes)
    }

    /// For an image type that holds a ZFS send stream, the check of its file and of its
    /// lineage to its origin, earlier in the bundle or here.
    private func streamCheck(_ path: String, of image: BundleIndex.Image, guids: inout [String: String]) async throws -> ImageFile.StreamCheck? {
        let upstream = image.upstream
        guard ImageFileValidator.streamTypes.contains(upstream.manifest["type"]?.stringValue ?? "") else { return nil }
        guard validateStreams else { return ImageFile.StreamCheck(validated: false, toGUID: nil) }
        let facts = try await ImageFileValidator.check(fileAt: path, compression: ImageCompression(rawValue: upstream.compression ?? "none") ?? .none)
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
