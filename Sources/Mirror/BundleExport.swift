import Crypto
import Foundation
import IMGAPI
import ImageStore
import NIOCore
import NIOFileSystem

/// `imgapid export`: the selected images of a storage, with their whole origin chains, their
/// manifests, icons and files, written as a bundle (`docs/bundle-format.md`) for a site that
/// has no network. Each file is hashed as it is copied and must match the catalog: a damaged
/// file stops the export rather than travel.
public struct BundleExport: Sendable {
    public struct Report: Sendable {
        public var images: [String] = []
        public var files = 0
        public var bytes: Int64 = 0
    }

    public let repository: ImageRepository
    public let filter: MirrorFilter
    /// The index compressed with zstd.
    public let compressIndex: Bool

    public init(repository: ImageRepository, filter: MirrorFilter, compressIndex: Bool) {
        self.repository = repository
        self.filter = filter
        self.compressIndex = compressIndex
    }

    /// Writes the bundle to `path`: a directory when `asDirectory`, else one tar file.
    public func run(to path: String, asDirectory: Bool, progress: BundleProgress? = nil) async throws -> Report {
        var query = ListImagesQuery()
        query.state = .all
        let (records, _) = try await repository.catalog.listRecords(query, authenticated: true)
        let views = records.map { UpstreamImage(view($0)) }
        let chosen = try Self.withOrigins(filter.select(views.filter(\.isActivated)),
                                          all: Dictionary(zip(records, views).map { ($1.uuid, (record: $0, manifest: $1.manifest)) }) { first, _ in first })
        guard !chosen.isEmpty else { throw BundleError("no image here matches: nothing to export") }
        var images: [BundleIndex.Image] = []
        var stored: [String: ImageFile] = [:]
        var icons: [String: ImageIcon] = [:]
        for (record, manifest) in chosen {
            let uuid = record["uuid"]?.stringValue ?? ""
            guard let file = record.imageFiles.first else { throw BundleError("image \(uuid) has no file: nothing to export for it") }
            if let problem = try await repository.catalog.quarantineProblem(file.sha256) {
                throw BundleError("the file of image \(uuid) failed verification (\(problem)): repair it (imgapid scrub --repair-from URL) before exporting it")
            }
            var image = BundleIndex.Image(manifest: manifest, file: .init(path: BundleIndex.filePath(file.sha256), size: file.size, sha256: file.sha256))
            if let icon = try await repository.catalog.icon(uuid) {
                image.icon = .init(path: BundleIndex.iconPath(uuid), size: Int64(icon.bytes.count),
                                   sha256: Hex.encode(SHA256.hash(data: icon.bytes)))
                image.iconType = icon.contentType
                icons[uuid] = icon
            }
            stored[file.sha256] = file
            images.append(image)
        }
        let index = BundleIndex(created: Timestamp.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)), images: images)
        let text = Array(index.json.prettyPrinted().utf8)
        let indexEntry = compressIndex ? (BundleIndex.compressedName, try Zstd.compress(text)) : (BundleIndex.name, text)
        let writer = try await BundleWriter(path: path, isDirectory: asDirectory, index: indexEntry)
        var report = Report()
        let total = Dictionary(images.map { ($0.file.sha256, $0.file.size) }) { first, _ in first }.values.reduce(0, +)
        do {
            var written = Set<String>()
            for image in images {
                if let icon = icons[image.uuid], let entry = image.icon {
                    try await writer.add(entry.path, size: entry.size) { write in try await write(ByteBuffer(bytes: icon.bytes)) }
                }
                guard written.insert(image.file.sha256).inserted, let file = stored[image.file.sha256] else { continue }
                let done = report.bytes
                try await copy(file, of: image, into: writer) { bytes in progress?(done + bytes, total) }
                report.files += 1
                report.bytes += file.size
            }
            try await writer.finish()
        } catch {
            await writer.abandon()
            throw error
        }
        report.images = images.map(\.uuid)
        return report
    }

    /// Copies one stored file into the bundle, hashing it on the way: it must be the file
    /// the catalog describes.
    private func copy(_ file: ImageFile, of image: BundleIndex.Image, into writer: BundleWriter,
                      progress: (Int64) -> Void) async throws {
        let source = repository.blobs.path(forSHA256: file.sha256)
        var digests = FileDigests()
        try await writer.add(image.file.path, size: file.size) { write in
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(source)) { handle in
                for try await chunk in handle.readChunks(in: 0..<file.size, chunkLength: .mebibytes(1)) {
                    digests.update(chunk)
                    try await write(chunk)
                    progress(digests.size)
                }
            }
        }
        let found = digests.finalize()
        guard found.sha256 == file.sha256, found.sha1 == file.sha1, found.size == file.size else {
            throw BundleError("the stored file of image \(image.label) does not match the catalog (SHA-256 \(found.sha256)): "
                              + "run imgapid scrub, and repair it before exporting it; nothing was exported")
        }
    }

    private func view(_ record: JSONObject) -> JSONObject {
        ImageView.render(record, mode: repository.mode, inclAdminFields: true, includeChannels: true)
    }

    /// The selected images' records and manifests with every origin they are built on, each
    /// once, origins first.
    static func withOrigins(_ selected: [UpstreamImage], all: [String: (record: JSONObject, manifest: JSONObject)]) throws
        -> [(record: JSONObject, manifest: JSONObject)] {
        var ordered: [(record: JSONObject, manifest: JSONObject)] = []
        var placed = Set<String>()
        for image in selected {
            var chain: [(record: JSONObject, manifest: JSONObject)] = []
            var next: String? = image.uuid
            while let uuid = next, !placed.contains(uuid) {
                guard let found = all[uuid] else {
                    throw BundleError("image \(chain.last?.record["uuid"]?.stringValue ?? image.uuid) is built on image \(uuid), which is not here: it cannot be exported without it")
                }
                guard found.record["activated"]?.boolValue == true else {
                    throw BundleError("image \(image.uuid) is built on image \(uuid), which was never activated: it cannot be exported")
                }
                guard chain.count < 1000 else { throw BundleError("the origin chain of image \(image.uuid) loops") }
                chain.append(found)
                next = found.record["origin"]?.stringValue
            }
            for found in chain.reversed() {
                placed.insert(found.record["uuid"]?.stringValue ?? "")
                ordered.append(found)
            }
        }
        return ordered
    }
}
